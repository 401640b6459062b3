/* Checks and normalisation of a row-major block of float vectors. */
#ifndef MA_ROWOPS_H
#define MA_ROWOPS_H

#include <stdint.h>

enum { ROWS_OK = 0, ROWS_NONFINITE = 1, ROWS_ZERO = 2 };

/* Scales each of the n rows of x (d values each, row r at x + r*ld, ld >= d) to unit L2 norm, the
 * squared norm summed in double. Stops at the first row that holds a NaN or an infinity
 * (*bad_kind = ROWS_NONFINITE) or is all zeros (*bad_kind = ROWS_ZERO) and returns its index: the
 * rows before it are normalised, it and the rows after it are untouched. Returns -1 with
 * *bad_kind = ROWS_OK when every row is good. bad_kind may be NULL. Scalar, AVX2 or AVX-512 as
 * cpu_isa_active() says; the bits are the same on every path. Not collective. */
int64_t rows_normalize(float *x, int64_t n, int64_t d, int64_t ld, int *bad_kind);

/* Scalar reference for rows_normalize: the same bits. Not collective. */
int64_t rows_normalize_ref(float *x, int64_t n, int64_t d, int64_t ld, int *bad_kind);

#endif
