/* The statistics of the audit verdict: the Mann–Whitney U test of two samples and sample quantiles.
 *
 * U of sample a counts the pairs (a_i, b_j) with a_i > b_j, plus half the pairs with a_i = b_j; it is
 * computed from midranks of the pooled sample, with the variance corrected for ties and a continuity
 * correction of 1/2 in the normal approximation (as R's wilcox.test and SciPy's mannwhitneyu with
 * use_continuity). Pure: no MPI, no I/O. */
#ifndef MA_MANNWHITNEY_H
#define MA_MANNWHITNEY_H

#include <stdint.h>

#include "core/status.h"

typedef struct mw_result {
  int64_t na, nb;
  double u;         /* U of sample a */
  double auc;       /* u / (na nb): P(a > b) + P(a = b) / 2, the common-language effect size */
  double z;         /* (u - na nb / 2 - 1/2) / sigma, sigma with the tie correction; 0 when sigma = 0 */
  double p_greater; /* one-sided p-value of "a tends to be larger than b": 1 - Phi(z); 1 when sigma = 0 */
} mw_result;

/* The one-sided test of "values of a tend to be larger than values of b". Both samples need at least one
 * value (MA_ERR_USAGE otherwise); values are finite or -INFINITY (NaN is a usage error). Allocates a
 * sorted copy of both (MA_ERR_RUNTIME when it cannot). Not collective. */
ma_status mw_test(const float *a, int64_t na, const float *b, int64_t nb, mw_result *r);

/* out[i] = the probs[i]-quantile of v[0..n), probs in [0, 1], by linear interpolation between order
 * statistics (position (n - 1) p: numpy's default, R's type 7). n >= 1 (MA_ERR_USAGE otherwise).
 * Allocates a sorted copy of v. Not collective. */
ma_status mw_quantiles(const float *v, int64_t n, const double *probs, int np, double *out);

#endif
