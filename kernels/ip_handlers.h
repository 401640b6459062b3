/* Result handlers for ip_search (kernels/ip_tile.h): what to keep of each tile of inner products.
 *
 *   argmax  per x row, the most similar y row, exactly     (k-means assignment)
 *   top-k   per x row, the k most similar y ids, and a count of y rows at or above a threshold
 *                                                          (nearest-neighbour search, audit)
 *   range   every (x row, y row) pair at or above a threshold   (duplicate search)
 *
 * Ties go to the lower y index (argmax) or id (top-k). Similarities are expected finite: a NaN never
 * wins and is never counted. Handler contexts are plain structs the caller owns; one context must not
 * be used by two searches at once. Row scans run in plain C, AVX2 or AVX-512, as cpu_isa_active()
 * (core/cpu.h) says; every path gives the same results. */
#ifndef MA_IP_HANDLERS_H
#define MA_IP_HANDLERS_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"

/* ---- argmax ---- */

/* The argmax is exact: GEMM similarities only pick candidates; the ones within topk_exact_band(d) of
 * the row's best are rescored by topk_exact_dot, and best_sim is that exact value. So the result is
 * ip_ref_argmax's, bit for bit, whatever the blocking, where a row falls in a tile (which the rank
 * count changes) or the BLAS, provided rows have norm at most about 1 (the band's assumption). */
typedef struct {
  int64_t *best;       /* [x rows] y row index of the largest exact inner product; -1 before any */
  float *best_sim;     /* [x rows] that inner product (topk_exact_dot); -INFINITY before any */
  const ma_rows *x, *y; /* the rows of the search, to rescore candidates */
  int64_t d;
  int64_t rescored;    /* exact inner products computed so far (for logs and tests) */
  float band;          /* the bound on |tile value - exact|: topk_exact_band(d) for SGEMM tiles, the
                          screening's band for int8 ones (kernels/quant.h) */
} ip_argmax_ctx;

/* Points c at best[x->rows] and best_sim[x->rows], empties them, and keeps x, y and d, which must be
 * those given to ip_search; band = topk_exact_band(d) (a screened search sets its own). Not collective. */
void ip_argmax_init(ip_argmax_ctx *c, const ma_rows *x, const ma_rows *y, int64_t d, int64_t *best,
                    float *best_sim);

/* The handler that keeps, per x row, the largest exact inner product and its y row (ties: lower y row).
 * Not collective. */
ip_handler ip_argmax_handler(ip_argmax_ctx *c);

/* The first j in [from, n) with s[j] >= t, or n: the handlers' vector row scan (the path
 * cpu_isa_active() names), for handlers built on them (kernels/topk_exact.c). Not collective. */
int64_t ip_first_ge(const float *s, int64_t from, int64_t n, float t);

/* The largest float at most v - band (exactly, not rounded to nearest): an approximate similarity below
 * it is more than band below v. Not collective. */
float ip_reach_of(float v, float band);

/* ---- top-k ---- */

typedef struct {
  int k;                /* list length, >= 1 */
  int64_t *ids;         /* [x rows][k] ids, most similar first, ties by lower id; -1 = empty slot */
  float *sims;          /* [x rows][k] their similarities; -INFINITY = empty slot */
  const int64_t *y_ids; /* id of y row j is y_ids[j]; NULL: id_offset + j */
  int64_t id_offset;
  float threshold;      /* for count */
  int64_t *count;       /* [x rows] += y rows with similarity >= threshold; NULL: not counted */
} topk_ctx;

/* Points c at the lists ids[n][k], sims[n][k] and count[n] (count may be NULL), empties the lists,
 * zeroes count, and sets y_ids = NULL, id_offset = 0. The lists then gather over any number of
 * searches: between searches over successive chunks of y, set y_ids or id_offset to the chunk's ids.
 * Not collective. */
void topk_init(topk_ctx *c, int64_t n, int k, int64_t *ids, float *sims, int64_t *count,
               float threshold);

/* The handler that merges each tile into the per-row lists (and counts). Fails with MA_ERR_USAGE if
 * k < 1. Not collective. */
ip_handler topk_handler(topk_ctx *c);

/* out = the k best of the two lists a and b (each sorted, most similar first, ties by lower id, empty
 * slots (-1, -INFINITY) last), in the same order. The lists hold different ids; out must not overlap
 * them. Not collective. */
void topk_merge(int k, const int64_t *ida, const float *sa, const int64_t *idb, const float *sb,
                int64_t *out_id, float *out_s);

/* ---- range ---- */

/* A pair of row indices, a into x and b into y, with their similarity. */
typedef struct {
  int64_t a, b;
  float sim;
} ip_pair;

typedef struct {
  float threshold; /* keep pairs with sim >= threshold */
  int self;        /* keep only b > a (for ip_search_self) */
  ip_pair *pairs;  /* [n] in no promised order; capacity cap; the caller may reset n to 0 */
  int64_t n, cap;
} ip_range_ctx;

/* An empty pair list. Not collective. */
void ip_range_init(ip_range_ctx *c, float threshold, int self);

/* Frees the pairs; c is empty afterwards. Not collective. */
void ip_range_free(ip_range_ctx *c);

/* The handler that appends every pair with sim >= threshold (and b > a when self) to c->pairs,
 * growing it; it fails with MA_ERR_RUNTIME when it cannot, keeping the pairs it had. Not collective. */
ip_handler ip_range_handler(ip_range_ctx *c);

#endif
