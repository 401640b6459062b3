/* The pure parts of spherical k-means: fixed-point accumulation of cluster sums (so that sums
 * reduced over any number of ranks are bit-identical), centroids from sums, repair of empty clusters,
 * and the local weighted k-means++ that turns k-means|| candidates into K seeds. The distributed
 * driver is jobs/clustering.c. */
#ifndef MA_KMEANS_H
#define MA_KMEANS_H

#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"

/* Vectors are unit norm, so a component is in [-1, 1]; 2^24 steps per unit keep float precision
 * and let 2^39 items share one cluster before an int64 sum could overflow. */
#define KM_FIXED_ONE 16777216.0

/* sums[a*d + j] += round(x[i][j] * KM_FIXED_ONE) (half away from zero) and counts[a]++ for a = assign[i],
 * over the n rows of x (float32 or float16). Scalar or AVX2 (also on the AVX-512 path); the same
 * integers as km_accumulate_ref on every path. Not collective. */
ma_status km_accumulate(const ma_rows *x, int64_t d, const int64_t *assign, int64_t k, int64_t *sums,
                        int64_t *counts);
void km_accumulate_ref(const ma_rows *x, int64_t d, const int64_t *assign, int64_t k, int64_t *sums,
                       int64_t *counts);

/* round(v * KM_FIXED_ONE) summed over v[0..n). Not collective. */
int64_t km_fixed_sum(const float *v, int64_t n);

/* centroid c = sums[c] / |sums[c]| (in double); a cluster with no members or a zero sum is marked
 * empty (empty[c] = 1) and its centroid left as it was. Returns the number of empty clusters. Not
 * collective. */
int64_t km_centroids(const int64_t *sums, const int64_t *counts, int64_t k, int64_t d, float *centroids,
                     unsigned char *empty);

/* Splits centroid big in two: centroids big and e become big's moved by -eps and +eps (eps = 2^-10 per
 * element) along a random direction drawn from (seed, stream, counter = e * d + element), then
 * renormalised. Not collective. */
void km_split_into(float *centroids, int64_t big, int64_t e, int64_t d, uint64_t seed, uint64_t stream);

/* Gives each empty cluster (in index order) half of the currently largest one (ties: lower index), as
 * FAISS does: both centroids become the large one's moved by ±eps along a random direction drawn from
 * (seed, stream, counter = cluster), then renormalised; counts are split in two. Returns the number of
 * clusters repaired. Not collective. */
int64_t km_split_empty(float *centroids, int64_t *counts, const unsigned char *empty, int64_t k, int64_t d,
                       uint64_t seed, uint64_t stream);

/* K seeds from nc weighted candidates (row-major, unit norm, float32): candidate i stands for weight[i]
 * items whose mean squared distance to it is spread[i]. Greedy k-means++ (see kmeans.c for how the
 * spread enters), then `iters` weighted Lloyd iterations, all deterministic from (seed, stream, and
 * whether the nc x nc similarities fit in gram_bytes: then they are computed once, else per step). With
 * nc <= k every candidate is a seed and the rest repeat them. Not collective. */
ma_status km_seed_from_candidates(const float *cand, const double *weight, const double *spread, int64_t nc, int64_t d,
                                  int64_t k, uint64_t seed, uint64_t stream, int iters, int64_t gram_bytes,
                                  float *centroids);

/* Bytes of candidate similarities kept for k-means++ (a 5,000-candidate k-means|| at K = 1024 fits). */
#define KM_GRAM_BYTES ((int64_t)128 << 20)

/* The GEMM flops of km_seed_from_candidates for nc candidates (with `iters` Lloyd iterations). Not
 * collective. */
double km_seed_flops(int64_t nc, int64_t d, int64_t k, int iters, int64_t gram_bytes);

/* The flops an intra-cluster search would cost if n items fell into clusters in the proportions of the
 * sample's counts (sample items over all clusters): a cluster of m items costs m^2 / 2 inner products
 * of d multiply-adds, i.e. d * sum_c (counts[c] * n / sample)^2 flops. dedup stops its Lloyd iterations
 * when one no longer lowers this by as much as it costs. Not collective. */
double km_search_flops(const int64_t *counts, int64_t k, int64_t sample, int64_t n, int64_t d);

/* Two-level k-means: how many of k clusters each of the k1 coarse clusters gets, in proportion to its
 * size: k_j = floor(k n_j / n), then one more to the largest remainders (ties: the lower j) until they
 * sum to k (or one less from the smallest, when the floors of 1 for small clusters overshoot); never
 * more than n_j, at least 1 for a non-empty cluster. MA_ERR_DATA when the n = sum n_j items cannot
 * hold k clusters. The same on every rank (it reads only the global sizes). Not collective. */
ma_status km_fine_counts(const int64_t *sizes, int64_t k1, int64_t k, int64_t *kj);

/* The size cap of two-level k-means: which fine clusters to split, and whose centroid each split
 * takes. In every coarse cluster j (its fine clusters are first[j] .. first[j+1]-1), the clusters of
 * more than big_above items, largest first (ties: the lower id), are paired with the smallest of the
 * others that hold at most donor_at_most items, smallest first (ties: the lower id), one donor each,
 * while there are donors. big[q], donor[q]: the q-th pair, in coarse order; returns how many. The
 * donor's items go to their next nearest clusters; the search pays m^2 for a cluster of m items, so
 * splitting m > 4 mean into halves saves more than scattering a donor of at most the mean costs. Not
 * collective (it reads only the global sizes). */
int64_t km_cap_pairs(const int64_t *sizes, int64_t k1, const int64_t *first, int64_t big_above, int64_t donor_at_most,
                     int64_t *big, int64_t *donor);

#endif
