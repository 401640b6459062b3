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
 * KM_TOP_COARSE nearest coarse clusters, by exact similarity. Centroids do not stay everywhere: each
 * rank keeps the rows km_own_range gives it, and the reassignment fetches coarse cluster j's fine
 * centroids (about sqrt(k) of them) when it needs them. */
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

/* Some of this rank's rows, copied: their ids and their row numbers here. The buffers grow and are
 * reused from one gather to the next (fresh multi-MiB buffers would be page-faulted in each time). */
typedef struct gathered {
  ma_rows rows; /* data: owned, cap rows */
  int64_t *ids, *where, cap;
} gathered;

static void gathered_free(gathered *g)
{
  free((void *)g->rows.data);
  free(g->ids);
  free(g->where);
  memset(g, 0, sizeof *g);
}

/* The m rows list[0..m) of this rank, in that order. */
static ma_status gather_rows(const ma_rows *local, const int64_t *ids, const int64_t *list, int64_t m, int64_t d,
                             gathered *g)
{
  size_t esize = local->type == MA_F16 ? 2 : 4;
  if (m > g->cap) {
    int64_t cap = m + m / 4;
    gathered_free(g);
    g->rows.data = malloc((size_t)(cap * d) * esize + 1);
    g->ids = malloc((size_t)cap * sizeof *g->ids);
    g->where = malloc((size_t)cap * sizeof *g->where);
    if (!g->rows.data || !g->ids || !g->where) {
      gathered_free(g);
      return ma_fail(MA_ERR_RUNTIME, "out of memory gathering %lld rows of a cluster", (long long)m);
    }
    g->cap = cap;
  }
  g->rows = (ma_rows){g->rows.data, local->type, m, d};
  char *data = (char *)g->rows.data;
  for (int64_t q = 0; q < m; q++) {
    int64_t i = list[q];
    memcpy(data + (size_t)(q * d) * esize, (const char *)local->data + (size_t)(i * local->ld) * esize, (size_t)d * esize);
    g->ids[q] = ids[i];
    g->where[q] = i;
  }
  return MA_OK;
}

/* Rows by coarse cluster: list[start[j] .. start[j+1]) are the rows (in their order) that have j among
 * their first `use` nearest coarse clusters (top[i * p ..]) and, when redo is not NULL, redo[i]. A
 * counting sort: one pass over the rows, not one per coarse cluster. */
typedef struct buckets {
  int64_t *start, *list;
} buckets;

static void buckets_free(buckets *b)
{
  free(b->start);
  free(b->list);
  memset(b, 0, sizeof *b);
}

static ma_status bucket_rows(const int64_t *top, int p, int use, const unsigned char *redo, int64_t rows, int64_t k1,
                             buckets *b)
{
  buckets_free(b);
  b->start = calloc((size_t)k1 + 2, sizeof *b->start);
  b->list = malloc((size_t)(rows * use + 1) * sizeof *b->list);
  if (!b->start || !b->list) {
    buckets_free(b);
    return ma_fail(MA_ERR_RUNTIME, "out of memory");
  }
  for (int64_t i = 0; i < rows; i++)
    if (!redo || redo[i])
      for (int t = 0; t < use; t++) b->start[top[i * p + t] + 2]++;
  for (int64_t j = 0; j < k1; j++) b->start[j + 2] += b->start[j + 1];
  for (int64_t i = 0; i < rows; i++) /* start[j + 1] is bucket j's fill pointer; it ends at bucket j's end */
    if (!redo || redo[i])
      for (int t = 0; t < use; t++) b->list[b->start[top[i * p + t] + 1]++] = i;
  return MA_OK;
}

/* top[i * 2 + 1] = row i's second nearest coarse cluster, given its nearest in top[i * 2]: the exact
 * argmax (ties to the lower id) over the other k1 - 1 centroids, for the rows of each coarse cluster in
 * turn. Exact, so the same at any rank count. Not collective. */
static ma_status second_nearest(const ma_rows *local, const int64_t *ids, const float *cent, int64_t k1, int64_t d,
                                int64_t *top, gathered *sub)
{
  ma_status st = MA_OK;
  float *others = NULL, *sim = NULL;
  int64_t *got = NULL, cap = 0;
  buckets b = {0};
  ip_workspace ws = {0};
  const ip_blocking blk = {.ws = &ws};
  MA_ALLOC(others, (k1 - 1) * d);
  MA_TRY(bucket_rows(top, 2, 1, NULL, local->rows, k1, &b));
  for (int64_t j = 0; j < k1; j++) {
    int64_t m = b.start[j + 1] - b.start[j];
    if (m == 0) continue;
    MA_TRY(gather_rows(local, ids, b.list + b.start[j], m, d, sub));
    if (m > cap) {
      free(got);
      free(sim);
      cap = m;
      MA_ALLOC(got, cap);
      MA_ALLOC(sim, cap);
    }
    memcpy(others, cent, (size_t)(j * d) * sizeof *others);
    memcpy(others + j * d, cent + (j + 1) * d, (size_t)((k1 - 1 - j) * d) * sizeof *others);
    ma_rows y = {others, MA_F32, k1 - 1, d};
    ip_argmax_ctx am;
    ip_argmax_init(&am, &sub->rows, &y, d, got, sim);
    ip_handler h = ip_argmax_handler(&am);
    MA_TRY(ip_search(&sub->rows, &y, d, &h, &blk));
    for (int64_t q = 0; q < m; q++) top[sub->where[q] * 2 + 1] = got[q] < j ? got[q] : got[q] + 1;
  }
done:
  ip_workspace_free(&ws);
  buckets_free(&b);
  free(others);
  free(got);
  free(sim);
  return st;
}

/* Every local row with redo[i] (every row when redo is NULL) to the nearest fine centroid of its p
 * nearest coarse clusters (exact similarities, ties to the lower fine id: the same at any rank count),
 * into best[i], best_sim[i]; the other rows keep theirs, which is exact when none of the centroids of
 * their p coarse clusters moved. Then the assignment, the sizes and the objective over all ranks.
 * first[j]: coarse cluster j's first fine centroid. Collective on comm. */
static ma_status reassign(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int64_t *top, int p,
                          int64_t k1, const int64_t *first, int64_t n, int64_t d, const unsigned char *redo,
                          int64_t *best, float *best_sim, gathered *sub, km_result *out)
{
  ma_status st = MA_OK;
  int64_t k = first[k1], *got = NULL, sum = 0, all = 0, *which = NULL, widest = 0, cap = 0;
  float *got_sim = NULL, *block = NULL;
  buckets b = {0};
  ip_workspace ws = {0};
  const ip_blocking blk = {.ws = &ws};
  for (int64_t j = 0; j < k1; j++)
    if (first[j + 1] - first[j] > widest) widest = first[j + 1] - first[j];
  which = malloc((size_t)widest * sizeof *which + 1);
  block = malloc((size_t)(widest * d) * sizeof *block + 1);
  if (!which || !block) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  if (st == MA_OK) st = bucket_rows(top, p, p, redo, local->rows, k1, &b);
  MA_TRY(mpi_agree(comm, st));
  for (int64_t i = 0; i < local->rows; i++) {
    if (redo && !redo[i]) continue;
    best[i] = -1;
    best_sim[i] = -INFINITY;
  }
  for (int64_t j = 0; j < k1; j++) {
    if (first[j + 1] == first[j]) continue;
    /* coarse cluster j's fine centroids, from the ranks that hold them */
    for (int64_t c = first[j]; c < first[j + 1]; c++) which[c - first[j]] = c;
    MA_TRY(km_fetch_centroids(comm, out, d, which, first[j + 1] - first[j], block));
    int64_t m = b.start[j + 1] - b.start[j];
    st = gather_rows(local, ids, b.list + b.start[j], m, d, sub);
    if (st == MA_OK && m > cap) {
      free(got);
      free(got_sim);
      cap = m + m / 4;
      got = malloc((size_t)cap * sizeof *got);
      got_sim = malloc((size_t)cap * sizeof *got_sim);
      if (!got || !got_sim) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    }
    ma_rows y = {block, MA_F32, first[j + 1] - first[j], d};
    ip_argmax_ctx am;
    if (st == MA_OK && m) {
      ip_argmax_init(&am, &sub->rows, &y, d, got, got_sim);
      ip_handler h = ip_argmax_handler(&am);
      st = ip_search(&sub->rows, &y, d, &h, &blk);
    }
    for (int64_t q = 0; st == MA_OK && q < m; q++) {
      int64_t i = sub->where[q], c = first[j] + got[q];
      if (got_sim[q] > best_sim[i] || (got_sim[q] == best_sim[i] && c < best[i])) {
        best_sim[i] = got_sim[q];
        best[i] = c;
      }
    }
    MA_TRY(mpi_agree(comm, st)); /* before the next fetch, which every rank joins */
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
  buckets_free(&b);
  free(got);
  free(got_sim);
  free(which);
  free(block);
  return st;
}

/* The size cap. The intra-cluster search pays m^2 for a cluster of m items; a fine cluster of more than
 * KM_CAP_FACTOR times the mean is split in two by a 2-means over its items (KM_CAP_ITERS Lloyd steps
 * from its centroid moved both ways along a random direction), the second half taking the centroid of
 * the smallest cluster of its coarse cluster that holds at most the mean (km_cap_pairs): k stays k.
 * Then the rows whose nearest coarse clusters include a changed one are reassigned, exactly, and the
 * whole repeats, at most KM_CAP_ROUNDS times (a cluster of 16 means needs two halvings). */
enum { KM_CAP_FACTOR = 4, KM_CAP_ROUNDS = 4, KM_CAP_ITERS = 6 };

/* One 2-means per pair (big[q], donor[q]) over the rows assigned to big[q]: halves[2q] and halves[2q + 1]
 * (the same on every rank) start as big[q]'s centroid split in two and end as the two halves'
 * centroids. A row takes the nearer of the two (exact similarity; ties to the lower of big[q] and
 * donor[q]); the centroids are updated from fixed-point sums over all ranks. The rows are gathered into
 * sub, the caller's reused buffers. Collective on comm. */
static ma_status split_pairs(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int32_t *assignment,
                             int64_t d, const int64_t *big, const int64_t *donor, int64_t npair, int64_t k,
                             float *halves, gathered *sub)
{
  ma_status st = MA_OK;
  int64_t *pair_of = NULL, *slot = NULL, *buf = NULL, *list = NULL, m = 2 * npair, nbuf = m * d + m + 1, nlist = 0;
  unsigned char *empty = NULL;
  pair_of = malloc((size_t)k * sizeof *pair_of);
  list = malloc((size_t)(local->rows + 1) * sizeof *list);
  buf = malloc((size_t)nbuf * sizeof *buf);
  empty = malloc((size_t)m);
  if (!pair_of || !list || !buf || !empty) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  if (st == MA_OK) {
    for (int64_t c = 0; c < k; c++) pair_of[c] = -1;
    for (int64_t q = 0; q < npair; q++) pair_of[big[q]] = q;
    for (int64_t i = 0; i < local->rows; i++)
      if (pair_of[assignment[i]] >= 0) list[nlist++] = i;
    st = gather_rows(local, ids, list, nlist, d, sub);
  }
  if (st == MA_OK && !(slot = malloc((size_t)(sub->rows.rows + 1) * sizeof *slot)))
    st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  for (int64_t r = 0; r < sub->rows.rows; r++) slot[r] = -1;
  ma_rows y = {halves, MA_F32, m, d};
  for (int it = 0; it < KM_CAP_ITERS; it++) {
    memset(buf, 0, (size_t)nbuf * sizeof *buf);
    for (int64_t r = 0; r < sub->rows.rows; r++) {
      int64_t q = pair_of[assignment[sub->where[r]]];
      float sb = topk_exact_dot(&sub->rows, r, &y, 2 * q, d), sd = topk_exact_dot(&sub->rows, r, &y, 2 * q + 1, d);
      int64_t to = 2 * q + (sd > sb || (sd == sb && donor[q] < big[q]));
      buf[m * d + m] += to != slot[r];
      slot[r] = to;
    }
    st = km_accumulate(&sub->rows, d, slot, m, buf, buf + m * d);
    MA_TRY(mpi_agree(comm, st));
    MA_TRY(mpi_sum_i64_array(comm, buf, nbuf));
    km_centroids(buf, buf + m * d, m, d, halves, empty); /* an empty half keeps its centroid */
    if (buf[m * d + m] == 0) break;
  }
done:
  free(pair_of);
  free(slot);
  free(buf);
  free(list);
  free(empty);
  return st;
}

/* Applies the size cap to a two-level result (see KM_CAP_FACTOR): best, best_sim hold every local
 * row's fine cluster and similarity, and are kept up to date. Collective on comm. */
static ma_status cap_sizes(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int64_t *top, int p,
                           int64_t k1, const int64_t *first, int64_t n, int64_t d, const km_config *cfg, int64_t *best,
                           float *best_sim, gathered *sub, km_result *out)
{
  ma_status st = MA_OK;
  int64_t k = first[k1], *big = NULL, *donor = NULL, *coarse_of = NULL, splits = 0, before = 0, after = 0;
  unsigned char *touched = NULL, *redo = NULL;
  float *halves = NULL;
  const int64_t mean = n / k, big_above = KM_CAP_FACTOR * n / k;
  big = malloc((size_t)k * sizeof *big);
  donor = malloc((size_t)k * sizeof *donor);
  coarse_of = malloc((size_t)k * sizeof *coarse_of);
  touched = malloc((size_t)k1);
  redo = malloc((size_t)local->rows + 1);
  if (!big || !donor || !coarse_of || !touched || !redo) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  for (int64_t j = 0; j < k1; j++)
    for (int64_t c = first[j]; c < first[j + 1]; c++) coarse_of[c] = j;
  for (int64_t c = 0; c < k; c++)
    if (out->sizes[c] > before) before = out->sizes[c];
  after = before;
  for (int round = 0; round < KM_CAP_ROUNDS; round++) {
    int64_t npair = km_cap_pairs(out->sizes, k1, first, big_above, mean, big, donor);
    if (npair == 0) break;
    uint64_t stream = (uint64_t)RNG_KMEANS_CAP | ((uint64_t)cfg->clustering << 32) | ((uint64_t)round << 48);
    memset(touched, 0, (size_t)k1);
    /* every rank gets the big clusters' centroids, splits them, runs the 2-means; the ranks that hold
     * a big or a donor centroid keep the new one */
    free(halves);
    if (!(halves = malloc((size_t)(2 * npair * d) * sizeof *halves))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    MA_TRY(mpi_agree(comm, st));
    MA_TRY(km_fetch_centroids(comm, out, d, big, npair, halves));
    for (int64_t q = npair - 1; q >= 0; q--) { /* halves[q] -> halves[2q], from the end: no overwrite */
      memmove(halves + 2 * q * d, halves + q * d, (size_t)d * sizeof *halves);
      km_split_into(halves, 2 * q, 2 * q + 1, d, cfg->seed, stream);
      touched[coarse_of[big[q]]] = 1;
    }
    MA_TRY(split_pairs(comm, local, ids, out->assignment, d, big, donor, npair, k, halves, sub));
    for (int64_t q = 0; q < npair; q++)
      for (int h = 0; h < 2; h++) {
        int64_t c = h ? donor[q] : big[q];
        if (c >= out->c_lo && c < out->c_hi)
          memcpy(out->centroids + (c - out->c_lo) * d, halves + (2 * q + h) * d, (size_t)d * sizeof *halves);
      }
    for (int64_t i = 0; i < local->rows; i++) {
      redo[i] = 0;
      for (int t = 0; t < p; t++) redo[i] |= touched[top[i * p + t]];
    }
    MA_TRY(reassign(comm, local, ids, top, p, k1, first, n, d, redo, best, best_sim, sub, out));
    splits += npair;
    after = 0;
    for (int64_t c = 0; c < k; c++)
      if (out->sizes[c] > after) after = out->sizes[c];
  }
  if (splits)
    log_info("clustering %d: size cap: %lld clusters above %d x the mean (%lld items) split; the largest held %lld "
             "items, now %lld", cfg->clustering, (long long)splits, KM_CAP_FACTOR, (long long)mean, (long long)before,
             (long long)after);
done:
  free(big);
  free(donor);
  free(coarse_of);
  free(touched);
  free(redo);
  free(halves);
  return st;
}

ma_status km_cluster_two_level(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                               const km_config *cfg, km_result *out)
{
  ma_status st = MA_OK;
  km_result coarse = {0}, fine = {0};
  int64_t *kj = NULL, *first = NULL, *top = NULL, *best = NULL;
  float *best_sim = NULL;
  gathered sub = {0};
  buckets by_coarse = {0};
  int64_t k = cfg->k, k1 = (int64_t)llround(sqrt((double)k));
  memset(out, 0, sizeof *out);
  if (k < 1 || k > n)
    return ma_fail(MA_ERR_DATA, "%lld rows are fewer than the %lld clusters asked for", (long long)n, (long long)k);
  if (k1 < 1) k1 = 1;
  int p = k1 < KM_TOP_COARSE ? (int)k1 : KM_TOP_COARSE;

  /* The coarse level: a flat k-means of its own, its streams keyed apart from every fine one's, whose
   * assignment is each row's nearest coarse cluster; then the next nearest, exactly. */
  double t0 = log_now();
  km_config c1 = *cfg;
  c1.k = k1;
  c1.seed = rng_hash(cfg->seed, RNG_KMEANS_LEVEL, 0);
  c1.stop_on_search_cost = 0; /* coarse clusters are not searched: train them fully */
  c1.no_assignment = 0;
  MA_TRY(km_cluster_flat(comm, local, ids, n, d, &c1, &coarse));
  top = malloc((size_t)(local->rows * p + 1) * sizeof *top);
  MA_TRY(km_own_range(comm, k, &out->c_lo, &out->c_hi));
  out->centroids = calloc((size_t)((out->c_hi - out->c_lo) * d + 1), sizeof *out->centroids);
  out->assignment = malloc((size_t)(local->rows + 1) * sizeof *out->assignment);
  out->sizes = calloc((size_t)k, sizeof *out->sizes);
  kj = calloc((size_t)k1, sizeof *kj);
  first = calloc((size_t)k1 + 1, sizeof *first);
  best = malloc((size_t)(local->rows + 1) * sizeof *best);
  best_sim = malloc((size_t)(local->rows + 1) * sizeof *best_sim);
  if (!top || !out->centroids || !out->assignment || !out->sizes || !kj || !first || !best || !best_sim)
    st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  if (st == MA_OK) {
    for (int64_t i = 0; i < local->rows; i++) top[i * p] = coarse.assignment[i];
    if (p == 2) st = second_nearest(local, ids, coarse.centroids, k1, d, top, &sub);
  }
  MA_TRY(mpi_agree(comm, st));
  double t_coarse = log_now() - t0;
  log_info("clustering %d: two-level k-means: %lld coarse clusters (objective %.4f) in %.2f s", cfg->clustering,
           (long long)k1, coarse.objective, t_coarse);
  MA_TRY(km_fine_counts(coarse.sizes, k1, k, kj));
  for (int64_t j = 0; j < k1; j++) first[j + 1] = first[j] + kj[j];

  /* The fine level: coarse cluster by coarse cluster, every rank on its own items of it. */
  double lloyd_flops = 0, assign_flops = 0, train_objective = 0;
  int64_t largest = 0;
  t0 = log_now();
  MA_TRY(mpi_agree(comm, bucket_rows(top, p, 1, NULL, local->rows, k1, &by_coarse)));
  for (int64_t j = 0; j < k1; j++) {
    if (kj[j] > largest) largest = kj[j];
    if (kj[j] == 0) continue;
    km_config cj = *cfg;
    cj.k = kj[j];
    cj.seed = rng_hash(cfg->seed, RNG_KMEANS_LEVEL, (uint64_t)j + 1);
    cj.quiet = 1;
    cj.no_assignment = 1; /* rows are assigned below, from their 2 nearest coarse clusters */
    MA_TRY(mpi_agree(comm, gather_rows(local, ids, by_coarse.list + by_coarse.start[j],
                                       by_coarse.start[j + 1] - by_coarse.start[j], d, &sub)));
    MA_TRY(km_cluster_flat(comm, &sub.rows, sub.ids, coarse.sizes[j], d, &cj, &fine));
    int64_t lo = first[j] > out->c_lo ? first[j] : out->c_lo, hi = first[j + 1] < out->c_hi ? first[j + 1] : out->c_hi;
    if (lo < hi) /* the fine centroids this rank holds */
      memcpy(out->centroids + (lo - out->c_lo) * d, fine.centroids + (lo - first[j]) * d,
             (size_t)((hi - lo) * d) * sizeof *out->centroids);
    out->sample += fine.sample;
    train_objective += fine.train_objective * (double)fine.sample; /* in coarse order: the same on every rank */
    out->seed_flops += fine.seed_flops;
    out->seconds_seed += fine.seconds_seed;
    out->flops += fine.flops;
    out->seconds_lloyd += fine.seconds_lloyd;
    if (fine.iterations > out->iterations) out->iterations = fine.iterations;
    lloyd_flops += 2.0 * (double)fine.sample * (double)kj[j] * (double)d * fine.iterations;
    km_result_free(&fine);
    log_progress(j + 1, k1);
  }
  buckets_free(&by_coarse);
  double t_fine = log_now() - t0;
  /* Then every row to the nearest fine centroid of its p nearest coarse clusters, and the size cap. */
  double t1 = log_now();
  MA_TRY(reassign(comm, local, ids, top, p, k1, first, n, d, NULL, best, best_sim, &sub, out));
  double t_reassign = log_now() - t1;
  MA_TRY(cap_sizes(comm, local, ids, top, p, k1, first, n, d, cfg, best, best_sim, &sub, out));
  double t_cap = log_now() - t1 - t_reassign;
  out->seconds_assign += t_coarse + t_reassign + t_cap - coarse.seconds_lloyd - coarse.seconds_seed;
  assign_flops += 2.0 * (double)n * (double)(2 * k1 + (double)p * (double)k / (double)k1) * (double)d;
  out->train_objective = out->sample ? train_objective / (double)out->sample : 0;
  out->seed_flops += coarse.seed_flops;
  out->seconds_seed += coarse.seconds_seed;
  out->seconds_lloyd += coarse.seconds_lloyd;
  out->flops += coarse.flops + 2.0 * (double)n * (double)(k1 + (double)p * (double)k / (double)k1) * (double)d;
  out->gflops_lloyd = out->seconds_lloyd > 0 ? lloyd_flops / out->seconds_lloyd * 1e-9 : 0;
  out->gflops_assign = out->seconds_assign > 0 ? assign_flops / out->seconds_assign * 1e-9 : 0;
  log_info("clustering %d: %lld fine clusters (%lld to %lld per coarse cluster, from the %d nearest coarse ones), "
           "objective %.6f; coarse %.2f s, fine k-means %.2f s, reassignment %.2f s, size cap %.2f s",
           cfg->clustering, (long long)k, (long long)(k / k1), (long long)largest, p, out->objective, t_coarse, t_fine,
           t_reassign, t_cap);
done:
  km_result_free(&coarse);
  km_result_free(&fine);
  gathered_free(&sub);
  buckets_free(&by_coarse);
  free(kj);
  free(first);
  free(top);
  free(best);
  free(best_sim);
  if (st != MA_OK) km_result_free(out);
  return st;
}
