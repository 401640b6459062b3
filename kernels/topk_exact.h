/* Exact top-k search: the tiled GEMM (kernels/ip_tile.h) finds candidates at full speed, then every
 * candidate's similarity is recomputed in one fixed order (products and sums in double, in 16 lanes folded
 * in a fixed order, rounded to float once: the definition of ip_ref_dot). The lists and counts are therefore exactly those of ip_ref_topk,
 * bit for bit, whatever the BLAS, the blocking, or where a row falls in a tile — which is what makes a
 * distributed search give the same bytes at any rank count (OpenBLAS rounds a product differently in a
 * 1-column tile than in a 1024-column one).
 *
 * How candidates stay exact: for rows of norm at most ~1, a GEMM similarity differs from the exact one
 * by less than topk_exact_band(d) (the standard bound d·u·Σ|x_c y_c|, doubled). The top-k handler keeps
 * k + max(k, 8) candidates by GEMM similarity; after rescoring, a row's list is provably right when the
 * last candidate's GEMM similarity + band is below the exact k-th. Otherwise (more than the margin of
 * items within rounding of the k-th, e.g. many exact duplicates) that row is recomputed exactly against
 * every y row. The threshold count takes GEMM similarities at or above threshold + band as certain,
 * those below threshold − band as certainly not, and rescores the few in between. */
#ifndef MA_TOPK_EXACT_H
#define MA_TOPK_EXACT_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"

/* What the search did beyond the GEMM (for logs and tests). */
typedef struct topk_exact_stats {
  int64_t rescored;      /* exact inner products computed for candidates and the threshold band */
  int64_t fallback_rows; /* x rows whose list was recomputed against every y row */
} topk_exact_stats;

/* For each x row i: ids[i*k .. i*k+k) and sims[...] the k y rows most similar to it, as ids (y_ids[j],
 * or j when y_ids is NULL), most similar first, ties by lower id, empty slots (-1, -INFINITY) last when y
 * has fewer than k rows; count[i] (count may be NULL) the y rows with similarity >= threshold.
 * Similarities are exact as ip_ref_dot defines them. Ids must be distinct and >= 0. Rows should have
 * norm at most about 1 (the caller normalises). b may be NULL (default blocking). stats may be NULL;
 * otherwise its fields are increased. Fails with MA_ERR_USAGE on bad arguments (k < 1, d < 1, NULL
 * arrays), MA_ERR_RUNTIME when out of memory. Not collective. */
ma_status topk_exact(const ma_rows *x, const ma_rows *y, int64_t d, const int64_t *y_ids, int k, float threshold,
                     int64_t *ids, float *sims, int64_t *count, const ip_blocking *b, topk_exact_stats *stats);

/* (ib, sb) = the k best of the lists (ia, sa) and (ib, sb), merged in place: the same result as
 * topk_merge (kernels/ip_handlers.h; sorted lists, most similar first, ties by lower id, empty slots
 * (-1, -INFINITY) last, distinct ids) without a third buffer, for an MPI reduction operation, which
 * cannot allocate or fail. Not collective. */
void topk_merge_inplace(int64_t k, const int64_t *ia, const float *sa, int64_t *ib, float *sb);

/* <x_i, y_j>: the products in double (exact), added into 16 partial sums s[c % 16] in index order, the
 * sums folded 16 -> 8 -> 4 -> 2 -> 1 (s[l] += s[l + w] for w = 8, 4, 2, 1), rounded to float once. The
 * same bits as ip_ref_dot on every path (scalar; AVX2, which the AVX-512 path uses too), faster. Not
 * collective. */
float topk_exact_dot(const ma_rows *x, int64_t i, const ma_rows *y, int64_t j, int64_t d);

/* e[t] = topk_exact_dot(x, i, y, js[t], d) for t < n, the same bits, several dots at once (a lone dot
 * waits on the latency of its additions): for a row with many candidates. Not collective. */
void topk_exact_dots(const ma_rows *x, int64_t i, const ma_rows *y, const int64_t *js, int64_t n, int64_t d,
                     float *e);

/* The bound on |GEMM similarity − exact similarity| used for rows of dimension d. Not collective. */
float topk_exact_band(int64_t d);

/* Bytes topk_exact allocates for m x rows of dimension d and lists of k (ip_search's own tile
 * workspace included). Not collective. */
int64_t topk_exact_memory(int64_t m, int64_t d, int k);

#endif
