/* Two-level spherical k-means: about sqrt(k) coarse clusters, then k-means inside each.
 *
 * Flat k-means costs 2·S·k·D per Lloyd iteration (S = per_cluster·k sample items) and N·k·D for the
 * assignment, and its seeding reduces ~5k candidates to k on rank 0: quadratic in k, which at the k
 * that hundreds of millions of rows need (k ≈ N/1000) no longer runs. In two levels, coarse cluster j
 * of n_j items gets k_j ≈ k·n_j/N fine clusters, found by a flat k-means over its items alone; with
 * k1 ≈ k_j ≈ sqrt(k) every k-means is small, and the work is about sqrt(k) times less (docs/kmeans.md).
 *
 * Rows never move. The fine k-means of coarse cluster j runs on every rank over that rank's items of
 * j, like any flat k-means, with its random streams keyed by (seed, clustering, j): the result is the
 * same bits at any rank count. An item's fine cluster is then the nearest fine centroid of its
 * KM_TOP_COARSE nearest coarse clusters, by exact similarity. */
#include "jobs/clustering.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/ip_handlers.h"
#include "kernels/kmeans.h"
#include "kernels/topk_exact.h"
#include "kernels/rng.h"
#include "mpi/comm.h"

/* Coarse clusters an item may take its fine cluster from: its nearest and the next. An item near a coarse
 * boundary often belongs to a fine cluster across it: with one, the true pair recall after one
 * clustering of tests/mpi/test_two_level.py was 0.9645 against flat k-means' 0.9789; with two, 0.9810. */
#define KM_TOP_COARSE 2

/* Some of this rank's rows, copied: their ids and their row numbers here. */
typedef struct gathered {
  ma_rows rows; /* owns data */
  int64_t *ids, *where;
} gathered;

static void gathered_free(gathered *g)
{
  free((void *)g->rows.data);
  free(g->ids);
  free(g->where);
  memset(g, 0, sizeof *g);
}

/* This rank's rows whose first `use` nearest coarse clusters (top[i * p ..]) include j, in their order. */
static ma_status gather_rows(const ma_rows *local, const int64_t *ids, const int64_t *top, int p, int use, int64_t j,
                             int64_t d, gathered *g)
{
  size_t esize = local->type == MA_F16 ? 2 : 4;
  int64_t m = 0;
  for (int64_t i = 0; i < local->rows; i++)
    for (int t = 0; t < use; t++) m += top[i * p + t] == j;
  char *data = malloc((size_t)(m * d) * esize + 1);
  g->rows = (ma_rows){data, local->type, m, d};
  g->ids = malloc((size_t)(m + 1) * sizeof *g->ids);
  g->where = malloc((size_t)(m + 1) * sizeof *g->where);
  if (!data || !g->ids || !g->where) {
    gathered_free(g);
    return ma_fail(MA_ERR_RUNTIME, "out of memory gathering a coarse cluster's %lld rows", (long long)m);
  }
  int64_t q = 0;
  for (int64_t i = 0; i < local->rows; i++) {
    int in = 0;
    for (int t = 0; t < use; t++) in |= top[i * p + t] == j;
    if (!in) continue;
    memcpy(data + (size_t)(q * d) * esize, (const char *)local->data + (size_t)(i * local->ld) * esize, (size_t)d * esize);
    g->ids[q] = ids[i];
    g->where[q++] = i;
  }
  return MA_OK;
}

/* Every local row to the nearest fine centroid of its p nearest coarse clusters (exact similarities,
 * ties to the lower fine id: the same at any rank count); then the sizes and the objective over all
 * ranks. first[j]: coarse cluster j's first fine centroid. Collective on comm. */
static ma_status reassign(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int64_t *top, int p,
                          int64_t k1, const int64_t *first, int64_t n, int64_t d, km_result *out)
{
  ma_status st = MA_OK;
  int64_t k = first[k1], *best = NULL, *got = NULL, sum = 0, all = 0;
  float *best_sim = NULL, *got_sim = NULL;
  gathered sub = {0};
  ip_workspace ws = {0};
  const ip_blocking blk = {.ws = &ws};
  MA_ALLOC(best, local->rows + 1);
  MA_ALLOC(best_sim, local->rows + 1);
  for (int64_t i = 0; i < local->rows; i++) {
    best[i] = -1;
    best_sim[i] = -INFINITY;
  }
  for (int64_t j = 0; j < k1; j++) {
    if (first[j + 1] == first[j]) continue;
    MA_TRY(gather_rows(local, ids, top, p, p, j, d, &sub));
    MA_ALLOC(got, sub.rows.rows + 1);
    MA_ALLOC(got_sim, sub.rows.rows + 1);
    ma_rows y = {out->centroids + first[j] * d, MA_F32, first[j + 1] - first[j], d};
    ip_argmax_ctx am;
    ip_argmax_init(&am, &sub.rows, &y, d, got, got_sim);
    ip_handler h = ip_argmax_handler(&am);
    if (sub.rows.rows) MA_TRY(ip_search(&sub.rows, &y, d, &h, &blk));
    for (int64_t q = 0; q < sub.rows.rows; q++) {
      int64_t i = sub.where[q], c = first[j] + got[q];
      if (got_sim[q] > best_sim[i] || (got_sim[q] == best_sim[i] && c < best[i])) {
        best_sim[i] = got_sim[q];
        best[i] = c;
      }
    }
    gathered_free(&sub);
    free(got);
    free(got_sim);
    got = NULL;
    got_sim = NULL;
  }
  memset(out->sizes, 0, (size_t)k * sizeof *out->sizes);
  for (int64_t i = 0; i < local->rows; i++) {
    out->assignment[i] = (int32_t)best[i];
    out->sizes[best[i]]++;
  }
  sum = km_fixed_sum(best_sim, local->rows);
done:
  st = mpi_agree(comm, st);
  if (st == MA_OK) st = mpi_sum_i64_array(comm, out->sizes, k);
  if (st == MA_OK) st = mpi_sum_i64(comm, sum, &all);
  if (st == MA_OK) out->objective = (double)all / KM_FIXED_ONE / (double)n;
  ip_workspace_free(&ws);
  gathered_free(&sub);
  free(got);
  free(got_sim);
  free(best);
  free(best_sim);
  return st;
}

ma_status km_cluster_two_level(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                               const km_config *cfg, km_result *out)
{
  ma_status st = MA_OK;
  km_result coarse = {0}, fine = {0};
  int64_t *kj = NULL, *first = NULL, *top = NULL;
  float *top_sim = NULL;
  gathered sub = {0};
  int64_t k = cfg->k, k1 = (int64_t)llround(sqrt((double)k));
  memset(out, 0, sizeof *out);
  if (k < 1 || k > n)
    return ma_fail(MA_ERR_DATA, "%lld rows are fewer than the %lld clusters asked for", (long long)n, (long long)k);
  if (k1 < 1) k1 = 1;
  int p = k1 < KM_TOP_COARSE ? (int)k1 : KM_TOP_COARSE;

  /* The coarse level: a flat k-means of its own, its streams keyed apart from every fine one's; then
   * each row's p nearest coarse clusters, exactly (the first is its coarse cluster). */
  double t0 = log_now();
  km_config c1 = *cfg;
  c1.k = k1;
  c1.seed = rng_hash(cfg->seed, RNG_KMEANS_LEVEL, 0);
  c1.stop_on_search_cost = 0; /* coarse clusters are not searched: train them fully */
  MA_TRY(km_cluster_flat(comm, local, ids, n, d, &c1, &coarse));
  top = malloc((size_t)(local->rows * p + 1) * sizeof *top);
  top_sim = malloc((size_t)(local->rows * p + 1) * sizeof *top_sim);
  out->centroids = calloc((size_t)(k * d), sizeof *out->centroids);
  out->assignment = malloc((size_t)(local->rows + 1) * sizeof *out->assignment);
  out->sizes = calloc((size_t)k, sizeof *out->sizes);
  kj = calloc((size_t)k1, sizeof *kj);
  first = calloc((size_t)k1 + 1, sizeof *first);
  if (!top || !top_sim || !out->centroids || !out->assignment || !out->sizes || !kj || !first)
    st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  if (st == MA_OK) {
    ma_rows cc = {coarse.centroids, MA_F32, k1, d};
    st = topk_exact(local, &cc, d, NULL, p, 2.0f, top, top_sim, NULL, NULL, NULL);
  }
  MA_TRY(mpi_agree(comm, st));
  log_info("clustering %d: two-level k-means: %lld coarse clusters (objective %.4f) in %.2f s", cfg->clustering,
           (long long)k1, coarse.objective, log_now() - t0);
  MA_TRY(km_fine_counts(coarse.sizes, k1, k, kj));
  for (int64_t j = 0; j < k1; j++) first[j + 1] = first[j] + kj[j];

  /* The fine level: coarse cluster by coarse cluster, every rank on its own items of it. */
  double lloyd_flops = 0, assign_flops = 0, train_objective = 0;
  int64_t largest = 0;
  t0 = log_now();
  for (int64_t j = 0; j < k1; j++) {
    if (kj[j] > largest) largest = kj[j];
    if (kj[j] == 0) continue;
    km_config cj = *cfg;
    cj.k = kj[j];
    cj.seed = rng_hash(cfg->seed, RNG_KMEANS_LEVEL, (uint64_t)j + 1);
    cj.quiet = 1;
    MA_TRY(mpi_agree(comm, gather_rows(local, ids, top, p, 1, j, d, &sub)));
    MA_TRY(km_cluster_flat(comm, &sub.rows, sub.ids, coarse.sizes[j], d, &cj, &fine));
    memcpy(out->centroids + first[j] * d, fine.centroids, (size_t)(kj[j] * d) * sizeof *out->centroids);
    out->sample += fine.sample;
    train_objective += fine.train_objective * (double)fine.sample; /* in coarse order: the same on every rank */
    out->seed_flops += fine.seed_flops;
    out->flops += fine.flops;
    out->seconds_lloyd += fine.seconds_lloyd;
    out->seconds_assign += fine.seconds_assign;
    if (fine.iterations > out->iterations) out->iterations = fine.iterations;
    lloyd_flops += 2.0 * (double)fine.sample * (double)kj[j] * (double)d * fine.iterations;
    assign_flops += 2.0 * (double)coarse.sizes[j] * (double)kj[j] * (double)d;
    km_result_free(&fine);
    gathered_free(&sub);
    log_progress(j + 1, k1);
  }
  /* Then every row to the nearest fine centroid of its p nearest coarse clusters. */
  double t1 = log_now();
  MA_TRY(reassign(comm, local, ids, top, p, k1, first, n, d, out));
  out->seconds_assign += log_now() - t1;
  assign_flops += 2.0 * (double)n * (double)(k1 + (double)p * (double)k / (double)k1) * (double)d;
  out->train_objective = out->sample ? train_objective / (double)out->sample : 0;
  out->seed_flops += coarse.seed_flops;
  out->flops += coarse.flops + 2.0 * (double)n * (double)(k1 + (double)p * (double)k / (double)k1) * (double)d;
  out->gflops_lloyd = out->seconds_lloyd > 0 ? lloyd_flops / out->seconds_lloyd * 1e-9 : 0;
  out->gflops_assign = out->seconds_assign > 0 ? assign_flops / out->seconds_assign * 1e-9 : 0;
  log_info("clustering %d: %lld fine clusters (%lld to %lld per coarse cluster, from the %d nearest coarse ones), "
           "objective %.6f, in %.2f s", cfg->clustering, (long long)k, (long long)(k / k1), (long long)largest, p,
           out->objective, log_now() - t0);
done:
  km_result_free(&coarse);
  km_result_free(&fine);
  gathered_free(&sub);
  free(kj);
  free(first);
  free(top);
  free(top_sim);
  if (st != MA_OK) km_result_free(out);
  return st;
}
