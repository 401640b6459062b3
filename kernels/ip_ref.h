/* Reference versions of the ip_search handlers (kernels/ip_handlers.h): the obvious loops, each inner
 * product summed in double in a fixed order (ip_ref_dot) and rounded to float once. Slow; the tests check the tuned kernels against
 * them. Same tie rules: argmax ties go to the lower y row, top-k ties to the lower id. */
#ifndef MA_IP_REF_H
#define MA_IP_REF_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_handlers.h"
#include "kernels/ip_tile.h"

/* <x_i, y_j> over d elements: the products in double, added into 16 partial sums s[c % 16] in index
 * order, folded 16 -> 8 -> 4 -> 2 -> 1 (s[l] += s[l + w]), rounded to float once. topk_exact_dot is
 * the fast version of this, with the same bits. Not collective. */
float ip_ref_dot(const ma_rows *x, int64_t i, const ma_rows *y, int64_t j, int64_t d);

/* best[i], best_sim[i]: the y row most similar to x row i and its similarity (-1, -INFINITY when y
 * has no rows). Not collective. */
ma_status ip_ref_argmax(const ma_rows *x, const ma_rows *y, int64_t d, int64_t *best,
                        float *best_sim);

/* ids[i][k], sims[i][k]: the k most similar y rows of x row i, as ids (y_ids[j], or id_offset + j
 * when y_ids is NULL), empty slots (-1, -INFINITY) last; count[i] (when count is not NULL): y rows
 * with similarity >= threshold. Overwrites, does not accumulate. Not collective. */
ma_status ip_ref_topk(const ma_rows *x, const ma_rows *y, int64_t d, int k, const int64_t *y_ids,
                      int64_t id_offset, float threshold, int64_t *ids, float *sims, int64_t *count);

/* *pairs (malloc'd, *n of them, sorted by (a, b)): every (a, b) with similarity >= threshold, and
 * b > a when self. Not collective. */
ma_status ip_ref_range(const ma_rows *x, const ma_rows *y, int64_t d, float threshold, int self,
                       ip_pair **pairs, int64_t *n);

#endif
