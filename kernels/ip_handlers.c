/* The handlers: most tile entries are below what a row already holds, so each handler scans a row with
 * one of four vector primitives (max, first index at or above a bound, count at or above a bound, the
 * indices at or above a bound) and does scalar work only at the rare hits. The primitives come in plain
 * C (the reference), AVX2 and AVX-512, picked by cpu_isa_active(); all three give the same answers
 * (max: the same value, up to the sign of a zero, which no caller sees: argmax only compares it). */
#include "kernels/ip_handlers.h"

#include <math.h>
#include <stdlib.h>

#include "core/cpu.h"
#include "kernels/f16.h"
#include "kernels/topk_exact.h"

#if defined(__x86_64__) || defined(__i386__)
#define IP_X86 1
#include <immintrin.h>
#else
#define IP_X86 0
#endif

/* The row scans, over s[0, n). */
typedef struct {
  float (*max)(const float *s, int64_t n);
  /* the first j in [from, n) with s[j] >= t, or n */
  int64_t (*first_ge)(const float *s, int64_t from, int64_t n, float t);
  int64_t (*count_ge)(const float *s, int64_t n, float t);
  /* base + j for the j in [*from, n) with s[j] >= t, j != skip, in order, at most cap of them into out;
   * *from becomes the column to go on from (n when the row is done). Returns how many. */
  int (*collect_ge)(const float *s, int64_t *from, int64_t n, float t, int64_t skip, int64_t base, int64_t *out,
                    int cap);
} row_scan;

/* Appends base + (j + b) for each bit b of mask, in order, but column skip, to out[*k...] up to cap:
 * returns the column not taken when out is full, else -1. */
static inline int64_t take_bits(uint64_t mask, int64_t j, int64_t skip, int64_t base, int64_t *out, int *k, int cap)
{
  while (mask) {
    int64_t jj = j + __builtin_ctzll(mask);
    mask &= mask - 1;
    if (jj == skip) continue;
    if (*k == cap) return jj;
    out[(*k)++] = base + jj;
  }
  return -1;
}

static int collect_ge_c(const float *s, int64_t *from, int64_t n, float t, int64_t skip, int64_t base, int64_t *out,
                        int cap)
{
  int k = 0;
  for (int64_t j = *from; j < n; j++) {
    if (!(s[j] >= t) || j == skip) continue;
    if (k == cap) {
      *from = j;
      return k;
    }
    out[k++] = base + j;
  }
  *from = n;
  return k;
}

static float max_c(const float *s, int64_t n)
{
  float m = -INFINITY;
  for (int64_t j = 0; j < n; j++)
    if (s[j] > m) m = s[j];
  return m;
}

static int64_t first_ge_c(const float *s, int64_t from, int64_t n, float t)
{
  for (int64_t j = from; j < n; j++)
    if (s[j] >= t) return j;
  return n;
}

static int64_t count_ge_c(const float *s, int64_t n, float t)
{
  int64_t c = 0;
  for (int64_t j = 0; j < n; j++) c += s[j] >= t;
  return c;
}

static const row_scan scan_c = {max_c, first_ge_c, count_ge_c, collect_ge_c};

#if IP_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* max(v, m) takes m when v is NaN (MAXPS returns its second operand on a NaN), as max_c skips it. */
AVX2 static float max_avx2(const float *s, int64_t n)
{
  __m256 m0 = _mm256_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    m0 = _mm256_max_ps(_mm256_loadu_ps(s + j), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(s + j + 8), m1);
    m2 = _mm256_max_ps(_mm256_loadu_ps(s + j + 16), m2);
    m3 = _mm256_max_ps(_mm256_loadu_ps(s + j + 24), m3);
  }
  for (; j + 8 <= n; j += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(s + j), m0);
  m0 = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m0), _mm256_extractf128_ps(m0, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  float m = _mm_cvtss_f32(h);
  for (; j < n; j++)
    if (s[j] > m) m = s[j];
  return m;
}

AVX2 static int64_t first_ge_avx2(const float *s, int64_t from, int64_t n, float t)
{
  __m256 vt = _mm256_set1_ps(t);
  int64_t j = from;
  for (; j + 32 <= n; j += 32) {
    unsigned k0 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), vt, _CMP_GE_OQ));
    unsigned k1 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 8), vt, _CMP_GE_OQ));
    unsigned k2 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 16), vt, _CMP_GE_OQ));
    unsigned k3 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 24), vt, _CMP_GE_OQ));
    if (k0 | k1 | k2 | k3) return j + __builtin_ctz(k0 | k1 << 8 | k2 << 16 | k3 << 24);
  }
  for (; j + 8 <= n; j += 8) {
    unsigned k = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), vt, _CMP_GE_OQ));
    if (k) return j + __builtin_ctz(k);
  }
  for (; j < n; j++)
    if (s[j] >= t) return j;
  return n;
}

/* A true comparison is -1 in a lane: subtracting it counts. */
AVX2 static int64_t count_ge_avx2(const float *s, int64_t n, float t)
{
  __m256 vt = _mm256_set1_ps(t);
  int64_t j = 0, total = 0;
  while (n - j >= 16) {
    /* 32-bit lane counters: flush at least every 2^30 elements */
    int64_t end = j + ((n - j) / 16 * 16 < ((int64_t)1 << 30) ? (n - j) / 16 * 16 : ((int64_t)1 << 30));
    __m256i c0 = _mm256_setzero_si256(), c1 = c0;
    for (; j < end; j += 16) {
      c0 = _mm256_sub_epi32(c0, _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(s + j), vt, _CMP_GE_OQ)));
      c1 = _mm256_sub_epi32(c1, _mm256_castps_si256(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 8), vt, _CMP_GE_OQ)));
    }
    __m256i c = _mm256_add_epi32(c0, c1);
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    total += _mm_cvtsi128_si32(h);
  }
  for (; j < n; j++) total += s[j] >= t;
  return total;
}

/* 32 columns a step, their comparisons in one mask; most steps have none. */
AVX2 static int collect_ge_avx2(const float *s, int64_t *from, int64_t n, float t, int64_t skip, int64_t base,
                                int64_t *out, int cap)
{
  __m256 vt = _mm256_set1_ps(t);
  int k = 0;
  int64_t j = *from, stop;
  for (; j + 32 <= n; j += 32) {
    unsigned k0 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j), vt, _CMP_GE_OQ));
    unsigned k1 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 8), vt, _CMP_GE_OQ));
    unsigned k2 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 16), vt, _CMP_GE_OQ));
    unsigned k3 = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + j + 24), vt, _CMP_GE_OQ));
    uint64_t m = k0 | k1 << 8 | k2 << 16 | (uint64_t)k3 << 24;
    if (m && (stop = take_bits(m, j, skip, base, out, &k, cap)) >= 0) {
      *from = stop;
      return k;
    }
  }
  *from = j;
  return k + collect_ge_c(s, from, n, t, skip, base, out + k, cap - k);
}

static const row_scan scan_avx2 = {max_avx2, first_ge_avx2, count_ge_avx2, collect_ge_avx2};

#define AVX512 __attribute__((target("avx512f")))

/* lanes [0, r) of 16, for 0 <= r < 16 */
static inline __mmask16 tail_mask(int64_t r) { return (__mmask16)((1u << r) - 1u); }

/* As in max_avx2, the loaded values go first so that a NaN is skipped. */
AVX512 static float max_avx512(const float *s, int64_t n)
{
  __m512 m0 = _mm512_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
  int64_t j = 0;
  for (; j + 64 <= n; j += 64) {
    m0 = _mm512_max_ps(_mm512_loadu_ps(s + j), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(s + j + 16), m1);
    m2 = _mm512_max_ps(_mm512_loadu_ps(s + j + 32), m2);
    m3 = _mm512_max_ps(_mm512_loadu_ps(s + j + 48), m3);
  }
  for (; j + 16 <= n; j += 16) m0 = _mm512_max_ps(_mm512_loadu_ps(s + j), m0);
  if (j < n) {
    __mmask16 k = tail_mask(n - j);
    m1 = _mm512_mask_max_ps(m1, k, _mm512_maskz_loadu_ps(k, s + j), m1);
  }
  return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)));
}

AVX512 static int64_t first_ge_avx512(const float *s, int64_t from, int64_t n, float t)
{
  __m512 vt = _mm512_set1_ps(t);
  int64_t j = from;
  for (; j + 64 <= n; j += 64) {
    __mmask16 k0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), vt, _CMP_GE_OQ);
    __mmask16 k1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 16), vt, _CMP_GE_OQ);
    __mmask16 k2 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 32), vt, _CMP_GE_OQ);
    __mmask16 k3 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 48), vt, _CMP_GE_OQ);
    if (k0 | k1 | k2 | k3) {
      uint64_t k = (uint64_t)k0 | (uint64_t)k1 << 16 | (uint64_t)k2 << 32 | (uint64_t)k3 << 48;
      return j + __builtin_ctzll(k);
    }
  }
  for (; j + 16 <= n; j += 16) {
    __mmask16 k = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), vt, _CMP_GE_OQ);
    if (k) return j + __builtin_ctz(k);
  }
  if (j < n) {
    __mmask16 r = tail_mask(n - j);
    __mmask16 k = _mm512_mask_cmp_ps_mask(r, _mm512_maskz_loadu_ps(r, s + j), vt, _CMP_GE_OQ);
    if (k) return j + __builtin_ctz(k);
  }
  return n;
}

AVX512 static int64_t count_ge_avx512(const float *s, int64_t n, float t)
{
  __m512 vt = _mm512_set1_ps(t);
  __m512i one = _mm512_set1_epi32(1), c0 = _mm512_setzero_si512(), c1 = c0;
  int64_t j = 0, total = 0;
  while (j < n) {
    /* 32-bit lane counters: flush at least every 2^30 elements */
    int64_t end = n - j > ((int64_t)1 << 30) ? j + ((int64_t)1 << 30) : n;
    for (; j + 32 <= end; j += 32) {
      c0 = _mm512_mask_add_epi32(c0, _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), vt, _CMP_GE_OQ), c0,
                                 one);
      c1 = _mm512_mask_add_epi32(
          c1, _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 16), vt, _CMP_GE_OQ), c1, one);
    }
    for (; j < end; j += 16) {
      __mmask16 r = end - j < 16 ? tail_mask(end - j) : (__mmask16)0xffff;
      __mmask16 k = _mm512_mask_cmp_ps_mask(r, _mm512_maskz_loadu_ps(r, s + j), vt, _CMP_GE_OQ);
      c0 = _mm512_mask_add_epi32(c0, k, c0, one);
    }
    total += _mm512_reduce_add_epi32(_mm512_add_epi32(c0, c1));
    c0 = c1 = _mm512_setzero_si512();
    j = end;
  }
  return total;
}

/* 64 columns a step, as collect_ge_avx2. */
AVX512 static int collect_ge_avx512(const float *s, int64_t *from, int64_t n, float t, int64_t skip, int64_t base,
                                    int64_t *out, int cap)
{
  __m512 vt = _mm512_set1_ps(t);
  int k = 0;
  int64_t j = *from, stop;
  for (; j + 64 <= n; j += 64) {
    __mmask16 k0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j), vt, _CMP_GE_OQ);
    __mmask16 k1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 16), vt, _CMP_GE_OQ);
    __mmask16 k2 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 32), vt, _CMP_GE_OQ);
    __mmask16 k3 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + j + 48), vt, _CMP_GE_OQ);
    uint64_t m = (uint64_t)k0 | (uint64_t)k1 << 16 | (uint64_t)k2 << 32 | (uint64_t)k3 << 48;
    if (m && (stop = take_bits(m, j, skip, base, out, &k, cap)) >= 0) {
      *from = stop;
      return k;
    }
  }
  *from = j;
  return k + collect_ge_c(s, from, n, t, skip, base, out + k, cap - k);
}

static const row_scan scan_avx512 = {max_avx512, first_ge_avx512, count_ge_avx512, collect_ge_avx512};
#endif

static const row_scan *scan(void)
{
#if IP_X86
  cpu_isa isa = cpu_isa_active();
  if (isa >= CPU_ISA_AVX512) return &scan_avx512;
  if (isa >= CPU_ISA_AVX2) return &scan_avx2;
#endif
  return &scan_c;
}

/* ---- argmax ---- */

void ip_argmax_init(ip_argmax_ctx *c, const ma_rows *x, const ma_rows *y, int64_t d, int64_t *best,
                    float *best_sim)
{
  c->best = best;
  c->best_sim = best_sim;
  c->x = x;
  c->y = y;
  c->d = d;
  c->rescored = 0;
  c->band = topk_exact_band(d);
  for (int64_t i = 0; i < x->rows; i++) {
    best[i] = -1;
    best_sim[i] = -INFINITY;
  }
}

int64_t ip_first_ge(const float *s, int64_t from, int64_t n, float t) { return scan()->first_ge(s, from, n, t); }

/* A GEMM similarity below reach_of(v, band) is more than band below v, so its exact value is below v. */
float ip_reach_of(float v, float band)
{
  double t = (double)v - (double)band;
  float f = (float)t;
  return (double)f > t ? nextafterf(f, -INFINITY) : f;
}

/* Rescores (row i, column j) exactly and keeps it if it beats row i's best (ties: lower column); x row i
 * is row xi of xs. */
static void argmax_consider(ip_argmax_ctx *c, const ma_rows *xs, int64_t xi, int64_t i, int64_t j)
{
  float e = topk_exact_dot(xs, xi, c->y, j, c->d);
  c->rescored++;
  if (e > c->best_sim[i] || (e == c->best_sim[i] && j < c->best[i])) {
    c->best_sim[i] = e;
    c->best[i] = j;
  }
}

/* A column can win only if its exact similarity reaches the row's best exact one, so only if its GEMM
 * similarity reaches best - band. The tile's GEMM maximum is rescored first: its exact value raises the
 * bar for the rest of the row. The columns still within the bar (usually none after SGEMM, a few after
 * int8 screening) are rescored together, several dots at once (topk_exact_dots), in batches of
 * ARGMAX_BATCH, the bar raised between batches: some more dots than one at a time would compute, the
 * same winner (the largest exact value, ties to the lower column, among candidates that include it).
 * A float16 x row (of at most ARGMAX_XF elements) is widened once for all its dots, not once per dot
 * or group: the exact dot of its float copy has the same bits. */
enum { ARGMAX_BATCH = 32, ARGMAX_XF = 1024 };

static ma_status argmax_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj,
                             const float *s, int64_t lds)
{
  ip_argmax_ctx *c = ctx;
  const row_scan *sc = scan();
  float band = c->band, e[ARGMAX_BATCH], xf[ARGMAX_XF];
  int64_t js[ARGMAX_BATCH];
  ma_rows xr;
  for (int64_t i = 0; i < mi; i++) {
    const float *r = s + i * lds;
    int64_t row = i0 + i;
    float m = sc->max(r, nj);
    if (!(m >= ip_reach_of(c->best_sim[row], band))) continue; /* also when m is NaN */
    int64_t jm = sc->first_ge(r, 0, nj, m);
    if (jm == nj) continue; /* m is -INFINITY from a row of NaNs */
    const ma_rows *xs = c->x;
    int64_t xi = row;
    if (xs->type == MA_F16 && c->d <= ARGMAX_XF) {
      f16_to_f32((const uint16_t *)xs->data + row * xs->ld, xf, c->d);
      xr = (ma_rows){xf, MA_F32, 1, c->d};
      xs = &xr;
      xi = 0;
    }
    argmax_consider(c, xs, xi, row, j0 + jm);
    for (int64_t j = 0; j < nj;) {
      int n = sc->collect_ge(r, &j, nj, ip_reach_of(c->best_sim[row], band), jm, j0, js, ARGMAX_BATCH);
      topk_exact_dots(xs, xi, c->y, js, n, c->d, e);
      c->rescored += n;
      for (int t = 0; t < n; t++)
        if (e[t] > c->best_sim[row] || (e[t] == c->best_sim[row] && js[t] < c->best[row])) {
          c->best_sim[row] = e[t];
          c->best[row] = js[t];
        }
    }
  }
  return MA_OK;
}

ip_handler ip_argmax_handler(ip_argmax_ctx *c) { return (ip_handler){argmax_tile, c}; }

/* ---- top-k ---- */

/* Whether (s, id) goes before (s2, id2): more similar, or as similar with a lower id; an empty slot
 * (id < 0) goes after everything. */
static inline int topk_before(float s, int64_t id, float s2, int64_t id2)
{
  if (id < 0) return 0;
  if (id2 < 0) return 1;
  return s > s2 || (s == s2 && id < id2);
}

void topk_init(topk_ctx *c, int64_t n, int k, int64_t *ids, float *sims, int64_t *count,
               float threshold)
{
  c->k = k;
  c->ids = ids;
  c->sims = sims;
  c->y_ids = NULL;
  c->id_offset = 0;
  c->threshold = threshold;
  c->count = count;
  for (int64_t i = 0; i < n * (int64_t)k; i++) {
    ids[i] = -1;
    sims[i] = -INFINITY;
  }
  if (count)
    for (int64_t i = 0; i < n; i++) count[i] = 0;
}

/* Puts (s, id) into the sorted list if it goes before the last entry. */
static void topk_insert(int k, int64_t *ids, float *sims, int64_t id, float s)
{
  if (!topk_before(s, id, sims[k - 1], ids[k - 1])) return;
  int p = k - 1;
  for (; p > 0 && topk_before(s, id, sims[p - 1], ids[p - 1]); p--) {
    sims[p] = sims[p - 1];
    ids[p] = ids[p - 1];
  }
  sims[p] = s;
  ids[p] = id;
}

static ma_status topk_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float *s,
                           int64_t lds)
{
  topk_ctx *c = ctx;
  const row_scan *sc = scan();
  int k = c->k;
  if (k < 1) return ma_fail(MA_ERR_USAGE, "topk: k = %d, want >= 1", k);
  for (int64_t i = 0; i < mi; i++) {
    const float *r = s + i * lds;
    int64_t *ids = c->ids + (i0 + i) * k;
    float *sims = c->sims + (i0 + i) * k;
    if (c->count) c->count[i0 + i] += sc->count_ge(r, nj, c->threshold);
    /* >= the k-th similarity: a candidate; topk_insert settles ties by id */
    for (int64_t j = sc->first_ge(r, 0, nj, sims[k - 1]); j < nj;
         j = sc->first_ge(r, j + 1, nj, sims[k - 1])) {
      int64_t id = c->y_ids ? c->y_ids[j0 + j] : c->id_offset + j0 + j;
      topk_insert(k, ids, sims, id, r[j]);
    }
  }
  return MA_OK;
}

ip_handler topk_handler(topk_ctx *c) { return (ip_handler){topk_tile, c}; }

void topk_merge(int k, const int64_t *ida, const float *sa, const int64_t *idb, const float *sb,
                int64_t *out_id, float *out_s)
{
  int a = 0, b = 0;
  for (int p = 0; p < k; p++) {
    /* a + b = p < k, so neither list runs out */
    if (topk_before(sa[a], ida[a], sb[b], idb[b])) {
      out_id[p] = ida[a];
      out_s[p] = sa[a++];
    } else {
      out_id[p] = idb[b];
      out_s[p] = sb[b++];
    }
  }
}

/* ---- range ---- */

void ip_range_init(ip_range_ctx *c, float threshold, int self)
{
  c->threshold = threshold;
  c->self = self;
  c->pairs = NULL;
  c->n = c->cap = 0;
}

void ip_range_free(ip_range_ctx *c)
{
  free(c->pairs);
  c->pairs = NULL;
  c->n = c->cap = 0;
}

static ma_status range_push(ip_range_ctx *c, int64_t a, int64_t b, float sim)
{
  if (c->n == c->cap) {
    int64_t cap = c->cap ? 2 * c->cap : 1024;
    ip_pair *p = realloc(c->pairs, (size_t)cap * sizeof *p);
    if (!p)
      return ma_fail(MA_ERR_RUNTIME, "out of memory growing the pair list to %lld pairs",
                     (long long)cap);
    c->pairs = p;
    c->cap = cap;
  }
  c->pairs[c->n++] = (ip_pair){a, b, sim};
  return MA_OK;
}

static ma_status range_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj,
                            const float *s, int64_t lds)
{
  ip_range_ctx *c = ctx;
  const row_scan *sc = scan();
  for (int64_t i = 0; i < mi; i++) {
    const float *r = s + i * lds;
    int64_t from = c->self && i0 + i + 1 > j0 ? i0 + i + 1 - j0 : 0;
    for (int64_t j = sc->first_ge(r, from, nj, c->threshold); j < nj;
         j = sc->first_ge(r, j + 1, nj, c->threshold))
      MA_CALL(range_push(c, i0 + i, j0 + j, r[j]));
  }
  return MA_OK;
}

ip_handler ip_range_handler(ip_range_ctx *c) { return (ip_handler){range_tile, c}; }
