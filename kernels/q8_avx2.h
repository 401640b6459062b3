/* memaudit's own integer GEMM for int8 screening on AVX2 without VNNI (kernels/quant.h chooses it on the
 * avx2 path, and on every vector path of a build without oneDNN).
 *
 * AVX2 multiplies bytes with VPMADDUBSW (u8 * s8, adjacent pairs summed into saturating int16), then
 * VPMADDWD against ones widens pairs of int16 to int32. With the x side in [1, 127] (63 levels, offset
 * 64) and the y side in [-63, 63] (63 levels), four products sum to at most 4 * 127 * 63 = 32004 in
 * magnitude: two VPMADDUBSW results add exactly in int16 before one widening, 5 vector operations per
 * 64 products instead of the 6 that oneDNN's AVX2 kernel (which must widen every pair) needs, and the y
 * side is packed once per block rather than on every call. The sums start from the column offsets,
 * and the tile is converted to screened similarities (q8_convert1, the same bits) while they are still
 * in registers. (Both sides at 63 levels, rather than 64 on the y side, let a self-search quantise its
 * rows once.)
 *
 * Layouts: x rows are bytes at a stride of q8a_x_stride(d) (d rounded up to 8; the padding is never
 * read into a sum that counts); y rows are packed in panels of Q8A_NR rows: panel p holds rows
 * [Q8A_NR p, Q8A_NR (p + 1)), for each group of 4 elements k the 4 bytes of each of its rows in turn
 * (64 bytes a group), elements past d zero. */
#ifndef MA_Q8_AVX2_H
#define MA_Q8_AVX2_H

#include <stdint.h>

enum { Q8A_NR = 16, Q8A_XLEVELS = 63, Q8A_YLEVELS = 63 };

/* The per-row and per-column quantities of the conversion (kernels/quant.h): the tile's entry (i, j) is
 * q8_convert1(c, sx[i], ex[i], nx[i], shift, sy[j], qny[j], ey[j]). */
typedef struct {
  const float *sx, *ex, *nx;  /* x rows, indexed from the tile's first row */
  const float *sy, *qny, *ey; /* y rows, indexed as the packed buffer's rows */
  float shift;
} q8a_conv;

/* Bytes between x rows: d rounded up to a multiple of 8. Not collective. */
int64_t q8a_x_stride(int64_t d);

/* Rows of a packed y buffer of `rows` rows, rounded up to a panel: its column offsets (co) hold that many
 * entries (those past `rows` 0). Not collective. */
int64_t q8a_y_rows(int64_t rows);

/* Bytes of a packed y buffer of `rows` rows. Not collective. */
int64_t q8a_y_bytes(int64_t rows, int64_t d);

/* Puts q (d signed bytes) as row r of the packed buffer y. Not collective. */
void q8a_y_put(int8_t *y, int64_t r, int64_t d, const int8_t *q);

/* c[i * ldc + t] = sum_k a[i * lda + k] * y_{j0 + t}[k] + co[j0 + t] in int32 for i < m, t < n, where
 * y_j is row j of the packed buffer y and co has q8a_y_rows entries for it. Needs AVX2. Not collective. */
void q8a_gemm(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *y, int64_t j0,
              const int32_t *co, int32_t *c, int64_t ldc);

/* `below` of a tile that needs every entry. */
#define Q8A_NONE_BELOW (INT64_MIN / 4)

/* s[i * lds + t] = the conversion (cv) of the sum q8a_gemm gives for (i, j0 + t): the integer tile
 * never leaves registers. Entries with t <= i + below may be left unwritten (a self-search's tile on
 * the diagonal: below = its first x row minus its first y row; else Q8A_NONE_BELOW). Needs AVX2. Not
 * collective. */
void q8a_tile(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *y, int64_t j0,
              int64_t below, const int32_t *co, const q8a_conv *cv, float *s, int64_t lds);

#endif
