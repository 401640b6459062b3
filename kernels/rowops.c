/* Row normalisation.
 *
 * The squared norm is summed in double: squares of floats cannot overflow there and no square
 * underflows to zero, so the sum is finite exactly when every value is, and zero exactly when the
 * row is. One test of the sum classifies the row.
 *
 * All versions (scalar, AVX2, AVX-512, picked by cpu_isa_active()) add in one order, so they give the
 * same bits: 16 partial sums, s[l] over the j = l (mod 16), folded 16 -> 8 -> 4 -> 2 -> 1 by adding the
 * upper half onto the lower. The kernel library
 * is built with -ffp-contract=off (CMakeLists.txt), which keeps the compiler from fusing a multiply and
 * an add: that would change the rounding in one
 * version and not the other. */
#include "kernels/rowops.h"

#include <math.h>
#include <stddef.h>

#include "core/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define ROWS_X86 1
#include <immintrin.h>
#else
#define ROWS_X86 0
#endif

enum { LANES = 16 };

static double sum_squares_ref(const float *x, int64_t d)
{
  double s[LANES] = {0};
  for (int64_t j = 0; j < d; j++)
    s[j % LANES] += (double)x[j] * x[j];
  for (int w = LANES / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; l++)
      s[l] += s[l + w];
  return s[0];
}

/* Records the verdict on a row whose squared norm is ss; returns nonzero when the row is bad. */
static int row_is_bad(double ss, int *bad_kind)
{
  if (isfinite(ss) && ss != 0)
    return 0;
  if (bad_kind)
    *bad_kind = isfinite(ss) ? ROWS_ZERO : ROWS_NONFINITE;
  return 1;
}

int64_t rows_normalize_ref(float *x, int64_t n, int64_t d, int64_t ld, int *bad_kind)
{
  for (int64_t r = 0; r < n; r++) {
    float *row = x + r * ld;
    double ss = sum_squares_ref(row, d);
    if (row_is_bad(ss, bad_kind))
      return r;
    double inv = 1.0 / sqrt(ss);
    for (int64_t j = 0; j < d; j++)
      row[j] = (float)(row[j] * inv);
  }
  if (bad_kind)
    *bad_kind = ROWS_OK;
  return -1;
}

#if ROWS_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* The 16 lanes are s[0..3] (4 each); a tail of d % 16 goes through a zero-padded copy (0 adds 0). */
AVX2 static double sum_squares_avx2(const float *x, int64_t d)
{
  __m256d s[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
  float tail[LANES] = {0};
  for (int64_t j = 0; j < d; j += LANES) {
    const float *p = x + j;
    if (d - j < LANES) {
      for (int64_t l = 0; l < d - j; l++) tail[l] = p[l];
      p = tail;
    }
    for (int q = 0; q < 4; q++) {
      __m256d v = _mm256_cvtps_pd(_mm_loadu_ps(p + 4 * q));
      s[q] = _mm256_add_pd(s[q], _mm256_mul_pd(v, v));
    }
  }
  __m256d s4 = _mm256_add_pd(_mm256_add_pd(s[0], s[2]), _mm256_add_pd(s[1], s[3]));
  __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

AVX2 static void scale_avx2(float *x, int64_t d, double inv)
{
  __m256d vinv = _mm256_set1_pd(inv);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    __m128 a = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j)), vinv));
    __m128 b = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + j + 4)), vinv));
    _mm256_storeu_ps(x + j, _mm256_insertf128_ps(_mm256_castps128_ps256(a), b, 1));
  }
  for (; j < d; j++) x[j] = (float)(x[j] * inv);
}

AVX2 static int64_t normalize_avx2(float *x, int64_t n, int64_t d, int64_t ld, int *bad_kind)
{
  for (int64_t r = 0; r < n; r++) {
    float *row = x + r * ld;
    double ss = sum_squares_avx2(row, d);
    if (row_is_bad(ss, bad_kind))
      return r;
    scale_avx2(row, d, 1.0 / sqrt(ss));
  }
  if (bad_kind)
    *bad_kind = ROWS_OK;
  return -1;
}

/* 16 floats from x (the first `mask` lanes; the others 0) as two vectors of doubles. */
__attribute__((target("avx512f"))) static inline void load16(const float *x, __mmask16 mask, __m512d *lo, __m512d *hi)
{
  __m512 v = _mm512_maskz_loadu_ps(mask, x);
  *lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  *hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

__attribute__((target("avx512f"))) static double sum_squares_avx512(const float *x, int64_t d)
{
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd(), lo, hi;
  int64_t j = 0;
  for (; j + LANES <= d; j += LANES) {
    load16(x + j, 0xffff, &lo, &hi);
    s0 = _mm512_add_pd(s0, _mm512_mul_pd(lo, lo));
    s1 = _mm512_add_pd(s1, _mm512_mul_pd(hi, hi));
  }
  if (j < d) { /* the missing lanes read as 0 and add 0 */
    load16(x + j, (__mmask16)((1u << (d - j)) - 1), &lo, &hi);
    s0 = _mm512_add_pd(s0, _mm512_mul_pd(lo, lo));
    s1 = _mm512_add_pd(s1, _mm512_mul_pd(hi, hi));
  }
  __m512d s8 = _mm512_add_pd(s0, s1);
  __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd(s8, 1));
  __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

__attribute__((target("avx512f"))) static void scale_avx512(float *x, int64_t d, double inv)
{
  __m512d vinv = _mm512_set1_pd(inv), lo, hi;
  for (int64_t j = 0; j < d; j += LANES) {
    __mmask16 mask = d - j >= LANES ? (__mmask16)0xffff : (__mmask16)((1u << (d - j)) - 1);
    load16(x + j, mask, &lo, &hi);
    __m256 a = _mm512_cvtpd_ps(_mm512_mul_pd(lo, vinv)), b = _mm512_cvtpd_ps(_mm512_mul_pd(hi, vinv));
    __m512 v = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(a)), _mm256_castps_pd(b), 1));
    _mm512_mask_storeu_ps(x + j, mask, v);
  }
}

__attribute__((target("avx512f"))) static int64_t normalize_avx512(float *x, int64_t n, int64_t d, int64_t ld,
                                                                   int *bad_kind)
{
  for (int64_t r = 0; r < n; r++) {
    float *row = x + r * ld;
    double ss = sum_squares_avx512(row, d);
    if (row_is_bad(ss, bad_kind))
      return r;
    scale_avx512(row, d, 1.0 / sqrt(ss));
  }
  if (bad_kind)
    *bad_kind = ROWS_OK;
  return -1;
}
#endif

int64_t rows_normalize(float *x, int64_t n, int64_t d, int64_t ld, int *bad_kind)
{
#if ROWS_X86
  cpu_isa isa = cpu_isa_active();
  if (isa >= CPU_ISA_AVX512)
    return normalize_avx512(x, n, d, ld, bad_kind);
  if (isa >= CPU_ISA_AVX2)
    return normalize_avx2(x, n, d, ld, bad_kind);
#endif
  return rows_normalize_ref(x, n, d, ld, bad_kind);
}
