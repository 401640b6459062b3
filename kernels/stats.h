/* Small statistics for the recall estimate. Pure. */
#ifndef MA_STATS_H
#define MA_STATS_H

#include <stdint.h>

/* A ratio estimate r = sum(f) / sum(t) over n sampled units (unit i has t[i] true pairs, f[i] of them
 * found), with a 95% interval: the wider of the cluster-robust (delta-method) normal interval, which
 * accounts for pairs of one unit not being independent, and the Wilson score interval on the pooled
 * counts, which stays honest when every pair was found. recall is NaN (and the interval [0, 1]) when no
 * unit has a true pair. Not collective. */
void stats_ratio_ci(const int64_t *f, const int64_t *t, int64_t n, double *recall, double *lo, double *hi);

/* The Wilson score interval for k successes in n trials at 95%. Not collective. */
void stats_wilson(int64_t k, int64_t n, double *lo, double *hi);

#endif
