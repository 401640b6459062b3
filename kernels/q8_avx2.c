/* memaudit's own AVX2 integer GEMM for int8 screening (kernels/q8_avx2.h). */
#include "kernels/q8_avx2.h"

#include <string.h>

#include "kernels/quant.h"

int64_t q8a_x_stride(int64_t d) { return (d + 7) / 8 * 8; }

int64_t q8a_y_rows(int64_t rows) { return (rows + Q8A_NR - 1) / Q8A_NR * Q8A_NR; }

int64_t q8a_y_bytes(int64_t rows, int64_t d) { return q8a_y_rows(rows) * q8a_x_stride(d); }

void q8a_y_put(int8_t *y, int64_t r, int64_t d, const int8_t *q)
{
  int64_t d8 = q8a_x_stride(d);
  int8_t *p = y + r / Q8A_NR * Q8A_NR * d8 + r % Q8A_NR * 4;
  for (int64_t k = 0; k < d8; k += 4, p += 4 * Q8A_NR)
    for (int t = 0; t < 4; t++) p[t] = k + t < d ? q[k + t] : 0;
}

/* The conversion of one entry, as the vector lanes below round it. */
static inline float convert1(int32_t v, const q8a_conv *cv, int64_t i, int64_t j)
{
  return q8_convert1(v, cv->sx[i], cv->ex[i], cv->nx[i], cv->shift, cv->sy[j], cv->qny[j], cv->ey[j]);
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* Rows of x per block: 5 x 2 accumulators, 4 registers of y, the ones and the two broadcasts (a few
 * accumulators spill; measured on Zen 5 held to AVX2, 256 x 1024 x 256, best of 6 interleaved: 4 and 5
 * rows within 1%, 263-291 GOP/s, 8-row blocks of 8-row panels within 3%; oneDNN's AVX2 kernel 204-218). */
enum { MR = 5 };

static inline int32_t load4(const uint8_t *p)
{
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* out[r][0..15] = co[0..15] + the sums of x row ar[r] against the panel's 16 rows, for r < MR. Per 8
 * elements: the panel's 4 registers (elements 0-3 and 4-7 of rows 0-7 and 8-15), each x row's two
 * 4-byte groups broadcast; two VPMADDUBSW added in int16 (exact: see q8_avx2.h), one VPMADDWD
 * widening, one add. */
AVX2_INLINE void block_sums(const uint8_t *const ar[MR], const int8_t *b, int64_t d8, const int32_t *co,
                            int32_t out[MR][Q8A_NR])
{
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i c00 = _mm256_loadu_si256((const __m256i *)co), c01 = _mm256_loadu_si256((const __m256i *)(co + 8)),
          c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01;
  for (int64_t k = 0; k < d8; k += 8, b += 8 * Q8A_NR) {
    __m256i b0 = _mm256_loadu_si256((const __m256i *)b), b1 = _mm256_loadu_si256((const __m256i *)(b + 32)),
            b2 = _mm256_loadu_si256((const __m256i *)(b + 64)), b3 = _mm256_loadu_si256((const __m256i *)(b + 96));
#define ROW(r)                                                                                                   \
  do {                                                                                                           \
    __m256i x0 = _mm256_set1_epi32(load4(ar[r] + k)), x1 = _mm256_set1_epi32(load4(ar[r] + k + 4));             \
    c##r##0 = _mm256_add_epi32(                                                                                  \
        c##r##0, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, b0), _mm256_maddubs_epi16(x1, b2)), \
                                   ones));                                                                       \
    c##r##1 = _mm256_add_epi32(                                                                                  \
        c##r##1, _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(x0, b1), _mm256_maddubs_epi16(x1, b3)), \
                                   ones));                                                                       \
  } while (0)
    ROW(0);
    ROW(1);
    ROW(2);
    ROW(3);
    ROW(4);
#undef ROW
  }
  __m256i *o = (__m256i *)out;
  _mm256_storeu_si256(o + 0, c00);
  _mm256_storeu_si256(o + 1, c01);
  _mm256_storeu_si256(o + 2, c10);
  _mm256_storeu_si256(o + 3, c11);
  _mm256_storeu_si256(o + 4, c20);
  _mm256_storeu_si256(o + 5, c21);
  _mm256_storeu_si256(o + 6, c30);
  _mm256_storeu_si256(o + 7, c31);
  _mm256_storeu_si256(o + 8, c40);
  _mm256_storeu_si256(o + 9, c41);
}

/* Stores 8 sums (offsets included) of x row i, output columns [t, t + 8) (buffer rows j0 + t...),
 * those in [0, n): as int32 into c when c is given, else converted into s. */
AVX2_INLINE void store8(const int32_t *v, int64_t i, int64_t t, int64_t n, int64_t j0, int32_t *c, int64_t ldc,
                        const q8a_conv *cv, float *s, int64_t lds)
{
  int64_t j = j0 + t;
  if (t >= 0 && t + 8 <= n) {
    __m256i x = _mm256_loadu_si256((const __m256i *)v);
    if (c) {
      _mm256_storeu_si256((__m256i *)(c + i * ldc + t), x);
      return;
    }
    __m256 b = _mm256_fmadd_ps(_mm256_set1_ps(cv->ex[i]), _mm256_loadu_ps(cv->qny + j),
                               _mm256_fmadd_ps(_mm256_set1_ps(cv->nx[i]), _mm256_loadu_ps(cv->ey + j),
                                               _mm256_set1_ps(-cv->shift)));
    __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(x), _mm256_set1_ps(cv->sx[i]));
    _mm256_storeu_ps(s + i * lds + t, _mm256_fmadd_ps(p, _mm256_loadu_ps(cv->sy + j), b));
    return;
  }
  for (int u = 0; u < 8; u++) {
    if (t + u < 0 || t + u >= n) continue;
    if (c) c[i * ldc + t + u] = v[u];
    else s[i * lds + t + u] = convert1(v[u], cv, i, j + u);
  }
}

/* Both entry points: panels outer (a panel, 16 x d bytes, stays in L1 across the x rows), blocks of MR
 * x rows inner (the last block repeats the last row and stores only its own); a block whose entries all
 * have t <= i + below is skipped, and so are the blocks after it (rows only grow). */
AVX2 static void run(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *y, int64_t j0,
                     int64_t below, const int32_t *co, int32_t *c, int64_t ldc, const q8a_conv *cv, float *s,
                     int64_t lds)
{
  int64_t d8 = q8a_x_stride(d);
  int32_t out[MR][Q8A_NR];
  for (int64_t p = j0 / Q8A_NR; p * Q8A_NR < j0 + n; p++) {
    const int8_t *b = y + p * Q8A_NR * d8;
    int64_t t0 = p * Q8A_NR - j0; /* the panel's first row as an output column (negative: before j0) */
    for (int64_t i = 0; i < m && i + below < t0 + Q8A_NR - 1; i += MR) {
      const uint8_t *ar[MR];
      for (int r = 0; r < MR; r++) ar[r] = a + (i + r < m ? i + r : m - 1) * lda;
      block_sums(ar, b, d8, co + p * Q8A_NR, out);
      int rows = m - i < MR ? (int)(m - i) : MR;
      for (int r = 0; r < rows; r++)
        for (int h = 0; h < 2; h++)
          store8(out[r] + 8 * h, i + r, t0 + 8 * h, n, j0, c, ldc, cv, s, lds);
    }
  }
}

#else
/* Not an x86 build: kernels/quant.c never chooses this engine; the plain loops keep the entry points
 * true. */
static void run(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *y, int64_t j0,
                int64_t below, const int32_t *co, int32_t *c, int64_t ldc, const q8a_conv *cv, float *s, int64_t lds)
{
  int64_t d8 = q8a_x_stride(d);
  for (int64_t i = 0; i < m; i++)
    for (int64_t t = i + below < 0 ? 0 : i + below + 1; t < n; t++) {
      int64_t j = j0 + t;
      const int8_t *b = y + j / Q8A_NR * Q8A_NR * d8 + j % Q8A_NR * 4;
      int32_t v = co[j];
      for (int64_t k = 0; k < d; k++) v += (int32_t)a[i * lda + k] * b[k / 4 * 4 * Q8A_NR + k % 4];
      if (c) c[i * ldc + t] = v;
      else s[i * lds + t] = convert1(v, cv, i, j);
    }
}
#endif

void q8a_gemm(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *y, int64_t j0,
              const int32_t *co, int32_t *c, int64_t ldc)
{
  run(m, n, d, a, lda, y, j0, Q8A_NONE_BELOW, co, c, ldc, NULL, NULL, 0);
}

void q8a_tile(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *y, int64_t j0,
              int64_t below, const int32_t *co, const q8a_conv *cv, float *s, int64_t lds)
{
  run(m, n, d, a, lda, y, j0, below, co, NULL, 0, cv, s, lds);
}
