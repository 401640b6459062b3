/* int8 screening: rows quantised to 8 bits with a per-row scale, an integer GEMM for approximate inner
 * products, and a rigorous bound on how far those are from the exact ones (docs/kernels.md, "int8
 * screening"). The bound lets the handlers of kernels/ip_handlers.h treat an integer tile exactly as
 * they treat an SGEMM tile with a wider band: entries that could matter are rescored by the exact dot
 * (topk_exact_dot), so the answers are the float32 path's, bit for bit.
 *
 * A row v of d elements is quantised with L levels (L = 127, or fewer when the integer GEMM adds
 * products in 16 bits, see q8_levels_x and q8_levels_y): amax = max |v_c|, scale = amax / L, q_c = rint(v_c * (L /
 * amax)) clamped to [-L, L]; v̂ = scale * q. Per row the quantisation keeps (rounded up to float):
 *   eps   = |v - v̂|   (Euclidean norm, the row's quantisation error)
 *   norm  = |v|
 *   qnorm = |v̂|
 * and for x row i and y row j, |<x_i, y_j> - <x̂_i, ŷ_j>| <= eps_i * qnorm_j + norm_i * eps_j. */
#ifndef MA_QUANT_H
#define MA_QUANT_H

#include <math.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"

/* Largest d the integer path takes: 255 * 127 * d must fit in int32. */
enum { Q8_MAX_D = 32768 };

/* Per-row quantities of a quantised row set, one array each (for vector loads). */
typedef struct {
  float *scale, *eps, *norm, *qnorm;
  int64_t rows;
  float max_eps, max_norm, max_qnorm;
} q8_info;

/* The screening of one search of x against y: the rows' quantities (x, y: the caller's, from
 * q8_info_init, or own_x, own_y filled by q8_screen_init), the constant `shift` every approximate
 * similarity is lowered by, and `band`: |exact - screened| <= band for every pair. One made by
 * q8_screen_init points into itself: pass it by pointer, never copy it. */
typedef struct q8_screen {
  const q8_info *x, *y;
  q8_info own_x, own_y;
  int xlevels;  /* levels of the x side (the unsigned operand of the integer GEMM) */
  int ylevels;  /* levels of the y side (the signed one) */
  float shift;  /* >= every pair's bound eps_i * qnorm_j + norm_i * eps_j */
  float band;   /* shift plus the rounding of the screened value and of the exact one */
  int64_t d;
} q8_screen;

/* Quantises v (d floats) with `levels` levels into q (d values; NULL: not written) and returns its
 * quantities in *scale, *eps, *norm, *qnorm. The sums are in float, 16 partial sums (element c in sum
 * c % 16, each step a fused multiply-add) folded 16 -> 8 -> 4 -> 2 -> 1, then made upper bounds: the same
 * bits on every path (q NULL takes the path's vector version).
 * A row with a NaN or an infinity gets eps = norm = +INFINITY (everything against it would be rescored).
 * Not collective. */
void q8_quantize(const float *v, int64_t d, int levels, int8_t *q, float *scale, float *eps, float *norm,
                 float *qnorm);

/* q[c] = the quantised row of v as q8_quantize gives it, plus `offset` (0, or levels + 1 for the
 * unsigned operand), the vector version of the path cpu_isa_active() names; the same bytes as
 * q8_quantize on every path. Not collective. */
void q8_quantize_q(const float *v, int64_t d, int levels, int offset, uint8_t *q);

/* The quantities of every row of r quantised with `levels` levels (q8_levels_x() for rows that go on
 * the x side of a search, q8_levels_y() for the y side). Fails with MA_ERR_USAGE when d > Q8_MAX_D,
 * MA_ERR_RUNTIME when out of memory. Not collective. */
ma_status q8_info_init(q8_info *f, const ma_rows *r, int64_t d, int levels);

/* Frees f's arrays. Not collective. */
void q8_info_free(q8_info *f);

/* s for a search of the rows described by x (made with q8_levels_x() levels) against those of y
 * (q8_levels_y() levels): s borrows x and y, which must outlive it. Not collective. */
void q8_screen_set(q8_screen *s, const q8_info *x, const q8_info *y, int64_t d);

/* s for a search of x against y (dimension d), the quantities made and owned by s (once when x == y,
 * a self-search, and both sides have the same levels). Fails as q8_info_init. Not collective. */
ma_status q8_screen_init(q8_screen *s, const ma_rows *x, const ma_rows *y, int64_t d);

/* Frees what s owns. Not collective. */
void q8_screen_free(q8_screen *s);

/* Bytes a screened search of x_rows against y_rows allocates beyond an SGEMM one (ip_tile.h's
 * workspace): the rows' quantities (16 bytes a row), the integer tile, the quantised outer block and
 * inner chunk (a byte per element of those only: rows are quantised where they are used, never all at
 * once). Not collective. */
int64_t q8_search_memory(int64_t x_rows, int64_t y_rows, int64_t d);

/* Levels of the x side: 127 when the integer GEMM sums u8 * s8 products exactly (oneDNN on VNNI or AMX,
 * the reference), 63 when it adds pairs of products in saturating 16-bit lanes (oneDNN on AVX2 and
 * AVX-512 without VNNI: 255 * 127 * 2 > 32767, 127 * 127 * 2 < 32767; memaudit's AVX2 GEMM,
 * kernels/q8_avx2.h). Found once, by a probe GEMM at the extreme values for oneDNN. Not collective. */
int q8_levels_x(void);

/* Levels of the y side: 127, or 63 for memaudit's AVX2 GEMM (which adds four products in 16 bits).
 * Not collective. */
int q8_levels_y(void);

/* Chooses the integer GEMM: NULL the default of the active path (oneDNN on AVX-512, memaudit's own on
 * AVX2 and wherever oneDNN is absent, the reference on the scalar path; the environment variable
 * MEMAUDIT_Q8_GEMM, if set, names the one to use), or "onednn", "avx2", "reference". Returns 1 when the
 * one asked for runs here (else the reference is chosen). The levels change with the GEMM: quantities
 * made before a change (q8_info) must not be used after it. Not collective. */
int q8_gemm_choose(const char *name);

/* c[i * ldc + j] = sum_k a[i * lda + k] * b[j * ldb + k] + co[j] in int32 (a unsigned, b signed): the
 * chosen integer GEMM on row-major operands (memaudit's AVX2 one packs b first). Not collective. */
void q8_gemm(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *b, int64_t ldb,
             const int32_t *co, int32_t *c, int64_t ldc);

/* The plain loops of q8_gemm, the reference it is tested against. Not collective. */
void q8_gemm_ref(int64_t m, int64_t n, int64_t d, const uint8_t *a, int64_t lda, const int8_t *b,
                 int64_t ldb, const int32_t *co, int32_t *c, int64_t ldc);

/* Which integer GEMM q8_gemm runs: "onednn-<isa>" (the ISA oneDNN dispatches to), "memaudit-avx2" or
 * "reference". Not collective. */
const char *q8_gemm_name(void);

/* oneDNN's version ("2.6.3") when this build has it, else NULL. Not collective. */
const char *q8_onednn_version(void);

/* Whether q8_gemm is fast here: not the reference. `--screen auto` screens only then. Not collective. */
int q8_gemm_fast(void);

/* The layout q8_tile reads: x rows q8_x_stride(d) bytes apart (d, or d rounded up to 8 for memaudit's
 * GEMM; the bytes past d are any value), a y block of `rows` rows in q8_y_bytes(rows, d) bytes, row r
 * (d signed bytes q) stored there by q8_y_put (row-major, or packed in panels for memaudit's GEMM), its
 * column offsets in q8_y_rows(rows) int32 (rows rounded up to a panel; the ones past rows are 0). Not
 * collective. */
int64_t q8_x_stride(int64_t d);
int64_t q8_y_rows(int64_t rows);
int64_t q8_y_bytes(int64_t rows, int64_t d);
void q8_y_put(int8_t *y, int64_t r, int64_t d, const int8_t *q);

/* Whether q8_tile needs its int32 scratch c: not for memaudit's GEMM, which converts in registers. Not
 * collective. */
int q8_tile_scratch(void);

/* The screened tile of x rows [i0, i0 + mi) against y rows [j0, j0 + nj): s[i * lds + t] = the
 * conversion of q8_tile_to_float of sum_k x[i][k] * y_{yr + t}[k] + co[yr + t], where x points at the
 * quantised row i0 (q8_x_stride apart), y is a quantised y block (q8_y_put) whose row yr is y row j0 and
 * co its column offsets, indexed as its rows. c is scratch for mi x lds int32 where q8_tile_scratch()
 * (the engines that convert after the GEMM), else unused (may be NULL). self: x and y are the same rows
 * (a self-search), and entries with j0 + t <= i0 + i may be left unwritten. Not collective. */
void q8_tile(const q8_screen *q, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const uint8_t *x, const int8_t *y,
             int64_t yr, const int32_t *co, int32_t *c, float *s, int64_t lds, int self);

/* One screened similarity from its integer sum c: fma((float)c * sx, sy, fma(ex, qny, fma(nx, ey,
 * -shift))), each multiply and fused multiply-add rounded once to float (fmaf: the same bits as the
 * vector versions' FMA instructions). Not collective. */
static inline float q8_convert1(int32_t c, float sx, float ex, float nx, float shift, float sy, float qny, float ey)
{
  return fmaf((float)c * sx, sy, fmaf(ex, qny, fmaf(nx, ey, -shift)));
}

/* Converts an integer tile to screened similarities: s[i * lds + j] = q8_convert1(c[i * ldc + j], sx[i],
 * ex[i], nx[i], shift, sy[j], qny[j], ey[j]) (the same bits on every path), for the x rows [i0, i0 + mi)
 * and y rows [j0, j0 + nj) of q's quantities. Not collective. */
void q8_tile_to_float(const q8_screen *q, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const int32_t *c,
                      int64_t ldc, float *s, int64_t lds);

#endif
