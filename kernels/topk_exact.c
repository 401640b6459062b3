/* Exact top-k: GEMM candidates, rescored in a fixed order (see kernels/topk_exact.h for why the result
 * is provably that of ip_ref_topk). The exact dot has a scalar and an AVX2 version, picked by
 * cpu_isa_active(), that add in the same order and so give the same bits. */
#include "kernels/topk_exact.h"

#include <math.h>
#include <stdlib.h>

#include "core/cpu.h"
#include "kernels/f16.h"
#include "kernels/ip_handlers.h"
#include "kernels/quant.h"

#if defined(__x86_64__) || defined(__i386__)
#define TOPK_X86 1
#include <immintrin.h>
#else
#define TOPK_X86 0
#endif

/* Elements converted per step of an exact dot product (stack buffers); a multiple of DOT_LANES, so
 * that element c always lands in lane c % DOT_LANES. */
enum { DOT_STEP = 256, DOT_LANES = 16 };

/* Candidates kept per row beyond k: enough that exact ties or near-ties at the k-th place rarely send a
 * row to the full recomputation. */
static int margin(int k) { return k > 8 ? k : 8; }

/* Row r of rows as floats: the data itself (float32) or a conversion of [c0, c0 + n) into buf. */
static const float *row_part(const ma_rows *rows, int64_t r, int64_t c0, int64_t n, float *buf)
{
  if (rows->type == MA_F32) return (const float *)rows->data + r * rows->ld + c0;
  f16_to_f32((const uint16_t *)rows->data + r * rows->ld + c0, buf, n);
  return buf;
}

/* s[c % DOT_LANES] += a[c] * b[c] in double for c = 0, 1, ..., n-1: the order that defines the exact dot
 * (kernels/ip_ref.c), the reference of the vector versions below. A product of two floats is exact in
 * double, so a fused multiply-add rounds it exactly as a multiply and an add do: the vector versions
 * may fuse. */
static void lanes_ref(const float *a, const float *b, int64_t n, double *s)
{
  for (int64_t c = 0; c < n; c++) s[c % DOT_LANES] += (double)a[c] * (double)b[c];
}

#if TOPK_X86
/* The 16 lanes are s0..s3 (4 each). A tail of n % 16 elements goes through zero-padded copies: the
 * missing lanes add 0 * 0, which leaves a sum unchanged (a lane is never -0: it starts at +0, and
 * rounding to nearest gives -0 only for (-0) + (-0)). */
__attribute__((target("avx2,fma,f16c"))) static void lanes_avx2(const float *a, const float *b, int64_t n,
                                                                double *s)
{
  __m256d s0 = _mm256_loadu_pd(s), s1 = _mm256_loadu_pd(s + 4), s2 = _mm256_loadu_pd(s + 8),
          s3 = _mm256_loadu_pd(s + 12);
  float ta[DOT_LANES] = {0}, tb[DOT_LANES] = {0};
  for (int64_t c = 0; c < n; c += DOT_LANES) {
    const float *pa = a + c, *pb = b + c;
    if (n - c < DOT_LANES) {
      for (int64_t l = 0; l < n - c; l++) {
        ta[l] = pa[l];
        tb[l] = pb[l];
      }
      pa = ta;
      pb = tb;
    }
    s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(pa)), _mm256_cvtps_pd(_mm_loadu_ps(pb)), s0);
    s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(pa + 4)), _mm256_cvtps_pd(_mm_loadu_ps(pb + 4)), s1);
    s2 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(pa + 8)), _mm256_cvtps_pd(_mm_loadu_ps(pb + 8)), s2);
    s3 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm_loadu_ps(pa + 12)), _mm256_cvtps_pd(_mm_loadu_ps(pb + 12)), s3);
  }
  _mm256_storeu_pd(s, s0);
  _mm256_storeu_pd(s + 4, s1);
  _mm256_storeu_pd(s + 8, s2);
  _mm256_storeu_pd(s + 12, s3);
}
#endif

float topk_exact_dot(const ma_rows *x, int64_t i, const ma_rows *y, int64_t j, int64_t d)
{
  float e;
  topk_exact_dots(x, i, y, &j, 1, d, &e);
  return e;
}

/* ---- several dots of one x row at once ---- */

/* Dots computed per group: a lone dot waits on the latency of its 16 chains of additions, so a group
 * shares one conversion of the x row and its dots run interleaved, two at a time (lanes_group_avx2). */
enum { DOTS_GROUP = 4 };

/* lanes_ref for g dots of a against b[0..g), s[t * DOT_LANES ...] the sums of dot t. */
static void lanes_group_ref(const float *a, const float *const *b, int g, int64_t n, double *s)
{
  for (int t = 0; t < g; t++) lanes_ref(a, b[t], n, s + t * DOT_LANES);
}

#if TOPK_X86
/* lanes_avx2 for two dots at a time (8 accumulators of the 16 registers), the last one of an odd g alone. */
__attribute__((target("avx2,fma,f16c"))) static void lanes_group_avx2(const float *a, const float *const *b, int g,
                                                                      int64_t n, double *s)
{
  int t = 0;
  for (; t + 2 <= g; t += 2) {
    double *s0 = s + t * DOT_LANES, *s1 = s0 + DOT_LANES;
    __m256d u0 = _mm256_loadu_pd(s0), u1 = _mm256_loadu_pd(s0 + 4), u2 = _mm256_loadu_pd(s0 + 8),
            u3 = _mm256_loadu_pd(s0 + 12), v0 = _mm256_loadu_pd(s1), v1 = _mm256_loadu_pd(s1 + 4),
            v2 = _mm256_loadu_pd(s1 + 8), v3 = _mm256_loadu_pd(s1 + 12);
    float ta[DOT_LANES] = {0}, tb[DOT_LANES] = {0}, tc[DOT_LANES] = {0};
    for (int64_t c = 0; c < n; c += DOT_LANES) {
      const float *pa = a + c, *pb = b[t] + c, *pc = b[t + 1] + c;
      if (n - c < DOT_LANES) {
        for (int64_t l = 0; l < n - c; l++) {
          ta[l] = pa[l];
          tb[l] = pb[l];
          tc[l] = pc[l];
        }
        pa = ta;
        pb = tb;
        pc = tc;
      }
      __m256d a0 = _mm256_cvtps_pd(_mm_loadu_ps(pa)), a1 = _mm256_cvtps_pd(_mm_loadu_ps(pa + 4)),
              a2 = _mm256_cvtps_pd(_mm_loadu_ps(pa + 8)), a3 = _mm256_cvtps_pd(_mm_loadu_ps(pa + 12));
      u0 = _mm256_fmadd_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(pb)), u0);
      u1 = _mm256_fmadd_pd(a1, _mm256_cvtps_pd(_mm_loadu_ps(pb + 4)), u1);
      u2 = _mm256_fmadd_pd(a2, _mm256_cvtps_pd(_mm_loadu_ps(pb + 8)), u2);
      u3 = _mm256_fmadd_pd(a3, _mm256_cvtps_pd(_mm_loadu_ps(pb + 12)), u3);
      v0 = _mm256_fmadd_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(pc)), v0);
      v1 = _mm256_fmadd_pd(a1, _mm256_cvtps_pd(_mm_loadu_ps(pc + 4)), v1);
      v2 = _mm256_fmadd_pd(a2, _mm256_cvtps_pd(_mm_loadu_ps(pc + 8)), v2);
      v3 = _mm256_fmadd_pd(a3, _mm256_cvtps_pd(_mm_loadu_ps(pc + 12)), v3);
    }
    _mm256_storeu_pd(s0, u0);
    _mm256_storeu_pd(s0 + 4, u1);
    _mm256_storeu_pd(s0 + 8, u2);
    _mm256_storeu_pd(s0 + 12, u3);
    _mm256_storeu_pd(s1, v0);
    _mm256_storeu_pd(s1 + 4, v1);
    _mm256_storeu_pd(s1 + 8, v2);
    _mm256_storeu_pd(s1 + 12, v3);
  }
  if (t < g) lanes_avx2(a, b[t], n, s + t * DOT_LANES);
}
#endif

/* The fold of the 16 sums and the rounding to float: 16 -> 8 -> 4 -> 2 -> 1 (s[l] += s[l + w]). */
static float fold(double *s)
{
  for (int w = DOT_LANES / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; l++) s[l] += s[l + w];
  return (float)s[0];
}

/* Whole dots (a row in one part, n elements): e[t] = <a, b[t]> in the exact order, for t < g. */
static void dots_whole_ref(const float *a, const float *const *b, int g, int64_t n, float *e)
{
  for (int t = 0; t < g; t++) {
    double s[DOT_LANES] = {0};
    lanes_ref(a, b[t], n, s);
    e[t] = fold(s);
  }
}

#if TOPK_X86
/* fold() on the sums held as s0..s3 (lanes 0-3, 4-7, 8-11, 12-15): each step adds whole registers or
 * halves lane by lane, the additions fold() makes, in its order. */
__attribute__((target("avx2,fma,f16c"))) static inline float fold_avx2(__m256d s0, __m256d s1, __m256d s2,
                                                                       __m256d s3)
{
  s0 = _mm256_add_pd(s0, s2); /* w = 8 */
  s1 = _mm256_add_pd(s1, s3);
  s0 = _mm256_add_pd(s0, s1); /* w = 4 */
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s0), _mm256_extractf128_pd(s0, 1)); /* w = 2 */
  return (float)_mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));                /* w = 1 */
}

/* p[c0 .. c0 + 16) as four double registers r[0..3], through a zero-padded copy t for a tail of
 * n - c0 < 16. */
__attribute__((target("avx2,fma,f16c"))) static inline void load16(const float *p, int64_t c0, int64_t n, float *t,
                                                                   __m256d *r)
{
  p += c0;
  if (n - c0 < DOT_LANES) {
    for (int64_t l = 0; l < DOT_LANES; l++) t[l] = l < n - c0 ? p[l] : 0.0f;
    p = t;
  }
  for (int q = 0; q < 4; q++) r[q] = _mm256_cvtps_pd(_mm_loadu_ps(p + 4 * q));
}

/* dots_whole_ref, two dots at a time with their sums in registers and folded there (no store, no scalar
 * fold: a third faster than lanes_group_avx2 and fold() on rows of 256). An odd last dot runs as a pair
 * with itself: a lone dot waits on its additions' latency, so the second costs little. A tail's missing
 * lanes add 0 * 0 (see lanes_avx2). */
__attribute__((target("avx2,fma,f16c"))) static void dots_whole_avx2(const float *a, const float *const *b, int g,
                                                                     int64_t n, float *e)
{
  float ta[DOT_LANES], tb[DOT_LANES], tc[DOT_LANES];
  for (int t = 0; t < g; t += 2) {
    const float *b0 = b[t], *b1 = t + 1 < g ? b[t + 1] : b0;
    __m256d u0 = _mm256_setzero_pd(), u1 = u0, u2 = u0, u3 = u0, v0 = u0, v1 = u0, v2 = u0, v3 = u0;
    for (int64_t c = 0; c < n; c += DOT_LANES) {
      __m256d va[4], vb[4];
      load16(a, c, n, ta, va);
      load16(b0, c, n, tb, vb);
      u0 = _mm256_fmadd_pd(va[0], vb[0], u0);
      u1 = _mm256_fmadd_pd(va[1], vb[1], u1);
      u2 = _mm256_fmadd_pd(va[2], vb[2], u2);
      u3 = _mm256_fmadd_pd(va[3], vb[3], u3);
      load16(b1, c, n, tc, vb);
      v0 = _mm256_fmadd_pd(va[0], vb[0], v0);
      v1 = _mm256_fmadd_pd(va[1], vb[1], v1);
      v2 = _mm256_fmadd_pd(va[2], vb[2], v2);
      v3 = _mm256_fmadd_pd(va[3], vb[3], v3);
    }
    e[t] = fold_avx2(u0, u1, u2, u3);
    if (t + 1 < g) e[t + 1] = fold_avx2(v0, v1, v2, v3);
  }
}
#endif

void topk_exact_dots(const ma_rows *x, int64_t i, const ma_rows *y, const int64_t *js, int64_t n, int64_t d,
                     float *e)
{
  /* The AVX2 versions serve the AVX-512 path too: a 2 x 8-lane dot measured 30-40% slower on Zen 5, a
   * 4-dot group in 8-lane registers ~10% slower. */
  int avx2 = TOPK_X86 && cpu_isa_active() >= CPU_ISA_AVX2;
  float xb[DOT_STEP], yb[DOTS_GROUP][DOT_STEP];
  const float *b[DOTS_GROUP];
  int64_t step = x->type == MA_F32 && y->type == MA_F32 ? d : DOT_STEP;
  if (d <= step) { /* whole dots: x converted once for all of them, the sums folded in registers */
    void (*whole)(const float *, const float *const *, int, int64_t, float *) = dots_whole_ref;
#if TOPK_X86
    if (avx2) whole = dots_whole_avx2;
#endif
    const float *a = row_part(x, i, 0, d, xb);
    for (int64_t t0 = 0; t0 < n; t0 += DOTS_GROUP) {
      int g = n - t0 < DOTS_GROUP ? (int)(n - t0) : DOTS_GROUP;
      for (int t = 0; t < g; t++) b[t] = row_part(y, js[t0 + t], 0, d, yb[t]);
      whole(a, b, g, d, e + t0);
    }
    return;
  }
  /* float16 rows longer than DOT_STEP, in parts: x's part converted once per group, each y row's per dot */
  void (*lanes)(const float *, const float *const *, int, int64_t, double *) = lanes_group_ref;
#if TOPK_X86
  if (avx2) lanes = lanes_group_avx2;
#endif
  for (int64_t t0 = 0; t0 < n; t0 += DOTS_GROUP) {
    int g = n - t0 < DOTS_GROUP ? (int)(n - t0) : DOTS_GROUP;
    double s[DOTS_GROUP * DOT_LANES] = {0};
    for (int64_t c0 = 0; c0 < d; c0 += step) {
      int64_t len = d - c0 < step ? d - c0 : step;
      const float *a = row_part(x, i, c0, len, xb);
      for (int t = 0; t < g; t++) b[t] = row_part(y, js[t0 + t], c0, len, yb[t]);
      lanes(a, b, g, len, s);
    }
    for (int t = 0; t < g; t++) e[t0 + t] = fold(s + t * DOT_LANES);
  }
}

float topk_exact_band(int64_t d)
{
  /* |fl(sum) - sum| <= gamma_d * sum |x_c y_c| <= ~d * 2^-24 for unit rows (any summation order, products
   * rounded or fused), plus 2^-24 for rounding the exact value to float; doubled for rows whose norm
   * is 1 up to float16 rounding. */
  return (float)((double)(d + 2) * 0x1p-23);
}

int64_t topk_exact_memory(int64_t m, int64_t d, int k)
{
  int64_t w = k + margin(k);
  int64_t lists = m * w * (int64_t)(sizeof(int64_t) + sizeof(float)) + 2 * w * 16;
  int64_t tile = (int64_t)IP_BM_DEFAULT * (IP_BN_DEFAULT + 32) * 4;
  int64_t widened = (IP_BM_DEFAULT + IP_BN_DEFAULT) * d * 4 + (m * d * 4 < IP_CHUNK_BYTES ? m * d * 4 : IP_CHUNK_BYTES);
  int64_t pairs = 2 * (int64_t)IP_BM_DEFAULT * IP_BN_DEFAULT * (int64_t)sizeof(ip_pair);
  return lists + tile + widened + pairs;
}

/* (sim, id) before (sim2, id2): more similar, or as similar with a lower id; empty (id < 0) last. */
static int before(float s, int64_t id, float s2, int64_t id2)
{
  if (id < 0) return 0;
  if (id2 < 0) return 1;
  return s > s2 || (s == s2 && id < id2);
}

/* Inserts (id, s) into the sorted list of k if it goes before the last entry. */
static void insert(int k, int64_t *ids, float *sims, int64_t id, float s)
{
  if (!before(s, id, sims[k - 1], ids[k - 1])) return;
  int p = k - 1;
  for (; p > 0 && before(s, id, sims[p - 1], ids[p - 1]); p--) {
    ids[p] = ids[p - 1];
    sims[p] = sims[p - 1];
  }
  ids[p] = id;
  sims[p] = s;
}

void topk_merge_inplace(int64_t k, const int64_t *ia, const float *sa, int64_t *ib, float *sb)
{
  /* How many of each list make the k; then place them from position k - 1 down. An entry of b only
   * moves to a position at or after its own, so none is overwritten before it is placed. */
  int64_t na = 0, nb = 0;
  while (na + nb < k) {
    if (before(sa[na], ia[na], sb[nb], ib[nb])) na++;
    else nb++;
  }
  for (int64_t p = k - 1; p >= 0; p--) {
    if (nb == 0 || (na > 0 && !before(sa[na - 1], ia[na - 1], sb[nb - 1], ib[nb - 1]))) {
      na--;
      ib[p] = ia[na];
      sb[p] = sa[na];
    } else {
      nb--;
      ib[p] = ib[nb];
      sb[p] = sb[nb];
    }
  }
}

typedef struct {
  ip_handler topk, range;
  ip_range_ctx *band; /* pairs with GEMM similarity >= threshold - band, reset every tile */
  const ma_rows *x, *y;
  int64_t d;
  float threshold, certain; /* certain = threshold + band */
  int64_t *count, rescored;
} exact_ctx;

static ma_status exact_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float *s, int64_t lds)
{
  exact_ctx *c = ctx;
  MA_CALL(c->topk.tile(c->topk.ctx, i0, j0, mi, nj, s, lds));
  if (!c->count) return MA_OK;
  c->band->n = 0;
  MA_CALL(c->range.tile(c->range.ctx, i0, j0, mi, nj, s, lds));
  for (int64_t p = 0; p < c->band->n; p++) {
    const ip_pair *q = &c->band->pairs[p];
    if (q->sim >= c->certain) {
      c->count[q->a]++;
    } else {
      c->rescored++;
      c->count[q->a] += topk_exact_dot(c->x, q->a, c->y, q->b, c->d) >= c->threshold;
    }
  }
  return MA_OK;
}

/* Row i's exact list by the obvious scan of every y row. */
static void full_row(const ma_rows *x, int64_t i, const ma_rows *y, int64_t d, const int64_t *y_ids, int k,
                     int64_t *ids, float *sims)
{
  for (int p = 0; p < k; p++) {
    ids[p] = -1;
    sims[p] = -INFINITY;
  }
  for (int64_t j = 0; j < y->rows; j++) insert(k, ids, sims, y_ids ? y_ids[j] : j, topk_exact_dot(x, i, y, j, d));
}

/* ---- screened top-k: the lists kept exact in the handler ---- */

/* With int8 tiles the band is hundreds of times SGEMM's, and a list of k + margin candidates by screened
 * value would often fall short (many items within the band of the k-th): instead the handler keeps
 * each row's exact list itself. An entry is rescored when its screened value reaches the row's exact
 * k-th minus the band; any other entry's exact value is below that k-th, which only rises, so it cannot
 * enter the list (ties included: it is strictly below). A row whose list is not yet full first rescores
 * its k best entries of the tile by screened value, so that the bar starts high. */
typedef struct {
  const ma_rows *x, *y;
  int64_t d;
  const int64_t *y_ids;
  int k;
  float band, threshold, lo, certain; /* lo: the count's candidates; certain: counted without rescoring */
  int64_t *ids, *count;
  float *sims, *tmp;
  int64_t rescored;
} screen_ctx;

/* The k-th largest of v[0, n) (n > k >= 1), reordering v. */
static float kth_largest(float *v, int64_t n, int64_t k)
{
  int64_t lo = 0, hi = n - 1, want = k - 1;
  while (lo < hi) {
    float p = v[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] > p) i++;
      while (v[j] < p) j--;
      if (i <= j) {
        float t = v[i];
        v[i++] = v[j];
        v[j--] = t;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return v[want];
  }
  return v[want];
}

static void screen_consider(screen_ctx *c, int64_t row, int64_t col)
{
  c->rescored++;
  float e = topk_exact_dot(c->x, row, c->y, col, c->d);
  insert(c->k, c->ids + row * c->k, c->sims + row * c->k, c->y_ids ? c->y_ids[col] : col, e);
}

static ma_status screen_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float *s, int64_t lds)
{
  screen_ctx *c = ctx;
  int k = c->k;
  for (int64_t i = 0; i < mi; i++) {
    const float *r = s + i * lds;
    int64_t row = i0 + i;
    float *os = c->sims + row * k;
    if (c->count)
      for (int64_t j = ip_first_ge(r, 0, nj, c->lo); j < nj; j = ip_first_ge(r, j + 1, nj, c->lo)) {
        if (r[j] >= c->certain) {
          c->count[row]++;
        } else {
          c->rescored++;
          c->count[row] += topk_exact_dot(c->x, row, c->y, j0 + j, c->d) >= c->threshold;
        }
      }
    float top = -INFINITY; /* entries at or above it are rescored first */
    if (c->ids[row * k + k - 1] < 0 && nj > k) {
      for (int64_t j = 0; j < nj; j++) c->tmp[j] = r[j];
      top = kth_largest(c->tmp, nj, k);
      for (int64_t j = ip_first_ge(r, 0, nj, top); j < nj; j = ip_first_ge(r, j + 1, nj, top))
        screen_consider(c, row, j0 + j);
    }
    float reach = ip_reach_of(os[k - 1], c->band);
    for (int64_t j = ip_first_ge(r, 0, nj, reach); j < nj; j = ip_first_ge(r, j + 1, nj, reach)) {
      if (r[j] >= top && top > -INFINITY) continue; /* rescored above */
      screen_consider(c, row, j0 + j);
      reach = ip_reach_of(os[k - 1], c->band);
    }
  }
  return MA_OK;
}

/* topk_exact on screened tiles (b->screen set). */
static ma_status topk_screened(const ma_rows *x, const ma_rows *y, int64_t d, const int64_t *y_ids, int k,
                               float threshold, int64_t *ids, float *sims, int64_t *count, const ip_blocking *b,
                               topk_exact_stats *stats)
{
  ma_status st = MA_OK;
  float band = b->screen->band;
  double cert = (double)threshold + (double)band;
  float certain = (float)cert;
  if ((double)certain < cert) certain = nextafterf(certain, INFINITY);
  screen_ctx c = {x, y, d, y_ids, k, band, threshold, ip_reach_of(threshold, band), certain, ids, count, sims,
                  NULL, 0};
  for (int64_t i = 0; i < x->rows * (int64_t)k; i++) {
    ids[i] = -1;
    sims[i] = -INFINITY;
  }
  if (count)
    for (int64_t i = 0; i < x->rows; i++) count[i] = 0;
  int64_t bn = b->bn ? b->bn : IP_BN_DEFAULT, bm = b->bm ? b->bm : IP_BM_DEFAULT;
  MA_ALLOC(c.tmp, bn > bm ? bn : bm);
  ip_handler h = {screen_tile, &c};
  MA_TRY(ip_search(x, y, d, &h, b));
  if (stats) stats->rescored += c.rescored;
done:
  free(c.tmp);
  return st;
}

ma_status topk_exact(const ma_rows *x, const ma_rows *y, int64_t d, const int64_t *y_ids, int k, float threshold,
                     int64_t *ids, float *sims, int64_t *count, const ip_blocking *b, topk_exact_stats *stats)
{
  ma_status st = MA_OK;
  int64_t *cid = NULL, *rid = NULL;
  float *csim = NULL, *rsim = NULL;
  ip_range_ctx band;
  ip_range_init(&band, 0, 0);
  if (k < 1 || d < 1 || !x || !y || (x->rows > 0 && (!ids || !sims)))
    return ma_fail(MA_ERR_USAGE, "topk_exact: k %d, d %lld or a NULL argument", k, (long long)d);
  if (b && b->screen && isfinite(b->screen->band))
    return topk_screened(x, y, d, y_ids, k, threshold, ids, sims, count, b, stats);
  int w = k + margin(k);
  float bw = topk_exact_band(d);
  MA_ALLOC(cid, x->rows * w);
  MA_ALLOC(csim, x->rows * w);
  MA_ALLOC(rid, w);
  MA_ALLOC(rsim, w);

  /* Candidates by GEMM similarity, as y row numbers. */
  topk_ctx tk;
  topk_init(&tk, x->rows, w, cid, csim, NULL, threshold);
  ip_range_init(&band, threshold - bw, 0);
  if (count)
    for (int64_t i = 0; i < x->rows; i++) count[i] = 0;
  exact_ctx ec = {topk_handler(&tk), ip_range_handler(&band), &band, x, y, d, threshold, threshold + bw, count, 0};
  ip_handler h = {exact_tile, &ec};
  MA_TRY(ip_search(x, y, d, &h, b));

  int64_t fallback = 0;
  for (int64_t i = 0; i < x->rows; i++) {
    const int64_t *ci = cid + i * w;
    const float *cs = csim + i * w;
    int64_t *oi = ids + i * k;
    float *os = sims + i * k;
    for (int p = 0; p < w; p++) {
      rid[p] = -1;
      rsim[p] = -INFINITY;
    }
    for (int p = 0; p < w && ci[p] >= 0; p++, ec.rescored++)
      insert(w, rid, rsim, y_ids ? y_ids[ci[p]] : ci[p], topk_exact_dot(x, i, y, ci[p], d));
    /* Items outside the candidates have exact similarity < GEMM(last) + band: right when that is below
     * the exact k-th. */
    if (ci[w - 1] >= 0 && !(cs[w - 1] + bw < rsim[k - 1])) {
      full_row(x, i, y, d, y_ids, k, oi, os);
      fallback++;
      continue;
    }
    for (int p = 0; p < k; p++) {
      oi[p] = rid[p];
      os[p] = rsim[p];
    }
  }
  if (stats) {
    stats->rescored += ec.rescored;
    stats->fallback_rows += fallback;
  }
done:
  ip_range_free(&band);
  free(cid);
  free(csim);
  free(rid);
  free(rsim);
  return st;
}
