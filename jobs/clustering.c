/* Distributed spherical k-means: sample by hash of global ids, k-means|| seeding, Lloyd iterations
 * whose sums are reduced in fixed point (so 1, 2, 3 or 4 ranks give the same bits), then the
 * assignment of every item. */
#include "jobs/clustering.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/log.h"
#include "kernels/f16.h"
#include "kernels/ip_handlers.h"
#include "kernels/kmeans.h"
#include "kernels/quant.h"
#include "kernels/rng.h"
#include "io/ckpt.h"
#include "mpi/comm.h"

/* Progress of a clustering: at -v only for the fine clusterings of two-level k-means (hundreds of them). */
#define KM_LOG(cfg, ...)                        \
  do {                                          \
    if ((cfg)->quiet) log_verbose(__VA_ARGS__); \
    else log_info(__VA_ARGS__);                 \
  } while (0)

/* Candidates per k-means|| round, as a multiple of k (Bahmani et al. use 0.5k to 2k). */
#define KM_OVERSAMPLE 1.0
/* k-means|| runs on a sub-sample of this many items per cluster: each of its rounds costs as much as a
 * Lloyd iteration over that many items per cluster, and seeds need far fewer items than training. */
#define KM_INIT_PER_CLUSTER 32

/* Weighted Lloyd iterations that polish the k-means++ seeds among the candidates. */
#define KM_SEED_ITERS 1

/* Streams of one clustering r: the generator's stream numbers are shifted by r so that every
 * clustering draws anew. */
static uint64_t stream_of(int base, int r, int64_t sub) { return (uint64_t)base | ((uint64_t)r << 32) | ((uint64_t)sub << 48); }

/* A row of a gathered candidate: its id and its float32 vector follow. */
static size_t cand_bytes(int64_t d) { return sizeof(int64_t) + (size_t)d * sizeof(float); }

static void widen_row(const ma_rows *x, int64_t i, int64_t d, float *out)
{
  if (x->type == MA_F32) memcpy(out, (const float *)x->data + i * x->ld, (size_t)d * sizeof *out);
  else f16_to_f32((const uint16_t *)x->data + i * x->ld, out, d);
}

typedef struct km_sample {
  ma_rows rows; /* owns data */
  int64_t *ids;
  int64_t local, global;
} km_sample;

static void sample_free(km_sample *s)
{
  free((void *)s->rows.data);
  free(s->ids);
  memset(s, 0, sizeof *s);
}

/* A row is drawn when uniform(seed, stream, id) < frac for each of a few (frac, stream) filters (a frac
 * of 1 or more passes every row). */
typedef struct km_filter {
  double frac;
  uint64_t stream;
} km_filter;

static int drawn(const km_filter *f, int nf, uint64_t seed, int64_t id)
{
  for (int q = 0; q < nf; q++)
    if (f[q].frac < 1 && !(rng_uniform(seed, f[q].stream, (uint64_t)id) < f[q].frac)) return 0;
  return 1;
}

/* Copies this rank's rows that pass the filters into s (in their order), and counts them over all
 * ranks; with copy = 0 only counts them (s->local and s->global). Collective on comm. */
static ma_status select_rows(MPI_Comm comm, const ma_rows *rows, const int64_t *ids, int64_t d, const km_filter *f,
                             int nf, uint64_t seed, int copy, km_sample *s)
{
  ma_status st = MA_OK;
  size_t esize = rows->type == MA_F16 ? 2 : 4;
  int64_t count = 0;
  for (int64_t i = 0; i < rows->rows; i++) count += drawn(f, nf, seed, ids[i]);
  s->local = count;
  if (copy) {
    char *data = big_alloc((size_t)(count * d) * esize + 1);
    s->ids = malloc((size_t)(count + 1) * sizeof *s->ids);
    if (!data || !s->ids) {
      free(data);
      st = ma_fail(MA_ERR_RUNTIME, "out of memory for a sample of %lld rows", (long long)count);
    } else {
      int64_t k = 0;
      for (int64_t i = 0; i < rows->rows; i++) {
        if (!drawn(f, nf, seed, ids[i])) continue;
        memcpy(data + k * d * (int64_t)esize, (const char *)rows->data + i * rows->ld * (int64_t)esize, (size_t)d * esize);
        s->ids[k++] = ids[i];
      }
      s->rows = (ma_rows){data, rows->type, count, d};
    }
  }
  MA_CALL(mpi_agree(comm, st));
  return mpi_sum_i64(comm, count, &s->global);
}

/* The filter of clustering r's sample, and how many items pass it: about per_cluster * k, all n when
 * that would be fewer than k (or more than n). Collective on comm. */
static ma_status sample_filter(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                               const km_config *cfg, km_filter *f, int64_t *global)
{
  double want = (double)cfg->per_cluster * (double)cfg->k;
  km_sample count = {0};
  *f = (km_filter){want >= (double)n ? 1.0 : want / (double)n, stream_of(RNG_KMEANS_SAMPLE, cfg->clustering, 0)};
  MA_CALL(select_rows(comm, local, ids, d, f, 1, cfg->seed, 0, &count));
  *global = count.global;
  if (count.global < cfg->k) {
    f->frac = 1.0;
    *global = n;
  }
  return MA_OK;
}

/* Sample row i's nearest candidate so far (near[i], at best_sim[i]) against the nb new candidates,
 * which are numbered from first: a new one wins only if strictly nearer, so ties keep the lower index.
 * best and sim are workspace. */
static ma_status update_nearest(const km_sample *s, const float *cand, int64_t first, int64_t nb, int64_t d,
                                int64_t *best, float *sim, int64_t *near, float *best_sim)
{
  ma_rows y = {cand, MA_F32, nb, d};
  ip_argmax_ctx am;
  ip_argmax_init(&am, &s->rows, &y, d, best, sim);
  ip_handler h = ip_argmax_handler(&am);
  MA_CALL(ip_search(&s->rows, &y, d, &h, NULL));
  for (int64_t i = 0; i < s->local; i++)
    if (sim[i] > best_sim[i]) {
      best_sim[i] = sim[i];
      near[i] = first + best[i];
    }
  return MA_OK;
}

/* Packs the selected sample rows as (id, float32 vector) records. */
static ma_status pack_selected(const km_sample *s, const unsigned char *sel, int64_t d, char **out, int64_t *nsel)
{
  int64_t m = 0;
  for (int64_t i = 0; i < s->local; i++) m += sel[i];
  char *buf = malloc((size_t)m * cand_bytes(d) + 1);
  if (!buf) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  int64_t k = 0;
  for (int64_t i = 0; i < s->local; i++) {
    if (!sel[i]) continue;
    char *rec = buf + k++ * (int64_t)cand_bytes(d);
    memcpy(rec, &s->ids[i], sizeof(int64_t));
    widen_row(&s->rows, i, d, (float *)(rec + sizeof(int64_t)));
  }
  *out = buf;
  *nsel = m;
  return MA_OK;
}

/* Appends gathered records' vectors to the candidate matrix. */
static ma_status append_candidates(float **cand, int64_t *nc, const char *recs, int64_t m, int64_t d)
{
  float *grown = realloc(*cand, (size_t)((*nc + m) * d) * sizeof *grown + 1);
  if (!grown) return ma_fail(MA_ERR_RUNTIME, "out of memory for k-means|| candidates");
  for (int64_t i = 0; i < m; i++)
    memcpy(grown + (*nc + i) * d, recs + i * (int64_t)cand_bytes(d) + sizeof(int64_t), (size_t)d * sizeof(float));
  *cand = grown;
  *nc += m;
  return MA_OK;
}

/* k-means|| (Bahmani et al. 2012) over the sub-sample s: a few rounds that each pick about
 * KM_OVERSAMPLE·k items with probability proportional to their distance to the candidates so far; the
 * candidates, weighted by how many items they are nearest to and by those items' spread, are reduced to
 * k seeds by greedy k-means++ on rank 0. */
static ma_status seed_kmeans_par(MPI_Comm comm, const km_sample *s, int64_t d, const km_config *cfg, float *centroids,
                                 int64_t *ncand_out)
{
  ma_status st = MA_OK;
  int64_t *best = NULL, *near = NULL, nc = 0, m = 0;
  float *sim = NULL, *best_sim = NULL, *cand = NULL;
  unsigned char *sel = NULL;
  char *mine = NULL, *all = NULL;
  int64_t *wcount = NULL;
  double *weight = NULL;
  int r = cfg->clustering;

  best = malloc((size_t)(s->local + 1) * sizeof *best);
  sim = malloc((size_t)(s->local + 1) * sizeof *sim);
  best_sim = malloc((size_t)(s->local + 1) * sizeof *best_sim);
  near = calloc((size_t)s->local + 1, sizeof *near);
  sel = calloc((size_t)s->local + 1, 1);
  if (!best || !sim || !best_sim || !near || !sel) st = ma_fail(MA_ERR_RUNTIME, "out of memory seeding k-means");
  MA_TRY(mpi_agree(comm, st));
  for (int64_t i = 0; i < s->local; i++) best_sim[i] = -INFINITY;

  /* The first candidate: the sample item with the smallest hash. */
  uint64_t hmin = UINT64_MAX, g;
  for (int64_t i = 0; i < s->local; i++) {
    uint64_t h = rng_hash(cfg->seed, stream_of(RNG_KMEANS_INIT, r, 0), (uint64_t)s->ids[i]);
    if (h < hmin) hmin = h;
  }
  MA_MPI_TRY(MPI_Allreduce(&hmin, &g, 1, MPI_UINT64_T, MPI_MIN, comm));
  for (int64_t i = 0; i < s->local; i++)
    sel[i] = rng_hash(cfg->seed, stream_of(RNG_KMEANS_INIT, r, 0), (uint64_t)s->ids[i]) == g;

  for (int round = 0; round <= cfg->init_rounds; round++) {
    st = pack_selected(s, sel, d, &mine, &m);
    MA_TRY(mpi_agree(comm, st));
    MA_TRY(mpi_allgather_records(comm, mine, m, cand_bytes(d), (void **)&all, &m));
    free(mine);
    mine = NULL;
    int64_t first_new = nc;
    st = append_candidates(&cand, &nc, all, m, d);
    free(all);
    all = NULL;
    if (st == MA_OK && m > 0) st = update_nearest(s, cand + first_new * d, first_new, m, d, best, sim, near, best_sim);
    MA_TRY(mpi_agree(comm, st));
    if (round == cfg->init_rounds) break;

    /* cost = 1 - cos to the nearest candidate (half the squared distance), summed in fixed point. */
    int64_t phi_local = 0, phi;
    for (int64_t i = 0; i < s->local; i++) {
      float c = 1.0f - best_sim[i];
      sim[i] = c > 0 ? c : 0;
    }
    phi_local = km_fixed_sum(sim, s->local);
    MA_TRY(mpi_sum_i64(comm, phi_local, &phi));
    if (phi <= 0) break;
    double scale = KM_OVERSAMPLE * (double)cfg->k * KM_FIXED_ONE / (double)phi;
    for (int64_t i = 0; i < s->local; i++)
      sel[i] = rng_uniform(cfg->seed, stream_of(RNG_KMEANS_INIT, r, round + 1), (uint64_t)s->ids[i]) < scale * sim[i];
  }

  /* Weights: how many sample items each candidate is nearest to, and their mean squared distance to it
   * (in fixed point, so the sums do not depend on the rank count). The rounds have already met every
   * item with every candidate: near[] is its nearest of them all. */
  wcount = calloc((size_t)(2 * nc) + 1, sizeof *wcount);
  weight = malloc((size_t)(2 * nc + 1) * sizeof *weight);
  if (!wcount || !weight) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  else {
    for (int64_t i = 0; i < s->local; i++) {
      float dist = 2.0f - 2.0f * best_sim[i];
      wcount[near[i]]++;
      wcount[nc + near[i]] += km_fixed_sum(&dist, 1);
    }
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_sum_i64_array(comm, wcount, 2 * nc));
  for (int64_t c = 0; c < nc; c++) {
    weight[c] = (double)wcount[c];
    weight[nc + c] = wcount[c] ? (double)wcount[nc + c] / KM_FIXED_ONE / (double)wcount[c] : 0;
    if (weight[nc + c] < 0) weight[nc + c] = 0;
  }
  /* Rank 0 reduces the candidates to k seeds and shares them: one answer even on nodes whose BLAS
   * would round differently. */
  int rank;
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  if (rank == 0)
    st = km_seed_from_candidates(cand, weight, weight + nc, nc, d, cfg->k, cfg->seed, stream_of(RNG_KMEANS_SEED, r, 0), KM_SEED_ITERS,
                                  KM_GRAM_BYTES, centroids);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_check_int(cfg->k * d, "k x d"));
  MA_MPI_TRY(MPI_Bcast(centroids, (int)(cfg->k * d), MPI_FLOAT, 0, comm));
  *ncand_out = nc;
done:
  free(best);
  free(near);
  free(sim);
  free(best_sim);
  free(sel);
  free(mine);
  free(all);
  free(cand);
  free(wcount);
  free(weight);
  return st;
}

/* best[i], sim[i]: the row of y nearest to x row i (ip_argmax_handler), screened with int8 when xi (x's
 * quantities, q8_levels_x() levels) is given; the argmax's exact inner products are added to *rescored. */
static ma_status nearest(const ma_rows *x, const q8_info *xi, const ma_rows *y, int64_t d, const ip_blocking *b0,
                         int64_t *best, float *sim, int64_t *rescored)
{
  ma_status st = MA_OK;
  ip_blocking b = b0 ? *b0 : (ip_blocking){0};
  q8_info yi = {0};
  q8_screen q;
  ip_argmax_ctx am;
  ip_argmax_init(&am, x, y, d, best, sim);
  if (xi) {
    MA_TRY(q8_info_init(&yi, y, d, q8_levels_y()));
    q8_screen_set(&q, xi, &yi, d);
    b.screen = &q;
    am.band = q.band;
  }
  ip_handler h = ip_argmax_handler(&am);
  st = ip_search(x, y, d, &h, &b);
  *rescored += am.rescored;
done:
  q8_info_free(&yi);
  return st;
}

/* Lloyd iterations over the sample, at most cfg->iters. They stop early when no sample item changed
 * cluster, or (cfg->stop_on_search_cost) when an iteration lowered the predicted search work of the n
 * items by less than one iteration costs: later ones save less still, so the search is better off
 * paying for the last bit of imbalance than k-means paying to remove it. */
static ma_status lloyd(MPI_Comm comm, const km_sample *s, int64_t n, int64_t d, const km_config *cfg, km_result *out)
{
  ma_status st = MA_OK;
  int64_t k = cfg->k, nbuf = k * d + k + 2;
  int64_t *best = NULL, *prev = NULL, *buf = NULL;
  float *best_sim = NULL;
  unsigned char *empty = NULL;
  ip_workspace ws = {0}; /* the iterations' tile and float copies, kept from one to the next */
  const ip_blocking blk = {.ws = &ws};
  q8_info xi = {0}; /* the sample's quantities, made once for every iteration */
  int64_t rescored = 0;
  double t_quant = log_now();
  if (cfg->screen) st = q8_info_init(&xi, &s->rows, d, q8_levels_x());
  t_quant = log_now() - t_quant;
  MA_TRY(mpi_agree(comm, st));
  best = malloc((size_t)(s->local + 1) * sizeof *best);
  prev = malloc((size_t)(s->local + 1) * sizeof *prev);
  best_sim = malloc((size_t)(s->local + 1) * sizeof *best_sim);
  buf = malloc((size_t)nbuf * sizeof *buf);
  empty = malloc((size_t)k);
  if (!best || !prev || !best_sim || !buf || !empty) st = ma_fail(MA_ERR_RUNTIME, "out of memory in k-means");
  MA_TRY(mpi_agree(comm, st));
  for (int64_t i = 0; i < s->local; i++) prev[i] = -1;

  ma_rows y = {out->centroids, MA_F32, k, d};
  double t_all = t_quant, flops = 2.0 * (double)s->global * (double)k * (double)d, search_before = INFINITY;
  for (int it = 0; it < cfg->iters; it++) {
    double t0 = log_now();
    st = nearest(&s->rows, cfg->screen ? &xi : NULL, &y, d, &blk, best, best_sim, &rescored);
    if (st == MA_OK) {
      memset(buf, 0, (size_t)nbuf * sizeof *buf);
      st = km_accumulate(&s->rows, d, best, k, buf, buf + k * d);
      buf[k * d + k] = km_fixed_sum(best_sim, s->local);
      for (int64_t i = 0; i < s->local; i++) buf[k * d + k + 1] += best[i] != prev[i];
      memcpy(prev, best, (size_t)s->local * sizeof *prev);
    }
    MA_TRY(mpi_agree(comm, st));
    MA_TRY(mpi_sum_i64_array(comm, buf, nbuf));
    const int64_t *counts = buf + k * d;
    int64_t changed = buf[k * d + k + 1], largest = 0;
    for (int64_t c = 0; c < k; c++)
      if (counts[c] > largest) largest = counts[c];
    out->train_objective = (double)buf[k * d + k] / KM_FIXED_ONE / (double)s->global;
    int64_t nempty = km_centroids(buf, counts, k, d, out->centroids, empty);
    int64_t repaired = nempty ? km_split_empty(out->centroids, buf + k * d, empty, k, d, cfg->seed,
                                               stream_of(RNG_KMEANS_SPLIT, cfg->clustering, it)) : 0;
    /* the counts are of the assignment to the centroids before this update: they show what the
     * previous iteration's update did to the search */
    double search = km_search_flops(counts, k, s->global, n, d), saved = search_before - search;
    double secs = log_now() - t0;
    t_all += secs;
    out->iterations = it + 1;
    KM_LOG(cfg, "clustering %d iteration %2d: objective %.6f, imbalance %.2f, %lld changed, %lld empty repaired, "
             "search %.3g TFLOP, %.2f s, %.1f GFLOP/s", cfg->clustering, it + 1, out->train_objective,
             (double)largest * (double)k / (double)s->global, (long long)changed, (long long)repaired,
             search * 1e-12, secs, flops / secs * 1e-9);
    if (changed == 0 && nempty == 0) break;
    if (cfg->stop_on_search_cost && nempty == 0 && saved < flops) {
      KM_LOG(cfg, "clustering %d: the last update saved %.3g TFLOP of search, less than an iteration's %.3g: "
               "stopping", cfg->clustering, saved * 1e-12, flops * 1e-12);
      break;
    }
    search_before = search;
  }
  out->seconds_lloyd = t_all;
  out->gflops_lloyd = t_all > 0 ? flops * out->iterations / t_all * 1e-9 : 0;
  MA_TRY(mpi_sum_i64(comm, rescored, &out->rescored_lloyd));
done:
  q8_info_free(&xi);
  ip_workspace_free(&ws);
  free(best);
  free(prev);
  free(best_sim);
  free(buf);
  free(empty);
  return st;
}

/* Every local row to its nearest centroid; sizes and the objective over all ranks. */
static ma_status assign_all(MPI_Comm comm, const ma_rows *local, int64_t n, int64_t d, const km_config *cfg,
                            km_result *out)
{
  ma_status st = MA_OK;
  int64_t k = cfg->k, *best = NULL, *buf = NULL, rescored = 0;
  float *sim = NULL;
  q8_info xi = {0};
  best = malloc((size_t)(local->rows + 1) * sizeof *best);
  sim = malloc((size_t)(local->rows + 1) * sizeof *sim);
  buf = calloc((size_t)k + 1, sizeof *buf);
  double t0 = log_now();
  if (!best || !sim || !buf || !out->assignment) st = ma_fail(MA_ERR_RUNTIME, "out of memory assigning items");
  if (st == MA_OK && cfg->screen) st = q8_info_init(&xi, local, d, q8_levels_x());
  if (st == MA_OK) {
    ma_rows y = {out->centroids, MA_F32, k, d};
    st = nearest(local, cfg->screen ? &xi : NULL, &y, d, NULL, best, sim, &rescored);
  }
  if (st == MA_OK) {
    for (int64_t i = 0; i < local->rows; i++) {
      out->assignment[i] = (int32_t)best[i];
      buf[best[i]]++;
    }
    buf[k] = km_fixed_sum(sim, local->rows);
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_sum_i64_array(comm, buf, k + 1));
  memcpy(out->sizes, buf, (size_t)k * sizeof *buf);
  out->objective = (double)buf[k] / KM_FIXED_ONE / (double)n;
  out->seconds_assign = log_now() - t0;
  out->gflops_assign = 2.0 * (double)n * (double)k * (double)d / out->seconds_assign * 1e-9;
  MA_TRY(mpi_sum_i64(comm, rescored, &out->rescored_assign));
done:
  q8_info_free(&xi);
  free(best);
  free(sim);
  free(buf);
  return st;
}

/* Whether cfg's k is clustered in two levels. */
static int two_level(const km_config *cfg)
{
  return cfg->method == KM_TWO_LEVEL || (cfg->method == KM_AUTO && cfg->k >= KM_TWO_LEVEL_FROM);
}

/* One flat k-means of k clusters over n items, `rows` of them here. */
static int64_t flat_memory(int64_t rows, int64_t row_bytes, int64_t k, int64_t d, int64_t n, int64_t per_cluster)
{
  double frac = (double)per_cluster * (double)k >= (double)n ? 1.0 : (double)per_cluster * (double)k / (double)n;
  int64_t sample = (int64_t)(frac * (double)rows * 1.1) + 1024;
  int64_t cands = (int64_t)(KM_OVERSAMPLE * (double)k * 6) + 1 + KM_INIT_PER_CLUSTER * k;
  int64_t gram = cands * cands * 4 < KM_GRAM_BYTES ? cands * cands * 4 : KM_GRAM_BYTES; /* rank 0's k-means++ */
  /* per sample row 16 bytes more for the screening's quantities (Lloyd), and the assignment's screening */
  return sample * (row_bytes + 48) + rows * 16 + q8_search_memory(rows, k, d) + k * d * 16 + cands * d * 8 + gram +
         ((int64_t)96 << 20);
}

int64_t km_memory(int64_t rows, int64_t row_bytes, const km_config *km, int64_t d, int64_t n)
{
  if (!two_level(km)) return flat_memory(rows, row_bytes, km->k, d, n, km->per_cluster);
  /* the coarse k-means over every row, or a fine one over a coarse cluster's rows (copied; counted at 4x
   * the mean cluster: they are uneven), beside this rank's share of the centroids (km_own_range: about
   * rows / n of them), one coarse cluster's fetched fine centroids, and per row: its 2 nearest coarse
   * clusters (16), best fine cluster and similarity (12), assignment (4), the rows listed by coarse
   * cluster (16) and the size cap's mark (1) */
  int64_t k1 = (int64_t)llround(sqrt((double)km->k)), fine_rows = rows / (k1 > 0 ? k1 : 1) * 4 + 1024;
  int64_t coarse = flat_memory(rows, row_bytes, k1, d, n, km->per_cluster);
  int64_t fine = fine_rows * row_bytes + flat_memory(fine_rows, row_bytes, 4 * (km->k / k1 + 1), d, n / k1 * 4, km->per_cluster);
  int64_t own = (int64_t)((double)km->k * (double)rows / (double)(n > 0 ? n : 1)) + 1;
  return (coarse > fine ? coarse : fine) + (own + 4 * (km->k / k1 + 1)) * d * 4 + rows * (16 + 12 + 4 + 16 + 1);
}

void km_result_free(km_result *r)
{
  free(r->centroids);
  free(r->assignment);
  free(r->sizes);
  memset(r, 0, sizeof *r);
}

ma_status km_own_range(MPI_Comm comm, int64_t k, int64_t *lo, int64_t *hi)
{
  int rank, size;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &size));
  shard_range(k, size, rank, lo, hi);
  return MA_OK;
}

ma_status km_keep_own(MPI_Comm comm, km_result *r, int64_t k, int64_t d)
{
  int64_t lo, hi;
  MA_CALL(km_own_range(comm, k, &lo, &hi));
  float *mine = malloc((size_t)((hi - lo) * d + 1) * sizeof *mine);
  if (!mine) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  memcpy(mine, r->centroids + lo * d, (size_t)((hi - lo) * d) * sizeof *mine);
  free(r->centroids);
  r->centroids = mine;
  r->c_lo = lo;
  r->c_hi = hi;
  return MA_OK;
}

ma_status km_fetch_centroids(MPI_Comm comm, const km_result *r, int64_t d, const int64_t *which, int64_t m,
                             float *out)
{
  ma_status st = MA_OK;
  size_t rec = sizeof(int64_t) + (size_t)d * sizeof(float);
  int64_t mine = 0, nall = 0;
  char *recs = NULL;
  void *all = NULL;
  for (int64_t q = 0; q < m; q++) mine += which[q] >= r->c_lo && which[q] < r->c_hi;
  if (!(recs = malloc((size_t)mine * rec + 1))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  /* each rank sends (q, centroid which[q]) for the ones it holds; every q is held by exactly one rank */
  char *w = recs;
  for (int64_t q = 0; q < m; q++) {
    if (which[q] < r->c_lo || which[q] >= r->c_hi) continue;
    memcpy(w, &q, sizeof q);
    memcpy(w + sizeof q, r->centroids + (which[q] - r->c_lo) * d, (size_t)d * sizeof(float));
    w += rec;
  }
  MA_TRY(mpi_allgather_records(comm, recs, mine, rec, &all, &nall));
  for (int64_t t = 0; t < nall; t++) {
    const char *g = (const char *)all + (size_t)t * rec;
    int64_t q;
    memcpy(&q, g, sizeof q);
    memcpy(out + q * d, g + sizeof q, (size_t)d * sizeof(float));
  }
done:
  free(recs);
  free(all);
  return st;
}

ma_status km_cluster_flat(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                          const km_config *cfg, km_result *out)
{
  ma_status st = MA_OK;
  km_sample s = {0}, init = {0};
  memset(out, 0, sizeof *out);
  if (cfg->k < 1 || cfg->k > n)
    return ma_fail(MA_ERR_DATA, "%lld rows are fewer than the %lld clusters asked for", (long long)n, (long long)cfg->k);
  out->centroids = calloc((size_t)(cfg->k * d), sizeof *out->centroids);
  if (!cfg->no_assignment) out->assignment = malloc((size_t)(local->rows + 1) * sizeof *out->assignment);
  out->sizes = calloc((size_t)cfg->k, sizeof *out->sizes);
  if (!out->centroids || (!cfg->no_assignment && !out->assignment) || !out->sizes)
    st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));

  /* Seeding runs on a sub-sample of the sample, drawn straight from the rows; the sample itself is
   * copied only after seeding, so that the two are never held together with rank 0's k-means++. */
  km_filter f[2];
  MA_TRY(sample_filter(comm, local, ids, n, d, cfg, &f[0], &out->sample));
  if ((double)cfg->per_cluster * (double)cfg->k > (double)n)
    KM_LOG(cfg, "clustering %d: %lld x %lld sample items exceed the %lld rows; training on all of them", cfg->clustering,
             (long long)cfg->per_cluster, (long long)cfg->k, (long long)n);
  int64_t ncand = 0;
  double t0 = log_now();
  f[1] = (km_filter){(double)KM_INIT_PER_CLUSTER * (double)cfg->k / (double)out->sample,
                     stream_of(RNG_KMEANS_INIT, cfg->clustering, 63)};
  MA_TRY(select_rows(comm, local, ids, d, f, 2, cfg->seed, 1, &init));
  if (init.global < cfg->k) {
    sample_free(&init);
    MA_TRY(select_rows(comm, local, ids, d, f, 1, cfg->seed, 1, &init));
  }
  MA_TRY(seed_kmeans_par(comm, &init, d, cfg, out->centroids, &ncand));
  /* every init item meets every candidate once, in the round that drew it */
  out->seed_flops = 2.0 * (double)init.global * (double)ncand * (double)d + km_seed_flops(ncand, d, cfg->k, KM_SEED_ITERS, KM_GRAM_BYTES);
  out->seconds_seed = log_now() - t0;
  KM_LOG(cfg, "clustering %d: k-means|| seeded %lld clusters from %lld candidates over %lld items in %.2f s",
           cfg->clustering, (long long)cfg->k, (long long)ncand, (long long)init.global, out->seconds_seed);
  sample_free(&init);
  MA_TRY(select_rows(comm, local, ids, d, f, 1, cfg->seed, 1, &s));
  MA_TRY(lloyd(comm, &s, n, d, cfg, out));
  sample_free(&s);
  if (!cfg->no_assignment) MA_TRY(assign_all(comm, local, n, d, cfg, out));
  out->flops = out->seed_flops + 2.0 * (double)out->sample * (double)cfg->k * (double)d * out->iterations +
               (cfg->no_assignment ? 0 : 2.0 * (double)n * (double)cfg->k * (double)d);
done:
  sample_free(&s);
  sample_free(&init);
  if (st != MA_OK) km_result_free(out);
  return st;
}

const char *km_method_name(const km_config *km) { return two_level(km) ? "two-level" : "flat"; }

ma_status km_cluster(MPI_Comm comm, const ma_rows *local, const int64_t *ids, int64_t n, int64_t d,
                     const km_config *cfg, km_result *out)
{
  if (two_level(cfg)) return km_cluster_two_level(comm, local, ids, n, d, cfg, out);
  /* flat k-means holds all k centroids on every rank while it runs (its k is small); its result keeps
   * this rank's rows, like a two-level one */
  MA_CALL(km_cluster_flat(comm, local, ids, n, d, cfg, out));
  ma_status st = mpi_agree(comm, km_keep_own(comm, out, cfg->k, d));
  if (st != MA_OK) km_result_free(out);
  return st;
}

void km_resolve_k(km_config *km, int64_t n)
{
  int automatic = km->k == 0;
  if (automatic) km->k = n / KM_AUTO_CLUSTER_SIZE > 1 ? n / KM_AUTO_CLUSTER_SIZE : 1;
  /* --kmeans auto: two levels from KM_TWO_LEVEL_FROM clusters on, when the rows fill each cluster's
   * training sample (n >= per_cluster * k): with fewer, the fine k-means train on coarse clusters of a
   * few hundred items and the top-2 assignment loses pairs (on test_dedup.py's 30,000 rows, K = 1536, 20
   * items a cluster: true recall after 5 clusterings 0.63 against flat's 0.97) */
  if (km->method == KM_AUTO)
    km->method = km->k >= KM_TWO_LEVEL_FROM && (double)n >= (double)km->per_cluster * (double)km->k ? KM_TWO_LEVEL
                                                                                                     : KM_FLAT;
  if (automatic)
    log_info("--clusters auto: %lld clusters for %lld rows (about %d rows each), %s k-means", (long long)km->k,
             (long long)n, KM_AUTO_CLUSTER_SIZE, km_method_name(km));
}

ma_status km_write(h5out *o, int r, const km_result *res, int64_t k, int64_t d, int64_t n, int64_t offset,
                   int64_t local_rows)
{
  int rank;
  char name[96], group[64];
  MA_MPI(MPI_Comm_rank(o->comm, &rank));
  snprintf(group, sizeof group, "/clusterings/%d", r);
  snprintf(name, sizeof name, "%s/centroids", group);
  MA_CALL(h5out_write(o, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, k, d, res->c_lo, res->c_hi - res->c_lo, res->centroids,
                      1));
  snprintf(name, sizeof name, "%s/assignment", group);
  MA_CALL(h5out_write(o, name, H5T_STD_I32LE, H5T_NATIVE_INT32, n, 0, offset, local_rows, res->assignment, 1));
  snprintf(name, sizeof name, "%s/sizes", group);
  MA_CALL(h5out_write(o, name, H5T_STD_I64LE, H5T_NATIVE_INT64, k, 0, 0, rank == 0 ? k : 0, res->sizes, 1));
  MA_CALL(h5out_attr_f64(o, group, "objective", res->objective));
  MA_CALL(h5out_attr_f64(o, group, "train_objective", res->train_objective));
  MA_CALL(h5out_attr_i64(o, group, "iterations", res->iterations));
  MA_CALL(h5out_attr_i64(o, group, "sample", res->sample));
  return MA_OK;
}

static void name_of(char *buf, size_t len, const char *what, int r) { snprintf(buf, len, "%s-%d", what, r); }

ma_status km_save(const ckpt *c, int r, const km_result *res, int64_t k, int64_t d, int64_t n,
                                int64_t offset, int64_t local)
{
  char name[64];
  h5out *o = NULL;
  name_of(name, sizeof name, "clustering", r);
  MA_CALL(ckpt_create(c, name, &o));
  ma_status st = km_write(o, r, res, k, d, n, offset, local);
  if (st != MA_OK) {
    h5out_abort(&o);
    return st;
  }
  return h5out_commit(&o);
}

ma_status km_load(const ckpt *c, int r, int64_t k, int64_t d, int64_t offset, int64_t local,
                                km_result *res)
{
  char name[64], group[64], dset[96];
  double v;
  memset(res, 0, sizeof *res);
  name_of(name, sizeof name, "clustering", r);
  snprintf(group, sizeof group, "/clusterings/%d", r);
  MA_CALL(km_own_range(c->comm, k, &res->c_lo, &res->c_hi));
  res->centroids = malloc((size_t)((res->c_hi - res->c_lo) * d + 1) * sizeof *res->centroids);
  res->assignment = malloc((size_t)(local + 1) * sizeof *res->assignment);
  res->sizes = malloc((size_t)k * sizeof *res->sizes);
  MA_CALL(mpi_agree(c->comm, res->centroids && res->assignment && res->sizes ? MA_OK : ma_fail(MA_ERR_RUNTIME, "out of memory")));
  snprintf(dset, sizeof dset, "%s/centroids", group);
  MA_CALL(ckpt_read(c, name, dset, H5T_NATIVE_FLOAT, res->c_lo, res->c_hi - res->c_lo, d, res->centroids));
  snprintf(dset, sizeof dset, "%s/assignment", group);
  MA_CALL(ckpt_read(c, name, dset, H5T_NATIVE_INT32, offset, local, 0, res->assignment));
  snprintf(dset, sizeof dset, "%s/sizes", group);
  MA_CALL(ckpt_read(c, name, dset, H5T_NATIVE_INT64, 0, k, 0, res->sizes));
  MA_CALL(ckpt_attr(c, name, group, "objective", &res->objective));
  MA_CALL(ckpt_attr(c, name, group, "train_objective", &res->train_objective));
  MA_CALL(ckpt_attr(c, name, group, "iterations", &v));
  res->iterations = (int)v;
  MA_CALL(ckpt_attr(c, name, group, "sample", &v));
  res->sample = (int64_t)v;
  return MA_OK;
}

ma_status km_option(km_config *km, int *reclusterings, int max_reclusterings, int opt, const char *arg, int *handled)
{
  int64_t v;
  *handled = 1;
  switch (opt) {
  case OPT_KM_CLUSTERS:
    if (!strcmp(arg, "auto")) {
      km->k = 0;
      return MA_OK;
    }
    return opts_int64(arg, "--clusters", 1, INT32_MAX, &km->k);
  case OPT_KM_METHOD:
    if (!strcmp(arg, "auto")) km->method = KM_AUTO;
    else if (!strcmp(arg, "flat")) km->method = KM_FLAT;
    else if (!strcmp(arg, "two-level")) km->method = KM_TWO_LEVEL;
    else return ma_fail(MA_ERR_USAGE, "--kmeans takes flat, two-level or auto, not '%s'", arg);
    return MA_OK;
  case OPT_KM_PER_CLUSTER: return opts_int64(arg, "--sample-per-cluster", 1, INT32_MAX, &km->per_cluster);
  case OPT_KM_ITERS:
    MA_CALL(opts_int64(arg, "--iters", 1, 100000, &v));
    km->iters = (int)v;
    return MA_OK;
  case OPT_KM_RECLUSTER:
    MA_CALL(opts_int64(arg, "--reclusterings", 1, max_reclusterings, &v));
    *reclusterings = (int)v;
    return MA_OK;
  default: *handled = 0; return MA_OK;
  }
}

ma_status km_saved(const ckpt *c, int r, int *saved)
{
  char name[64];
  name_of(name, sizeof name, "clustering", r);
  return ckpt_has(c, name, saved);
}
