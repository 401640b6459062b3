/* The blocked inner-product engine: one tiled loop over x rows × y rows, each tile computed by SGEMM
 * and handed, while still hot in cache, to a result handler (argmax, top-k, range pairs: see
 * kernels/ip_handlers.h). k-means assignment, nearest-neighbour search and duplicate search all run
 * through it. The contract (block sizes, edge cases, what a handler may assume) is docs/kernels.md. */
#ifndef MA_IP_TILE_H
#define MA_IP_TILE_H

#include <stdint.h>

#include "core/status.h"

/* Element type of a row set. float16 is IEEE half stored as uint16_t. */
typedef enum { MA_F32 = 0, MA_F16 = 1 } ma_dtype;

/* rows vectors, row r at data + r * ld elements (ld >= the vector length). */
typedef struct {
  const void *data;
  ma_dtype type;
  int64_t rows;
  int64_t ld;
} ma_rows;

/* A result handler. tile() receives S[i * lds + j] = <x_{i0+i}, y_{j0+j}> for 0 <= i < mi and
 * 0 <= j < nj, where i0 and j0 are row indices into the x and y of the ip_search call. A tile()
 * that fails records its message with ma_fail() and returns the code; the search stops and returns
 * it. */
typedef struct ip_handler {
  ma_status (*tile)(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float *s,
                    int64_t lds);
  void *ctx;
} ip_handler;

/* Rows of x (bm) and of y (bn) per tile, and rows of the inner operand (the one with fewer rows)
 * kept widened to float across a pass (chunk). 0 means the default. A tile's inner products are
 * SGEMM's, whose rounding depends on the tile's shape (OpenBLAS takes other code paths for small
 * shapes): handlers that must give the same bits wherever a row falls rescore their candidates exactly
 * (the argmax handler, topk_exact). */
/* Buffers a search may keep for the next one: the tile and the float copies of float16 rows. A caller
 * that runs many searches in a row (the intra-cluster search, the Lloyd iterations) passes one in
 * ip_blocking.ws, so that they are allocated, and their pages faulted in, once rather than per call
 * (page faults were a tenth of a float16 search's time on 2 ranks); ip_workspace_free() returns them. */
typedef struct ip_workspace {
  void *buf[8];
  int64_t cap[8]; /* bytes */
} ip_workspace;

struct q8_screen;

/* screen: NULL for the SGEMM tiles; else the int8 screening of this search's x and y (kernels/quant.h,
 * q8_screen_init on the same rows): tiles then hold screened similarities, within screen->band of the
 * exact ones (not of SGEMM's), and the handler must use that band. */
typedef struct {
  int64_t bm, bn, chunk;
  ip_workspace *ws; /* NULL: buffers allocated and freed by each call */
  const struct q8_screen *screen;
} ip_blocking;

/* Frees the buffers of w and empties it. Not collective. */
void ip_workspace_free(ip_workspace *w);

/* Defaults, measured on AMD EPYC (AVX-512, 2 MiB L2 per core) with OpenBLAS on 1 thread: a 1 MiB
 * tile stays in L2 for the handler; see docs/kernels.md. IP_CHUNK_BYTES bounds the float copy of the
 * inner operand. */
enum { IP_BM_DEFAULT = 256, IP_BN_DEFAULT = 1024 };
#define IP_CHUNK_BYTES ((int64_t)64 << 20)

/* Hands every tile of x (rows × d) against y (rows × d) to h. b may be NULL (defaults). Tiles come in
 * no promised order; each (i, j) is in exactly one tile. Fails with MA_ERR_USAGE on bad arguments,
 * MA_ERR_RUNTIME when the workspace cannot be allocated, or the handler's code. Not collective. */
ma_status ip_search(const ma_rows *x, const ma_rows *y, int64_t d, const ip_handler *h,
                    const ip_blocking *b);

/* Like ip_search(x, x, ...), but only for the pairs with j > i, each in exactly one tile: a block of
 * x rows from i0 meets columns from i0 on, the square on the diagonal (computed by SSYRK) in a tile of
 * its own. A tile may hold entries with j <= i; their values are undefined, and the handler skips them
 * itself (ip_range_ctx.self). Not collective. */
ma_status ip_search_self(const ma_rows *x, int64_t d, const ip_handler *h, const ip_blocking *b);

#endif
