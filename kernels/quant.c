/* int8 screening: quantisation, the integer GEMM and the bound (kernels/quant.h; the derivation is in
 * docs/kernels.md). */
#include "kernels/quant.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/f16.h"
#include "kernels/q8_avx2.h"

#ifdef MEMAUDIT_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#define Q8_X86 1
#include <immintrin.h>
#else
#define Q8_X86 0
#endif

/* sqrt(x2) rounded up to a float, x2 a sum of d squares in float (each square and its addition one
 * fused multiply-add, 16 partial sums folded in 4 steps: a relative error below (d + 8) * 2^-24, and an
 * absolute one below d * 2^-149 from squares that fall below the normal range), made an upper bound. */
static float sqrt_up(float x2, int64_t d)
{
  double r = sqrt((double)x2 * (1.0 + (double)(d + 8) * 0x1p-23) + (double)d * 0x1p-140);
  float f = (float)r;
  return (double)f < r ? nextafterf(f, INFINITY) : f;
}

/* v rounded up to a float, v computed in double with a few roundings. */
static float up(double v)
{
  double r = v * (1.0 + 0x1p-48);
  float f = (float)r;
  return (double)f < r ? nextafterf(f, INFINITY) : f;
}

/* The largest |v_c| (NaNs skipped) and whether every element is finite. */
static float amax_of(const float *v, int64_t d, int *finite)
{
  float m = 0;
  *finite = 1;
  for (int64_t c = 0; c < d; c++) {
    float a = fabsf(v[c]);
    if (!(a <= FLT_MAX)) *finite = 0;
    else if (a > m) m = a;
  }
  return m;
}

/* The sums of q8_quantize go into SUM_LANES partial sums in float, element c into lane c % SUM_LANES, each
 * step one fused multiply-add (fmaf: a correctly rounded v - scale * q and a rounded sum of squares),
 * folded 16 -> 8 -> 4 -> 2 -> 1 at the end: the order the vector version keeps, so both give the same
 * bits. The sum of q^2 is an integer, exact in int64 in any order. (Sums in double measured 5x slower
 * than the quantisation itself; the float sums' error is covered by sqrt_up.) */
enum { SUM_LANES = 16 };

static float fold(float *s)
{
  for (int w = SUM_LANES / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; l++) s[l] += s[l + w];
  return s[0];
}

/* The quantities from the folded sums. */
static void finish(float sc, float e2, float n2, int64_t q2, int64_t d, int finite, float *scale, float *eps,
                   float *norm, float *qnorm)
{
  *scale = sc;
  *eps = finite ? sqrt_up(e2, d) : INFINITY;
  *norm = finite ? sqrt_up(n2, d) : INFINITY;
  *qnorm = up((double)sc * sqrt((double)q2)); /* scale * |q|: two roundings in double */
}

static void quantize_c(const float *v, int64_t d, int levels, int8_t *q, float *scale, float *eps, float *norm,
                       float *qnorm)
{
  int finite;
  float amax = amax_of(v, d, &finite);
  float sc = finite && amax > 0 ? amax / (float)levels : 0, inv = finite && amax > 0 ? (float)levels / amax : 0;
  float e2[SUM_LANES] = {0}, n2[SUM_LANES] = {0};
  int64_t q2 = 0;
  for (int64_t c = 0; c < d; c++) {
    float r = finite ? rintf(v[c] * inv) : 0;
    r = r > (float)levels ? (float)levels : r < (float)-levels ? (float)-levels : r;
    if (q) q[c] = (int8_t)r;
    float diff = fmaf(-sc, r, v[c]);
    e2[c % SUM_LANES] = fmaf(diff, diff, e2[c % SUM_LANES]);
    n2[c % SUM_LANES] = fmaf(v[c], v[c], n2[c % SUM_LANES]);
    q2 += (int64_t)r * (int64_t)r;
  }
  finish(sc, fold(e2), fold(n2), q2, d, finite, scale, eps, norm, qnorm);
}

static void quantize_q_c(const float *v, int64_t d, int levels, int offset, uint8_t *q)
{
  int finite;
  float amax = amax_of(v, d, &finite);
  float inv = finite && amax > 0 ? (float)levels / amax : 0;
  for (int64_t c = 0; c < d; c++) {
    float r = finite ? rintf(v[c] * inv) : 0;
    r = r > (float)levels ? (float)levels : r < (float)-levels ? (float)-levels : r;
    q[c] = (uint8_t)((int)r + offset);
  }
}

#if Q8_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* amax_of, 8 elements at a time: |v| by clearing the sign, the maximum skipping NaNs (MAXPS returns its
 * second operand on a NaN), a flag for any element that is not <= FLT_MAX. */
AVX2 static float amax_avx2(const float *v, int64_t d, int *finite)
{
  const __m256 sign = _mm256_set1_ps(-0.0f), big = _mm256_set1_ps(FLT_MAX);
  __m256 m = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= d; c += 8) {
    __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(v + c));
    m = _mm256_max_ps(a, m);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, big, _CMP_NLE_UQ));
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
  float amax = _mm_cvtss_f32(h);
  *finite = !_mm256_movemask_ps(bad);
  for (int64_t t = c; t < d; t++) {
    float a = fabsf(v[t]);
    if (!(a <= FLT_MAX)) *finite = 0;
    else if (a > amax) amax = a;
  }
  return amax;
}

/* The same steps as quantize_q_c, 32 elements at a time: amax_avx2, then v * inv rounded to nearest
 * even (as rintf in the default rounding mode), clamped, offset and packed to bytes. */
AVX2 static void quantize_q_avx2(const float *v, int64_t d, int levels, int offset, uint8_t *q)
{
  int finite;
  float amax = amax_avx2(v, d, &finite);
  float inv = finite && amax > 0 ? (float)levels / amax : 0;
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i lo = _mm256_set1_epi32(-levels), hi = _mm256_set1_epi32(levels), off = _mm256_set1_epi32(offset);
  const __m256i perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  int64_t c = 0;
  if (finite) {
    for (; c + 32 <= d; c += 32) {
      __m256i r[4];
      for (int k = 0; k < 4; k++) {
        __m256 f = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + c + 8 * k), vinv),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r[k] = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(f), lo), hi), off);
      }
      /* values are in [0, 255] (offset) or [-127, 127]: the saturating packs keep them */
      __m256i w01 = _mm256_packs_epi32(r[0], r[1]), w23 = _mm256_packs_epi32(r[2], r[3]);
      __m256i b = offset ? _mm256_packus_epi16(w01, w23) : _mm256_packs_epi16(w01, w23);
      _mm256_storeu_si256((__m256i *)(q + c), _mm256_permutevar8x32_epi32(b, perm));
    }
  }
  for (; c < d; c++) {
    float r = finite ? rintf(v[c] * inv) : 0;
    r = r > (float)levels ? (float)levels : r < (float)-levels ? (float)-levels : r;
    q[c] = (uint8_t)((int)r + offset);
  }
}

/* quantize_c's quantities (no q): the 16 lanes in two registers of 8 floats per sum, each step the
 * fused multiply-add of quantize_c; the sum of q^2 in 32-bit integer lanes (|q| <= 127: below 2^31 for
 * d <= Q8_MAX_D). A row that is not finite goes to quantize_c. */
AVX2 static void quantize_info_avx2(const float *v, int64_t d, int levels, float *scale, float *eps, float *norm,
                                    float *qnorm)
{
  int finite;
  float amax = amax_avx2(v, d, &finite);
  if (!finite) {
    quantize_c(v, d, levels, NULL, scale, eps, norm, qnorm);
    return;
  }
  float sc = amax > 0 ? amax / (float)levels : 0, inv = amax > 0 ? (float)levels / amax : 0;
  const __m256 vinv = _mm256_set1_ps(inv), lo = _mm256_set1_ps((float)-levels), hi = _mm256_set1_ps((float)levels),
               nsc = _mm256_set1_ps(-sc);
  __m256 e[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, n[2] = {e[0], e[0]};
  __m256i qq = _mm256_setzero_si256();
  float e2[SUM_LANES], n2[SUM_LANES];
  int64_t c = 0;
  for (; c + 16 <= d; c += 16)
    for (int k = 0; k < 2; k++) {
      __m256 x = _mm256_loadu_ps(v + c + 8 * k);
      __m256 r = _mm256_round_ps(_mm256_mul_ps(x, vinv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
      __m256 diff = _mm256_fmadd_ps(nsc, r, x);
      e[k] = _mm256_fmadd_ps(diff, diff, e[k]);
      n[k] = _mm256_fmadd_ps(x, x, n[k]);
      __m256i ri = _mm256_cvtps_epi32(r);
      qq = _mm256_add_epi32(qq, _mm256_mullo_epi32(ri, ri));
    }
  _mm256_storeu_ps(e2, e[0]);
  _mm256_storeu_ps(e2 + 8, e[1]);
  _mm256_storeu_ps(n2, n[0]);
  _mm256_storeu_ps(n2 + 8, n[1]);
  int32_t qs[8];
  _mm256_storeu_si256((__m256i *)qs, qq);
  int64_t q2 = 0;
  for (int k = 0; k < 8; k++) q2 += qs[k];
  for (; c < d; c++) {
    float r = rintf(v[c] * inv);
    r = r > (float)levels ? (float)levels : r < (float)-levels ? (float)-levels : r;
    float diff = fmaf(-sc, r, v[c]);
    e2[c % SUM_LANES] = fmaf(diff, diff, e2[c % SUM_LANES]);
    n2[c % SUM_LANES] = fmaf(v[c], v[c], n2[c % SUM_LANES]);
    q2 += (int64_t)r * (int64_t)r;
  }
  finish(sc, fold(e2), fold(n2), q2, d, 1, scale, eps, norm, qnorm);
}

/* The tile conversion with the operations of tile_row_c, in the same order, each rounded once. */
AVX2 static void tile_row_avx2(const int32_t *c, int64_t nj, float sx, float ex, float nx, float shift,
                               const float *sy, const float *qny, const float *ey, float *s)
{
  const __m256 vsx = _mm256_set1_ps(sx), vex = _mm256_set1_ps(ex), vnx = _mm256_set1_ps(nx),
               vsh = _mm256_set1_ps(-shift);
  int64_t j = 0;
  for (; j + 8 <= nj; j += 8) {
    __m256 b = _mm256_fmadd_ps(vex, _mm256_loadu_ps(qny + j), _mm256_fmadd_ps(vnx, _mm256_loadu_ps(ey + j), vsh));
    __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(c + j))), vsx);
    _mm256_storeu_ps(s + j, _mm256_fmadd_ps(p, _mm256_loadu_ps(sy + j), b));
  }
  for (; j < nj; j++) s[j] = q8_convert1(c[j], sx, ex, nx, shift, sy[j], qny[j], ey[j]);
}

#define AVX512 __attribute__((target("avx512f")))

AVX512 static void tile_row_avx512(const int32_t *c, int64_t nj, float sx, float ex, float nx, float shift,
                                   const float *sy, const float *qny, const float *ey, float *s)
{
  const __m512 vsx = _mm512_set1_ps(sx), vex = _mm512_set1_ps(ex), vnx = _mm512_set1_ps(nx),
               vsh = _mm512_set1_ps(-shift);
  for (int64_t j = 0; j < nj; j += 16) {
    __mmask16 k = nj - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nj - j)) - 1u);
    __m512 b = _mm512_fmadd_ps(vex, _mm512_maskz_loadu_ps(k, qny + j),
                               _mm512_fmadd_ps(vnx, _mm512_maskz_loadu_ps(k, ey + j), vsh));
    __m512 p = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, c + j)), vsx);
    _mm512_mask_storeu_ps(s + j, k, _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(k, sy + j), b));
  }
}
#endif

void q8_quantize(const float *v, int64_t d, int levels, int8_t *q, float *scale, float *eps, float *norm,
                 float *qnorm)
{
#if Q8_X86
  if (!q && cpu_isa_active() >= CPU_ISA_AVX2) {
    quantize_info_avx2(v, d, levels, scale, eps, norm, qnorm);
    return;
  }
#endif
  quantize_c(v, d, levels, q, scale, eps, norm, qnorm);
}

void q8_quantize_q(const float *v, int64_t d, int levels, int offset, uint8_t *q)
{
#if Q8_X86
  if (cpu_isa_active() >= CPU_ISA_AVX2) {
    quantize_q_avx2(v, d, levels, offset, q);
    return;
  }
#endif
  quantize_q_c(v, d, levels, offset, q);
}

static void tile_row_c(const int32_t *c, int64_t nj, float sx, float ex, float nx, float shift, const float *sy,
                       const float *qny, const float *ey, float *s)
{
  for (int64_t j = 0; j < nj; j++) s[j] = q8_convert1(c[j], sx, ex, nx, shift, sy[j], qny[j], ey[j]);
}

void q8_tile_to_float(const q8_screen *q, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const int32_t *c,
                      int64_t ldc, float *s, int64_t lds)
{
  void (*row)(const int32_t *, int64_t, float, float, float, float, const float *, const float *, const float *,
              float *) = tile_row_c;
#if Q8_X86
  cpu_isa isa = cpu_isa_active();
  if (isa >= CPU_ISA_AVX512) row = tile_row_avx512;
  else if (isa >= CPU_ISA_AVX2) row = tile_row_avx2;
#endif
  for (int64_t i = 0; i < mi; i++)
    row(c + i * ldc, nj, q->x->scale[i0 + i], q->x->eps[i0 + i], q->x->norm[i0 + i], q->shift, q->y->scale + j0,
        q->y->qnorm + j0, q->y->eps + j0, s + i * lds);
}

/* ---- the integer GEMM ---- */

void q8_gemm_ref(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *b,
                 int64_t ldb, const int32_t *co, int32_t *c, int64_t ldc)
{
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      int32_t t = co[j];
      for (int64_t k = 0; k < d; k++) t += (int32_t)a[i * lda + k] * (int32_t)b[j * ldb + k];
      c[i * ldc + j] = t;
    }
}

enum { ENGINE_UNSET = -1, ENGINE_REF = 0, ENGINE_ONEDNN = 1, ENGINE_AVX2 = 2 };
static int engine = ENGINE_UNSET;
static int xlevels, ylevels;

#ifdef MEMAUDIT_HAVE_ONEDNN
static int onednn_gemm(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *b,
                       int64_t ldb, const int32_t *co, int32_t *c, int64_t ldc)
{
  /* offsetc 'R': co[j] added to column j of every row (oneDNN 2.6's 'C' adds co[i] to row i) */
  return dnnl_gemm_u8s8s32('N', 'T', 'R', m, n, d, 1.0f, a, lda, 0, b, ldb, 0, 0.0f, c, ldc, co) == dnnl_success;
}

/* Whether oneDNN sums u8 * s8 products exactly at the extreme values (255 against +-127, which saturate
 * a 16-bit pair sum) at a tile shape: 1 yes, 0 no, -1 when the GEMM fails (e.g. a kernel that forbids
 * the writable code pages of its JIT). */
static int onednn_exact(void)
{
  enum { M = 64, N = 48, D = 256 };
  static uint8_t a[M * D];
  static int8_t b[N * D];
  static int32_t c[M * N], co[N];
  for (int i = 0; i < M * D; i++) a[i] = 255;
  for (int j = 0; j < N * D; j++) b[j] = (int8_t)((j / D) % 2 ? -127 : 127);
  for (int j = 0; j < N; j++) co[j] = j;
  if (!onednn_gemm(M, N, D, a, D, b, D, co, c, N)) return -1;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++)
      if (c[i * N + j] != (j % 2 ? -1 : 1) * 255 * 127 * D + j) return 0;
  return 1;
}

/* oneDNN as the engine, if it runs here: AVX2 only on the avx2 path, so that a forced avx2 path measures
 * an AVX2 machine. */
static int choose_onednn(cpu_isa isa)
{
  /* one thread per rank, as OpenBLAS (OPENBLAS_NUM_THREADS=1), unless the user set OMP_NUM_THREADS */
  if (!getenv("OMP_NUM_THREADS")) omp_set_num_threads(1);
  if (isa == CPU_ISA_AVX2) dnnl_set_max_cpu_isa(dnnl_cpu_isa_avx2);
  int exact = onednn_exact();
  if (exact < 0) return 0; /* oneDNN cannot run here */
  engine = ENGINE_ONEDNN;
  xlevels = exact ? 127 : 63;
  ylevels = 127;
  return 1;
}
#endif

/* Decided once, or again by q8_gemm_choose: on the avx2 path memaudit's own GEMM (measured faster than
 * oneDNN's AVX2 kernel: docs/kernels.md), on AVX-512 oneDNN (VNNI sums bytes in one instruction) or, in
 * a build without it, memaudit's; the reference on the scalar path. */
static int choose_named(const char *name)
{
  engine = ENGINE_REF;
  xlevels = ylevels = 127;
  cpu_isa isa = cpu_isa_active();
  if (name && !strcmp(name, "reference")) return 1;
  if (isa == CPU_ISA_SCALAR) return !name;
#ifdef MEMAUDIT_HAVE_ONEDNN
  if (name ? !strcmp(name, "onednn") : isa >= CPU_ISA_AVX512) {
    if (choose_onednn(isa)) return 1;
    if (name) return 0;
  }
#endif
  if (name && strcmp(name, "avx2")) return 0;
  engine = ENGINE_AVX2;
  xlevels = Q8A_XLEVELS;
  ylevels = Q8A_YLEVELS;
  return 1;
}

static void choose(void)
{
  if (engine == ENGINE_UNSET) choose_named(getenv("MEMAUDIT_Q8_GEMM"));
}

int q8_gemm_choose(const char *name) { return choose_named(name); }

int q8_levels_x(void)
{
  choose();
  return xlevels;
}

int q8_levels_y(void)
{
  choose();
  return ylevels;
}

void q8_gemm(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *b, int64_t ldb,
             const int32_t *co, int32_t *c, int64_t ldc)
{
  choose();
#ifdef MEMAUDIT_HAVE_ONEDNN
  if (engine == ENGINE_ONEDNN && onednn_gemm(m, n, d, a, lda, b, ldb, co, c, ldc)) return;
#endif
  if (engine == ENGINE_AVX2) {
    int64_t d8 = q8a_x_stride(d);
    uint8_t *ap = malloc((size_t)(m * d8));
    int8_t *bp = malloc((size_t)q8a_y_bytes(n, d));
    int32_t *cp = calloc((size_t)q8a_y_rows(n), sizeof *cp);
    if (ap && bp && cp) {
      for (int64_t i = 0; i < m; i++) {
        memcpy(ap + i * d8, a + i * lda, (size_t)d);
        memset(ap + i * d8 + d, 0, (size_t)(d8 - d));
      }
      for (int64_t j = 0; j < n; j++) q8a_y_put(bp, j, d, b + j * ldb);
      memcpy(cp, co, (size_t)n * sizeof *cp);
      q8a_gemm(m, n, d, ap, d8, bp, 0, cp, c, ldc);
    }
    int done = ap && bp && cp;
    free(ap);
    free(bp);
    free(cp);
    if (done) return;
  }
  q8_gemm_ref(m, n, d, a, lda, b, ldb, co, c, ldc);
}

const char *q8_gemm_name(void)
{
  choose();
#ifdef MEMAUDIT_HAVE_ONEDNN
  if (engine == ENGINE_ONEDNN) {
    switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx2: return "onednn-avx2";
    case dnnl_cpu_isa_avx2_vnni: return "onednn-avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "onednn-avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "onednn-avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "onednn-avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "onednn-avx512_core_amx";
    default: return "onednn";
    }
  }
#endif
  return engine == ENGINE_AVX2 ? "memaudit-avx2" : "reference";
}

const char *q8_onednn_version(void)
{
#ifdef MEMAUDIT_HAVE_ONEDNN
  static char v[32];
  const dnnl_version_t *dv = dnnl_version();
  snprintf(v, sizeof v, "%d.%d.%d", dv->major, dv->minor, dv->patch);
  return v;
#else
  return NULL;
#endif
}

int q8_gemm_fast(void)
{
  choose();
  return engine != ENGINE_REF;
}

int64_t q8_x_stride(int64_t d)
{
  choose();
  return engine == ENGINE_AVX2 ? q8a_x_stride(d) : d;
}

int64_t q8_y_rows(int64_t rows)
{
  choose();
  return engine == ENGINE_AVX2 ? q8a_y_rows(rows) : rows;
}

int64_t q8_y_bytes(int64_t rows, int64_t d)
{
  choose();
  return engine == ENGINE_AVX2 ? q8a_y_bytes(rows, d) : rows * d;
}

void q8_y_put(int8_t *y, int64_t r, int64_t d, const int8_t *q)
{
  choose();
  if (engine == ENGINE_AVX2) q8a_y_put(y, r, d, q);
  else memcpy(y + r * d, q, (size_t)d);
}

int q8_tile_scratch(void)
{
  choose();
  return engine != ENGINE_AVX2;
}

void q8_tile(const q8_screen *q, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const uint8_t *x, const int8_t *y,
             int64_t yr, const int32_t *co, int32_t *c, float *s, int64_t lds, int self)
{
  choose();
  int64_t d = q->d;
  if (engine == ENGINE_AVX2) {
    int64_t b0 = j0 - yr; /* the y row of the block's row 0 */
    q8a_conv cv = {q->x->scale + i0, q->x->eps + i0, q->x->norm + i0, q->y->scale + b0, q->y->qnorm + b0,
                   q->y->eps + b0, q->shift};
    q8a_tile(mi, nj, d, x, q8a_x_stride(d), y, yr, self ? i0 - j0 : Q8A_NONE_BELOW, co, &cv, s, lds);
    return;
  }
  q8_gemm(mi, nj, d, x, d, y + yr * d, d, co + yr, c, lds);
  q8_tile_to_float(q, i0, j0, mi, nj, c, lds, s, lds);
}

/* ---- the bound ---- */

void q8_info_free(q8_info *f)
{
  free(f->scale);
  free(f->eps);
  free(f->norm);
  free(f->qnorm);
  *f = (q8_info){0};
}

ma_status q8_info_init(q8_info *f, const ma_rows *r, int64_t d, int levels)
{
  ma_status st = MA_OK;
  float *buf = NULL;
  int64_t n = r->rows + 1;
  *f = (q8_info){0};
  if (d < 1 || d > Q8_MAX_D) return ma_fail(MA_ERR_USAGE, "int8 screening: d = %lld, want 1..%d", (long long)d, Q8_MAX_D);
  f->rows = r->rows;
  MA_ALLOC(buf, d);
  MA_ALLOC(f->scale, n);
  MA_ALLOC(f->eps, n);
  MA_ALLOC(f->norm, n);
  MA_ALLOC(f->qnorm, n);
  for (int64_t i = 0; i < r->rows; i++) {
    const float *v;
    if (r->type == MA_F16) {
      f16_to_f32((const uint16_t *)r->data + i * r->ld, buf, d);
      v = buf;
    } else {
      v = (const float *)r->data + i * r->ld;
    }
    q8_quantize(v, d, levels, NULL, f->scale + i, f->eps + i, f->norm + i, f->qnorm + i);
    if (!(f->eps[i] <= f->max_eps)) f->max_eps = f->eps[i];
    if (!(f->norm[i] <= f->max_norm)) f->max_norm = f->norm[i];
    if (!(f->qnorm[i] <= f->max_qnorm)) f->max_qnorm = f->qnorm[i];
  }
done:
  free(buf);
  if (st != MA_OK) q8_info_free(f);
  return st;
}

void q8_screen_set(q8_screen *s, const q8_info *x, const q8_info *y, int64_t d)
{
  *s = (q8_screen){0};
  s->x = x;
  s->y = y;
  s->d = d;
  s->xlevels = q8_levels_x();
  s->ylevels = q8_levels_y();
  /* |<x,y> - <x̂,ŷ>| = |<x - x̂, ŷ> + <x, y - ŷ>| <= eps_x |ŷ| + |x| eps_y <= shift */
  double shift = (double)x->max_eps * y->max_qnorm + (double)x->max_norm * y->max_eps;
  s->shift = up(shift);
  /* The screened value takes 5 float roundings (q8_convert1; 8 before it fused), each below 2^-24 of a
   * magnitude below |x̂||ŷ| + 3 shift; the exact value is within (d 2^-53 + 2^-24) |x||y| of <x, y>.
   * 2^-19 covers both with room (d <= Q8_MAX_D). */
  double slack = 0x1p-19 * ((double)x->max_qnorm * y->max_qnorm + 3.0 * s->shift + (double)x->max_norm * y->max_norm) +
                 0x1p-126;
  s->band = up((double)s->shift + slack);
}

ma_status q8_screen_init(q8_screen *s, const ma_rows *x, const ma_rows *y, int64_t d)
{
  ma_status st = MA_OK;
  q8_info fx, fy = {0};
  /* x against itself with the same levels on both sides: one set of quantities serves both */
  int same = x == y && q8_levels_x() == q8_levels_y();
  *s = (q8_screen){0};
  MA_TRY(q8_info_init(&fx, x, d, q8_levels_x()));
  if (!same) st = q8_info_init(&fy, y, d, q8_levels_y());
  if (st != MA_OK) {
    q8_info_free(&fx);
    goto done;
  }
  q8_screen_set(s, &fx, same ? &fx : &fy, d);
  s->own_x = fx;
  s->own_y = fy;
  s->x = &s->own_x; /* s points into itself: it is not to be copied */
  s->y = same ? &s->own_x : &s->own_y;
done:
  return st;
}

void q8_screen_free(q8_screen *s)
{
  q8_info_free(&s->own_x);
  q8_info_free(&s->own_y);
  s->x = s->y = NULL;
}

int64_t q8_search_memory(int64_t x_rows, int64_t y_rows, int64_t d)
{
  int64_t inner = x_rows < y_rows ? x_rows : y_rows, chunk = IP_CHUNK_BYTES / (d * (int64_t)sizeof(float));
  if (inner > chunk) inner = chunk;
  return 16 * (x_rows + y_rows + 2) + (int64_t)IP_BM_DEFAULT * (IP_BN_DEFAULT + 32) * 4 +
         (IP_BM_DEFAULT + IP_BN_DEFAULT + inner + 2 * 16) * (q8_x_stride(d) + 4) + d * 5;
}
