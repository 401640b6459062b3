/* Distributed spherical k-means over sharded rows: the library behind `memaudit kmeans` and the
 * clusterings of `memaudit dedup`. Rows never move: each rank trains on its own rows that fall in the
 * clustering's sample, and only K×D sums cross the network per iteration. */
#ifndef MA_JOBS_CLUSTERING_H
#define MA_JOBS_CLUSTERING_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "jobs/options.h"
#include "kernels/ip_tile.h"

/* How k clusters are found: flat k-means over all of them, or two levels (about sqrt(k) coarse
 * clusters, then a k-means inside each); auto picks two levels from KM_TWO_LEVEL_FROM clusters on when
 * the rows fill every cluster's sample (km_resolve_k). Flat k-means++ seeding on rank 0 grows as k^2:
 * at K = 1000 it was 5.4% of a 1M-row dedup, at K = 2000 it took 2.3 Lloyd iterations' time. */
typedef enum { KM_AUTO = 0, KM_FLAT = 1, KM_TWO_LEVEL = 2 } km_method;
enum { KM_TWO_LEVEL_FROM = 1536, KM_AUTO_CLUSTER_SIZE = 1000 };

typedef struct km_config {
  int64_t k;          /* clusters; 0: --clusters auto, until km_resolve_k */
  int iters;          /* Lloyd iterations at most */
  int64_t per_cluster; /* the sample holds about per_cluster * k items (all of them when that is >= n) */
  uint64_t seed;
  int clustering;     /* r: which of the reclusterings; its sample and seeds follow from (seed, r) */
  int init_rounds;    /* k-means|| rounds (default 5) */
  int stop_on_search_cost; /* stop Lloyd once an iteration saves less search work than it costs (dedup) */
  km_method method;
  int quiet;          /* progress lines at -v only (the fine clusterings of two-level k-means) */
  int no_assignment;  /* train only: no assignment (left NULL), sizes or objective (two-level's fine k-means, whose
                         rows are assigned afterwards from their 2 nearest coarse clusters) */
  int screen;         /* 1: the Lloyd iterations and the assignment screen with int8 (kernels/quant.h) */
} km_config;

typedef struct km_result {
  float *centroids;     /* rows [c_lo, c_hi) of the [k][d] centroids, unit norm (km_own_range) */
  int64_t c_lo, c_hi;
  int32_t *assignment;  /* [local rows] */
  int64_t *sizes;       /* [k] over all ranks */
  double objective;     /* mean cosine of every item to its centroid */
  double train_objective; /* the same over the sample, at the last iteration */
  int iterations;
  int64_t sample;       /* items the clustering trained on */
  double seed_flops;    /* the GEMM work of seeding: k-means|| rounds and the k-means++ that reduces them */
  double seconds_seed;  /* seeding's wall time (both levels) */
  double flops;         /* all the GEMM work: seeding, Lloyd iterations, the assignment (both levels) */
  double seconds_lloyd, gflops_lloyd;   /* Lloyd iterations: wall time, 2*sample*k*d per iteration / time */
  double seconds_assign, gflops_assign; /* the assignment of all items */
  int64_t rescored_lloyd, rescored_assign; /* exact inner products of the argmax, over all ranks */
} km_result;

/* The clustering options that kmeans and dedup share; each command numbers its own options from
 * OPT_KM_NEXT. */
enum { OPT_KM_CLUSTERS = OPT_COMMAND, OPT_KM_ITERS, OPT_KM_PER_CLUSTER, OPT_KM_RECLUSTER, OPT_KM_METHOD, OPT_KM_NEXT };
#define KM_LONG_OPTIONS                                                                                        \
  {"clusters", required_argument, 0, OPT_KM_CLUSTERS}, {"iters", required_argument, 0, OPT_KM_ITERS},        \
      {"sample-per-cluster", required_argument, 0, OPT_KM_PER_CLUSTER},                                        \
      {"reclusterings", required_argument, 0, OPT_KM_RECLUSTER}, {"kmeans", required_argument, 0, OPT_KM_METHOD}
#define KM_HELP                                                                                                 \
  "  --clusters K|auto         clusters per clustering (default 1024; auto: rows / 1000)\n"                    \
  "  --kmeans flat|two-level|auto  flat k-means, or sqrt(K) coarse clusters then k-means inside each\n"       \
  "                            (default auto: two-level from 1536 clusters on, when rows >= P x K)\n"

/* Sets k from n for --clusters auto (n / KM_AUTO_CLUSTER_SIZE, at least 1) and logs it, and resolves
 * --kmeans auto: two levels from KM_TWO_LEVEL_FROM clusters on when n >= per_cluster * k, else flat.
 * Not collective (every rank has the same n). */
void km_resolve_k(km_config *km, int64_t n);

/* "flat" or "two-level": the method km_cluster uses for km's k. Not collective. */
const char *km_method_name(const km_config *km);

/* Handles opt when it is one of KM_LONG_OPTIONS (*handled = 1). Not collective. */
ma_status km_option(km_config *km, int *reclusterings, int max_reclusterings, int opt, const char *arg, int *handled);

/* Clusters the rows (local: this rank's rows; ids: their global ids; n: rows over all ranks), flat or
 * in two levels as cfg->method says. The result is bit-identical whatever the number of ranks.
 * Collective on comm. */
ma_status km_cluster(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                     const km_config *cfg, km_result *out);

/* Flat k-means (km_cluster's one level). Collective on comm. */
ma_status km_cluster_flat(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                          const km_config *cfg, km_result *out);

/* Two-level k-means (jobs/clustering_two_level.c): k1 = round(sqrt(k)) coarse clusters by flat
 * k-means; coarse cluster j gets k_j clusters in proportion to its size (km_fine_counts, sum k), found
 * by flat k-means over its items alone, seeded from (seed, clustering, j); an item's cluster is the
 * nearest fine centroid of its 2 nearest coarse clusters. Collective on comm. */
ma_status km_cluster_two_level(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                               const km_config *cfg, km_result *out);

/* Bytes km_cluster needs on a rank holding `rows` rows of `row_bytes` (beyond the rows themselves).
 * Not collective. */
int64_t km_memory(int64_t rows, int64_t row_bytes, const km_config *km, int64_t d, int64_t n);

void km_result_free(km_result *r);

/* The centroids are spread over the ranks: after km_cluster (and km_load), rank r holds rows [*lo, *hi)
 * of the k, as shard_range splits them, and writes those; no rank keeps k x d floats, which at k = 300k,
 * d = 768 would be 0.9 GB on every rank. Not collective. */
ma_status km_own_range(MPI_Comm comm, int64_t k, int64_t *lo, int64_t *hi);

/* Trims a result holding all k centroids to this rank's rows (km_own_range). Not collective. */
ma_status km_keep_own(MPI_Comm comm, km_result *r, int64_t k, int64_t d);

/* out[q * d ..] = centroid which[q] for q < m, on every rank, from the ranks that hold them. Collective
 * on comm (every rank passes the same which). */
ma_status km_fetch_centroids(MPI_Comm comm, const km_result *r, int64_t d, const int64_t *which, int64_t m,
                             float *out);

#include "io/ckpt.h"

/* Saves clustering r in the work directory (as km_write lays it out) / reads it back, this rank's
 * assignments at offset. Collective on the checkpoint's comm. */
ma_status km_save(const ckpt *c, int r, const km_result *res, int64_t k, int64_t d, int64_t n, int64_t offset,
                  int64_t local);
ma_status km_load(const ckpt *c, int r, int64_t k, int64_t d, int64_t offset, int64_t local, km_result *res);

/* Whether clustering r is saved in the work directory (false when c is NULL). Collective. */
ma_status km_saved(const ckpt *c, int r, int *saved);

#endif

#include "io/h5out.h"

/* Writes /clusterings/<r>/centroids (every rank its rows, km_own_range), /clusterings/<r>/assignment (every rank its rows at
 * `offset` of n) and /clusterings/<r>/sizes, with the clustering's objective and iterations as
 * attributes. Collective on the file's comm. */
ma_status km_write(h5out *o, int r, const km_result *res, int64_t k, int64_t d, int64_t n, int64_t offset,
                   int64_t local_rows);
