/* memaudit audit: are generated samples (or a test set) copies of training items? Exact k-NN of every
 * sample over the whole training set (mpi/knn.h), near-duplicate counts, the similarity of each sample to
 * the training item whose caption produced it, and a comparison with fresh real data (a holdout) or,
 * without one, with the training set itself (each sampled item's nearest other item). docs/audit.md
 * explains the statistics and how to read the verdict. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "core/log.h"
#include "core/signal.h"
#include "io/ckpt.h"
#include "io/csv.h"
#include "io/h5col.h"
#include "io/h5out.h"
#include "io/summary.h"
#include "jobs/commands.h"
#include "jobs/input.h"
#include "jobs/options.h"
#include "kernels/mannwhitney.h"
#include "kernels/quant.h"
#include "kernels/rng.h"
#include "mpi/comm.h"
#include "mpi/knn.h"

static const char audit_help[] =
    "usage: memaudit audit --train PATH[:DATASET] [--train ...] --generated PATH[:DATASET] -o OUT.h5 [options]\n\n"
    "Finds, for every generated sample, its k most similar training items (exact cosine, over the whole\n"
    "training set) and how many training items reach the threshold; flags samples whose nearest training\n"
    "item does. With --holdout, does the same for real items never trained on and tests whether the\n"
    "generated samples sit closer to the training set than they do (one-sided Mann-Whitney); without it,\n"
    "a sample of training items against their nearest other training item stands in. To check a test set\n"
    "for contamination, pass it as --generated.\n\n"
    "      --train PATH[:DATASET]  training embeddings (repeatable, shards in order; @LIST; or -i)\n"
    "      --generated PATH[:DATASET]\n"
    "                              generated samples (repeatable for shards; @LIST)\n"
    "      --holdout PATH[:DATASET]\n"
    "                              real items never trained on (repeatable for shards; @LIST)\n"
    "      --source-ids DATASET    in the generated file(s): per sample, the training id whose caption\n"
    "                              produced it (e.g. /source_ids); adds /source_similarity\n"
    "      --k N                   neighbours per sample (default 10; fewer if the training set is smaller)\n"
    "      --threshold T           cosine similarity that counts as a copy (default 0.95); calibrate it\n"
    "                              for the embedding (docs/audit.md)\n"
    "      --csv PATH              flagged samples as CSV, most similar first\n"
    "      --baseline-sample N     training items in the train-to-train baseline without --holdout\n"
    "                              (default 1000; 0: none)\n"
    "      --query-block N         queries broadcast at a time (default 2048)\n" MA_SCREEN_HELP MA_COMMON_HELP;

enum { OPT_TRAIN = OPT_COMMAND, OPT_GENERATED, OPT_HOLDOUT, OPT_SOURCE, OPT_K, OPT_THRESHOLD, OPT_CSV, OPT_BASELINE, OPT_BLOCK };

/* Samples listed in the summary (most similar to their source; first flagged). */
enum { AUDIT_TOP = 20 };

/* p-value below which the verdict says the generated samples sit closer than the baseline. */
#define AUDIT_ALPHA 1e-3

typedef struct audit_cfg {
  ma_opts common; /* inputs: --train */
  ma_opts gen, hold;
  const char *source_ids, *csv;
  int64_t k, baseline_sample, block;
  int screen; /* int8 screening of the k-NN searches */
  double threshold;
} audit_cfg;

static ma_status parse(int argc, char **argv, audit_cfg *c)
{
  static const struct option longopts[] = {MA_COMMON_LONG,
                                            {"train", required_argument, 0, OPT_TRAIN},
                                            {"generated", required_argument, 0, OPT_GENERATED},
                                            {"holdout", required_argument, 0, OPT_HOLDOUT},
                                            {"source-ids", required_argument, 0, OPT_SOURCE},
                                            {"k", required_argument, 0, OPT_K},
                                            {"threshold", required_argument, 0, OPT_THRESHOLD},
                                            {"csv", required_argument, 0, OPT_CSV},
                                            {"baseline-sample", required_argument, 0, OPT_BASELINE},
                                            {"query-block", required_argument, 0, OPT_BLOCK},
                                            MA_SCREEN_LONG,
                                            {0, 0, 0, 0}};
  int opt, handled;
  opts_init(&c->common);
  opts_init(&c->gen);
  opts_init(&c->hold);
  c->k = 10;
  c->threshold = 0.95;
  c->baseline_sample = 1000;
  c->block = KNN_BLOCK_DEFAULT;
  opts_reset();
  while ((opt = getopt_long(argc, argv, MA_COMMON_SHORT, longopts, NULL)) != -1) {
    MA_CALL(opts_common(&c->common, opt, optarg, &handled));
    if (handled) continue;
    switch (opt) {
    case OPT_TRAIN: MA_CALL(opts_add_input(&c->common, optarg)); break;
    case OPT_GENERATED: MA_CALL(opts_add_input(&c->gen, optarg)); break;
    case OPT_HOLDOUT: MA_CALL(opts_add_input(&c->hold, optarg)); break;
    case OPT_SOURCE: c->source_ids = optarg; break;
    case OPT_K: MA_CALL(opts_int64(optarg, "--k", 1, 1000, &c->k)); break;
    case OPT_THRESHOLD: MA_CALL(opts_double(optarg, "--threshold", -1, 1, &c->threshold)); break;
    case OPT_CSV: c->csv = optarg; break;
    case OPT_BASELINE: MA_CALL(opts_int64(optarg, "--baseline-sample", 0, INT64_MAX / 2, &c->baseline_sample)); break;
    case OPT_BLOCK: MA_CALL(opts_int64(optarg, "--query-block", 1, 1 << 20, &c->block)); break;
    default: return opts_unknown("audit", argc, argv);
    }
  }
  if (c->common.help) return MA_OK;
  if (optind < argc) return ma_fail(MA_ERR_USAGE, "audit: unexpected argument '%s'", argv[optind]);
  if (c->common.ninputs == 0) return ma_fail(MA_ERR_USAGE, "audit needs --train PATH[:DATASET]");
  if (c->gen.ninputs == 0) return ma_fail(MA_ERR_USAGE, "audit needs --generated PATH[:DATASET]");
  if (!c->common.output) return ma_fail(MA_ERR_USAGE, "audit needs -o OUT.h5");
  c->screen = opts_screen_int8(&c->common);
  if (c->source_ids && c->source_ids[0] != '/')
    return ma_fail(MA_ERR_USAGE, "--source-ids takes a dataset path such as /source_ids, not '%s'", c->source_ids);
  return MA_OK;
}

/* The D of every query input must be the training set's: one line naming both. Not collective (every
 * rank holds the same metadata). */
static ma_status check_dim(const h5in *train, const h5in *q, const char *role)
{
  if (q->dim == train->dim) return MA_OK;
  char a[2048], b[2048];
  return ma_fail(MA_ERR_DATA, "%s %s has D = %lld but the training set %s has D = %lld", role,
                 h5in_label(&q->shards[0], a, sizeof a), (long long)q->dim, h5in_label(&train->shards[0], b, sizeof b),
                 (long long)train->dim);
}

/* What the budget check needs to know besides the training rows. */
typedef struct audit_need_ctx {
  const audit_cfg *c;
  const h5in *gen, *hold;
  int nranks;
} audit_need_ctx;

static int64_t audit_need(const h5in *in, int64_t rows, const void *ctx)
{
  const audit_need_ctx *n = ctx;
  int64_t k = n->c->k, p = n->nranks;
  int64_t gl = (n->gen->n + p - 1) / p, hn = n->hold ? n->hold->n : 0, hl = (hn + p - 1) / p;
  int64_t sample = n->hold ? 0 : n->c->baseline_sample, sl = (sample + p - 1) / p;
  int64_t queries = gl * (h5in_row_bytes(n->gen) + 12 * k + 8 + 1 + 12) + (n->hold ? hl * (h5in_row_bytes(n->hold) + 24) : 0) +
                    sl * (h5in_row_bytes(in) + 40);
  /* gathered nearest similarities on every rank, and the Mann-Whitney pooled copy */
  int64_t stats = (n->gen->n + hn + sample) * 16 + (int64_t)sizeof(csv_flagged) * n->gen->n;
  return knn_memory(rows, in->dim, (int)k, n->c->block) + queries + stats;
}

/* A set of queries (generated, holdout or baseline sample) and what the search found for it. */
typedef struct audit_set {
  h5in_rows rows;   /* this rank's queries */
  int64_t n, lo;    /* over all ranks; global position of this rank's first */
  int k;            /* list length */
  int64_t *nb;      /* [rows][k] training ids */
  float *sim;       /* [rows][k] */
  int64_t *count;   /* [rows] training items >= threshold */
  float *nearest;   /* [rows] sim[i][0], or the nearest other item's similarity for the baseline */
  int64_t *nearest_id;
  int64_t rescored; /* exact inner products of its search, over all ranks (0 when loaded) */
} audit_set;

static void set_free(audit_set *s)
{
  h5in_rows_free(&s->rows);
  free(s->nb);
  free(s->sim);
  free(s->count);
  free(s->nearest);
  free(s->nearest_id);
  memset(s, 0, sizeof *s);
}

/* Reads this rank's share of a query input. Invalid rows fail: --drop-invalid is for the training set.
 * Collective on comm. */
static ma_status read_queries(MPI_Comm comm, const h5in *in, audit_set *s)
{
  int rank, nranks;
  int64_t hi;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &nranks));
  shard_range(in->n, nranks, rank, &s->lo, &hi);
  s->n = in->n;
  h5in_read_opts ro = {0};
  return h5in_read(comm, in, s->lo, hi, &ro, &s->rows);
}

/* Saves a searched set's lists in the work directory as phase `name`. Collective on comm. */
static ma_status save_set(const ckpt *ck, const char *name, const audit_set *s)
{
  h5out *o = NULL;
  int64_t m = s->rows.count;
  MA_CALL(ckpt_create(ck, name, &o));
  ma_status st = h5out_write(o, "/nb", H5T_STD_I64LE, H5T_NATIVE_INT64, s->n, s->k, s->lo, m, s->nb, 1);
  if (st == MA_OK) st = h5out_write(o, "/sim", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s->n, s->k, s->lo, m, s->sim, 1);
  if (st == MA_OK) st = h5out_write(o, "/count", H5T_STD_I64LE, H5T_NATIVE_INT64, s->n, 0, s->lo, m, s->count, 1);
  if (st != MA_OK) {
    h5out_abort(&o);
    return st;
  }
  return h5out_commit(&o);
}

/* Searches the set's rows over the training set with lists of k, or loads the lists saved as phase
 * `name` in the work directory (ck may be NULL); nearest = the first entry. Collective on comm. */
static ma_status search_set(MPI_Comm comm, const knn_train *tr, const audit_cfg *c, int k, const ckpt *ck,
                            const char *name, audit_set *s)
{
  ma_status st = MA_OK;
  int64_t m = s->rows.count;
  int saved;
  s->k = k;
  MA_ALLOC(s->nb, m * k);
  MA_ALLOC(s->sim, m * k);
  MA_ALLOC(s->count, m);
  MA_ALLOC(s->nearest, m);
  MA_ALLOC(s->nearest_id, m);
done:
  MA_CALL(mpi_agree(comm, st));
  MA_CALL(ckpt_has(ck, name, &saved));
  if (saved) {
    MA_CALL(ckpt_read(ck, name, "/nb", H5T_NATIVE_INT64, s->lo, m, k, s->nb));
    MA_CALL(ckpt_read(ck, name, "/sim", H5T_NATIVE_FLOAT, s->lo, m, k, s->sim));
    MA_CALL(ckpt_read(ck, name, "/count", H5T_NATIVE_INT64, s->lo, m, 0, s->count));
    log_info("%s: loaded from %s", name, c->common.workdir);
  } else {
    ma_rows q = {s->rows.data, s->rows.type, m, s->rows.dim};
    knn_params kp = {k, (float)c->threshold, c->block, c->screen, &s->rescored};
    MA_CALL(knn_search(comm, tr, &q, &kp, s->nb, s->sim, s->count));
    if (ck) MA_CALL(save_set(ck, name, s));
    MA_CALL(mpi_safe_point(comm, c->common.workdir));
  }
  for (int64_t i = 0; i < m; i++) {
    s->nearest[i] = s->sim[i * k];
    s->nearest_id[i] = s->nb[i * k];
  }
  return MA_OK;
}

/* The train-to-train baseline: a sample of exactly min(S, n) training items, chosen by a permutation of
 * their input positions keyed by the seed (so the same items at any rank count), each searched with
 * k = 2 and its own id dropped: the similarity to its nearest *other* training item. Collective on comm. */
static ma_status baseline(MPI_Comm comm, const knn_train *tr, const job_input *ji, const audit_cfg *c, const ckpt *ck,
                         audit_set *s)
{
  ma_status st = MA_OK;
  int64_t local = 0, d = tr->d, want = c->baseline_sample < ji->n ? c->baseline_sample : ji->n;
  size_t esize = tr->rows.type == MA_F16 ? 2 : 4;
  for (int64_t r = 0; r < tr->rows.rows; r++)
    local += rng_permute(c->common.seed, RNG_AUDIT_BASELINE, ji->offset + r, ji->n) < want;
  s->rows.data = malloc((size_t)(local * d) * esize + 1);
  s->rows.ids = malloc((size_t)(local + 1) * sizeof *s->rows.ids);
  if (!s->rows.data || !s->rows.ids) st = ma_fail(MA_ERR_RUNTIME, "out of memory for the baseline sample");
  MA_CALL(mpi_agree(comm, st));
  s->rows.count = 0;
  s->rows.dim = d;
  s->rows.type = tr->rows.type;
  for (int64_t r = 0; r < tr->rows.rows; r++) {
    if (rng_permute(c->common.seed, RNG_AUDIT_BASELINE, ji->offset + r, ji->n) >= want) continue;
    memcpy((char *)s->rows.data + (size_t)(s->rows.count * d) * esize, (const char *)tr->rows.data + (size_t)(r * d) * esize,
           (size_t)d * esize);
    s->rows.ids[s->rows.count++] = tr->ids[r];
  }
  MA_CALL(mpi_sum_i64(comm, local, &s->n));
  MA_MPI(MPI_Exscan(&local, &s->lo, 1, MPI_INT64_T, MPI_SUM, comm));
  int rank;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) s->lo = 0;
  MA_CALL(search_set(comm, tr, c, 2, ck, "baseline", s));
  for (int64_t i = 0; i < local; i++) {
    int p = s->nb[i * 2] == s->rows.ids[i] ? 1 : 0;
    s->nearest[i] = s->sim[i * 2 + p];
    s->nearest_id[i] = s->nb[i * 2 + p];
  }
  return MA_OK;
}

/* Quantiles of v (gathered, n >= 1) as a JSON object. */
static ma_status quantiles_json(const float *v, int64_t n, json_t **out)
{
  static const double probs[] = {0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1};
  static const char *names[] = {"min", "p01", "p05", "p25", "p50", "p75", "p95", "p99", "max"};
  double q[9];
  MA_CALL(mw_quantiles(v, n, probs, 9, q));
  json_t *o = json_object();
  for (int i = 0; i < 9; i++) json_object_set_new(o, names[i], json_real(q[i]));
  *out = o;
  return MA_OK;
}

static int64_t count_at_least(const float *v, int64_t n, float t)
{
  int64_t c = 0;
  for (int64_t i = 0; i < n; i++) c += v[i] >= t;
  return c;
}

/* Flagged samples, most similar first, ties by sample id. */
static int cmp_flagged(const void *pa, const void *pb)
{
  const csv_flagged *a = pa, *b = pb;
  if (a->similarity != b->similarity) return a->similarity > b->similarity ? -1 : 1;
  return (a->sample_id > b->sample_id) - (a->sample_id < b->sample_id);
}

/* Samples by similarity to their source, highest first, ties by sample id. */
static int cmp_source(const void *pa, const void *pb)
{
  const csv_flagged *a = pa, *b = pb;
  if (a->source_similarity != b->source_similarity) return a->source_similarity > b->source_similarity ? -1 : 1;
  return (a->sample_id > b->sample_id) - (a->sample_id < b->sample_id);
}

/* One record per local sample with what the CSV and the summary list show. */
static csv_flagged record_of(const audit_set *g, int64_t i, const int64_t *src, const float *src_sim)
{
  return (csv_flagged){g->rows.ids[i], g->nearest_id[i], g->count[i], src ? src[i] : -1, g->nearest[i],
                       src_sim ? src_sim[i] : NAN};
}

static json_t *record_json(const csv_flagged *r, int paired)
{
  json_t *o = json_object();
  json_object_set_new(o, "sample_id", json_integer(r->sample_id));
  json_object_set_new(o, "nearest_id", json_integer(r->nearest_id));
  json_object_set_new(o, "similarity", json_real(r->similarity));
  json_object_set_new(o, "near_count", json_integer(r->near_count));
  if (paired) {
    json_object_set_new(o, "source_id", json_integer(r->source_id));
    json_object_set_new(o, "source_similarity", json_real(r->source_similarity));
  }
  return o;
}

/* What the statistics phase concludes; every rank computes the same from gathered data. */
typedef struct audit_stats {
  int64_t flagged, cmp_n, cmp_at;
  const char *cmp_name; /* "holdout", "train-to-train sample of N", or NULL */
  char cmp_label[64];
  int have_mw;
  mw_result mw;
  char verdict[512];
  const char *kind;
} audit_stats;

static void verdict(const audit_cfg *c, int64_t m, audit_stats *s)
{
  const char *than = s->cmp_name && !strcmp(s->cmp_name, "holdout") ? "holdout data does" : "training items sit to each other";
  char tail[256] = "";
  if (s->cmp_name)
    snprintf(tail, sizeof tail, "; %s: %lld of %lld (%.2f%%)", s->cmp_label, (long long)s->cmp_at, (long long)s->cmp_n,
             100.0 * (double)s->cmp_at / (double)s->cmp_n);
  if (s->flagged > 0) {
    s->kind = "regurgitation";
    double fg = (double)s->flagged / (double)m, fc = s->cmp_n ? (double)s->cmp_at / (double)s->cmp_n : 0;
    snprintf(s->verdict, sizeof s->verdict, "regurgitation: %lld of %lld samples (%.2f%%) have a training item at cosine >= %g%s%s",
             (long long)s->flagged, (long long)m, 100.0 * (double)s->flagged / (double)m, c->threshold, tail,
             s->cmp_name && fc >= fg ? " -- as often as in the baseline: the threshold may be too low for this embedding" : "");
  } else if (s->have_mw && s->mw.p_greater < AUDIT_ALPHA) {
    s->kind = "closer than baseline";
    snprintf(s->verdict, sizeof s->verdict,
             "generated samples sit closer to the training set than %s (one-sided Mann-Whitney p = %.3g, AUC = %.3f), "
             "though none reaches cosine %g", than, s->mw.p_greater, s->mw.auc, c->threshold);
  } else {
    s->kind = "no evidence";
    if (s->have_mw)
      snprintf(s->verdict, sizeof s->verdict,
               "no evidence of regurgitation: no sample has a training item at cosine >= %g, and no evidence that "
               "generated samples sit closer to the training set than %s (one-sided Mann-Whitney p = %.3g, AUC = %.3f)",
               c->threshold, than, s->mw.p_greater, s->mw.auc);
    else
      snprintf(s->verdict, sizeof s->verdict,
               "no evidence of regurgitation: no sample has a training item at cosine >= %g (no baseline to compare with)",
               c->threshold);
  }
}

/* Gathers what the summary, the CSV and the verdict need, on every rank, and fills sum (rank 0 writes
 * it) and *flagged (all flagged samples, sorted). Collective on comm. */
static ma_status statistics(MPI_Comm comm, const audit_cfg *c, const audit_set *g, const int64_t *src,
                            const float *src_sim, const audit_set *cmp, audit_stats *s, json_t *sum,
                            csv_flagged **flagged)
{
  ma_status st = MA_OK;
  float *gall = NULL, *call = NULL;
  csv_flagged *recs = NULL, *top = NULL, *allrec = NULL;
  int64_t m = g->rows.count, ng = 0, nc = 0, nrec = 0, ntop = 0;
  float t = (float)c->threshold;
  *flagged = NULL;
  MA_TRY(mpi_allgather_records(comm, g->nearest, m, sizeof(float), (void **)&gall, &ng));
  s->flagged = count_at_least(gall, ng, t);
  json_object_set_new(sum, "generated", json_integer(ng));
  json_object_set_new(sum, "flagged", json_integer(s->flagged));
  json_object_set_new(sum, "flagged_fraction", json_real((double)s->flagged / (double)ng));
  json_object_set_new(sum, "threshold", json_real(c->threshold));
  json_object_set_new(sum, "k", json_integer(g->k));
  json_t *q = NULL;
  MA_TRY(mpi_agree(comm, quantiles_json(gall, ng, &q)));
  json_object_set_new(sum, "nearest_similarity", q);

  if (cmp) {
    MA_TRY(mpi_allgather_records(comm, cmp->nearest, cmp->rows.count, sizeof(float), (void **)&call, &nc));
    s->cmp_n = nc;
    s->cmp_at = count_at_least(call, nc, t);
    s->cmp_name = s->cmp_label;
    if (c->hold.ninputs) snprintf(s->cmp_label, sizeof s->cmp_label, "holdout");
    else snprintf(s->cmp_label, sizeof s->cmp_label, "train-to-train sample of %lld", (long long)nc);
    json_object_set_new(sum, "baseline", json_string(s->cmp_label));
    MA_TRY(mpi_agree(comm, quantiles_json(call, nc, &q)));
    json_object_set_new(sum, c->hold.ninputs ? "holdout_nearest_similarity" : "baseline_nearest_similarity", q);
    if (c->hold.ninputs) json_object_set_new(sum, "holdout", json_integer(nc));
    json_t *fr = json_object();
    json_object_set_new(fr, "generated", json_real((double)s->flagged / (double)ng));
    json_object_set_new(fr, c->hold.ninputs ? "holdout" : "baseline", json_real((double)s->cmp_at / (double)nc));
    json_object_set_new(sum, "fraction_at_threshold", fr);
    MA_TRY(mpi_agree(comm, mw_test(gall, ng, call, nc, &s->mw)));
    s->have_mw = 1;
    json_t *mw = json_object();
    json_object_set_new(mw, "alternative", json_string("generated samples have higher nearest-training similarity than the baseline"));
    json_object_set_new(mw, "u", json_real(s->mw.u));
    json_object_set_new(mw, "z", json_real(s->mw.z));
    json_object_set_new(mw, "p_value", json_real(s->mw.p_greater));
    json_object_set_new(mw, "auc", json_real(s->mw.auc));
    json_object_set_new(sum, "mann_whitney", mw);
  } else {
    json_object_set_new(sum, "baseline", json_string("none"));
  }

  /* Flagged samples: all of them, sorted, on every rank (the CSV; the first few in the summary). */
  int64_t nf = 0;
  for (int64_t i = 0; i < m; i++) nf += g->nearest[i] >= t;
  if (!(recs = malloc((size_t)(nf + 1) * sizeof *recs))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  nf = 0;
  for (int64_t i = 0; i < m; i++)
    if (g->nearest[i] >= t) recs[nf++] = record_of(g, i, src, src_sim);
  MA_TRY(mpi_allgather_records(comm, recs, nf, sizeof *recs, (void **)&allrec, &nrec));
  qsort(allrec, (size_t)nrec, sizeof *allrec, cmp_flagged);
  json_t *list = json_array();
  for (int64_t i = 0; i < nrec && i < AUDIT_TOP; i++) json_array_append_new(list, record_json(&allrec[i], src != NULL));
  json_object_set_new(sum, "top_flagged", list);

  if (src) {
    /* Paired mode: each rank's best AUDIT_TOP by source similarity, gathered, best of those. */
    free(recs);
    recs = NULL;
    if (!(recs = malloc((size_t)(m + 1) * sizeof *recs))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    MA_TRY(mpi_agree(comm, st));
    int64_t is_nearest = 0, total_nearest = 0;
    for (int64_t i = 0; i < m; i++) {
      recs[i] = record_of(g, i, src, src_sim);
      is_nearest += src[i] == g->nearest_id[i];
    }
    qsort(recs, (size_t)m, sizeof *recs, cmp_source);
    MA_TRY(mpi_allgather_records(comm, recs, m < AUDIT_TOP ? m : AUDIT_TOP, sizeof *recs, (void **)&top, &ntop));
    MA_TRY(mpi_sum_i64(comm, is_nearest, &total_nearest));
    qsort(top, (size_t)ntop, sizeof *top, cmp_source);
    json_t *paired = json_object(), *ranked = json_array();
    for (int64_t i = 0; i < ntop && i < AUDIT_TOP; i++) json_array_append_new(ranked, record_json(&top[i], 1));
    json_object_set_new(paired, "source_is_nearest", json_integer(total_nearest));
    json_object_set_new(paired, "top_by_source_similarity", ranked);
    json_object_set_new(sum, "paired", paired);
  }
  verdict(c, ng, s);
  json_object_set_new(sum, "verdict", json_string(s->verdict));
  json_object_set_new(sum, "verdict_kind", json_string(s->kind));
  *flagged = allrec;
  allrec = NULL;
  s->flagged = nrec;
done:
  free(gall);
  free(call);
  free(recs);
  free(top);
  free(allrec);
  return st;
}

/* Writes one query set's rows: ids, and the datasets named under prefix. Collective on the file's comm. */
static ma_status write_set(h5out *o, const char *prefix, const audit_set *s, int lists)
{
  char name[128];
  int64_t m = s->rows.count;
  snprintf(name, sizeof name, "%s/ids", prefix);
  MA_CALL(h5out_write(o, name, H5T_STD_I64LE, H5T_NATIVE_INT64, s->n, 0, s->lo, m, s->rows.ids, 1));
  if (lists) {
    snprintf(name, sizeof name, "%s/neighbors", prefix);
    MA_CALL(h5out_write(o, name, H5T_STD_I64LE, H5T_NATIVE_INT64, s->n, s->k, s->lo, m, s->nb, 1));
    snprintf(name, sizeof name, "%s/similarity", prefix);
    MA_CALL(h5out_write(o, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s->n, s->k, s->lo, m, s->sim, 1));
  } else {
    snprintf(name, sizeof name, "%s/nearest", prefix);
    MA_CALL(h5out_write(o, name, H5T_STD_I64LE, H5T_NATIVE_INT64, s->n, 0, s->lo, m, s->nearest_id, 1));
    snprintf(name, sizeof name, "%s/similarity", prefix);
    MA_CALL(h5out_write(o, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, s->n, 0, s->lo, m, s->nearest, 1));
  }
  return MA_OK;
}

/* Everything that changes a result, for the --workdir check: the inputs (sizes, modification times) and
 * the options (not the rank count or the memory budget). */
static ma_status config_text(const audit_cfg *c, char **text)
{
  char *train = NULL, *gen = NULL, *hold = NULL, opts[512];
  ma_status st = ckpt_describe_inputs(c->common.inputs, c->common.ninputs, &train);
  if (st == MA_OK) st = ckpt_describe_inputs(c->gen.inputs, c->gen.ninputs, &gen);
  if (st == MA_OK) st = ckpt_describe_inputs(c->hold.inputs, c->hold.ninputs, &hold);
  snprintf(opts, sizeof opts, "memaudit audit %s\nk %lld threshold %.9g seed %llu baseline-sample %lld drop-invalid %d\n",
           MEMAUDIT_VERSION, (long long)c->k, c->threshold, (unsigned long long)c->common.seed,
           (long long)c->baseline_sample, c->common.drop_invalid);
  if (st == MA_OK) {
    size_t need = strlen(train) + strlen(gen) + strlen(hold) + strlen(opts) + 32;
    if ((*text = malloc(need))) snprintf(*text, need, "train\n%sgenerated\n%sholdout\n%s%s", train, gen, hold, opts);
    else st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  }
  free(train);
  free(gen);
  free(hold);
  return st;
}

/* Every output against every input, before any work. Collective on comm. */
static ma_status check_paths(MPI_Comm comm, const audit_cfg *c)
{
  paths p = {0};
  opts_paths(&c->common, "--train", &p);
  opts_paths_inputs(&c->gen, "--generated", &p);
  opts_paths_inputs(&c->hold, "--holdout", &p);
  paths_add_out(&p, "--csv", c->csv, PATHS_FILE);
  return paths_check(comm, &p);
}

ma_status cmd_audit(MPI_Comm comm, int argc, char **argv)
{
  ma_status st = MA_OK;
  audit_cfg c;
  job_input ji = {0};
  h5in *gin = NULL, *hin = NULL;
  audit_set gen = {0}, hold = {0}, base = {0};
  int64_t *src = NULL;
  float *src_sim = NULL;
  unsigned char *flag = NULL;
  csv_flagged *flagged = NULL;
  h5out *out = NULL;
  ckpt *ck = NULL;
  json_t *sum = NULL;
  char *cmdline = NULL;
  int rank, nranks;
  audit_stats stats;
  memset(&c, 0, sizeof c);
  memset(&stats, 0, sizeof stats);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  MA_MPI_TRY(MPI_Comm_size(comm, &nranks));
  MA_TRY(parse(argc, argv, &c));
  log_init(rank, c.common.verbosity);
  if (c.common.help) {
    if (rank == 0) fputs(audit_help, stdout);
    goto done;
  }
  MA_TRY(check_paths(comm, &c));

  /* Metadata of every input, and D checked, before anything is allocated for the data. */
  MA_TRY(job_input_open(comm, &c.common, &ji));
  MA_TRY(h5in_open(comm, c.gen.inputs, c.gen.ninputs, &gin));
  MA_TRY(check_dim(ji.in, gin, "generated"));
  if (c.hold.ninputs) {
    MA_TRY(h5in_open(comm, c.hold.inputs, c.hold.ninputs, &hin));
    MA_TRY(check_dim(ji.in, hin, "holdout"));
  }
  if (c.common.workdir) {
    char *config = NULL;
    st = config_text(&c, &config);
    if (st == MA_OK) st = ckpt_open(comm, c.common.workdir, config, &ck);
    free(config);
    MA_TRY(mpi_agree(comm, st));
    sig_install();
  }
  audit_need_ctx need = {&c, gin, hin, nranks};
  MA_TRY(job_input_load(comm, &c.common, "audit", audit_need, &need, &ji));
  MA_TRY(opts_screen_dim(&c.common, ji.in->dim, &c.screen));
  if (ji.n == 0) MA_TRY(ma_fail(MA_ERR_DATA, "the training set has no valid rows"));
  int64_t d = ji.in->dim, k = c.k < ji.n ? c.k : ji.n;
  if (k < c.k) log_info("the training set has %lld items: lists hold %lld, not %lld", (long long)ji.n, (long long)k, (long long)c.k);
  knn_train tr = {{ji.rows.data, ji.rows.type, ji.rows.count, d}, ji.rows.ids, d};
  MA_TRY(read_queries(comm, gin, &gen));
  if (hin) MA_TRY(read_queries(comm, hin, &hold));
  if (hin)
    log_info("%lld generated samples and %lld holdout items against %lld training items, k = %lld, threshold %g",
             (long long)gen.n, (long long)hold.n, (long long)ji.n, (long long)k, c.threshold);
  else
    log_info("%lld generated samples against %lld training items, k = %lld, threshold %g", (long long)gen.n,
             (long long)ji.n, (long long)k, c.threshold);

  int64_t m = gen.rows.count;
  if (c.source_ids) {
    log_phase_begin("source");
    src = malloc((size_t)(m + 1) * sizeof *src);
    src_sim = malloc((size_t)(m + 1) * sizeof *src_sim);
    if (!src || !src_sim) st = ma_fail(MA_ERR_RUNTIME, "out of memory for the source ids");
    MA_TRY(mpi_agree(comm, st));
    MA_TRY(h5col_read_i64(comm, gin, c.source_ids, gen.lo, gen.lo + m, src));
    ma_rows q = {gen.rows.data, gen.rows.type, m, d};
    int64_t missing = -1;
    MA_TRY(knn_pair_similarity(comm, &tr, &q, src, c.block, src_sim, &missing));
    if (missing >= 0) {
      int sh;
      int64_t row;
      h5in_locate(gin, gen.lo + missing, &sh, &row);
      st = ma_fail(MA_ERR_DATA, "%s:%s row %lld: source id %lld is not an id of the training set", gin->shards[sh].path,
                   c.source_ids, (long long)row, (long long)src[missing]);
    }
    MA_TRY(mpi_agree(comm, st));
  }

  log_phase_begin("search");
  double t0 = log_now();
  MA_TRY(search_set(comm, &tr, &c, (int)k, ck, "search", &gen));
  double search_s = log_now() - t0, gflops = 2.0 * (double)gen.n * (double)ji.n * (double)d / search_s / 1e9;
  log_info("searched %lld x %lld in %.1f s: %.1f GFLOP/s over %d ranks", (long long)gen.n, (long long)ji.n, search_s,
           gflops, nranks);
  log_info("screening %s: %lld exact inner products (%.3g%% of %lld)", opts_screen_name(c.screen),
           (long long)gen.rescored, 100.0 * (double)gen.rescored / ((double)gen.n * (double)ji.n),
           (long long)(gen.n * ji.n));
  if (!(flag = malloc((size_t)m + 1))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  for (int64_t i = 0; i < m; i++) flag[i] = gen.nearest[i] >= (float)c.threshold;
  if (hin) {
    log_phase_begin("holdout");
    MA_TRY(search_set(comm, &tr, &c, 1, ck, "holdout", &hold));
  } else if (c.baseline_sample > 0 && ji.n > 1) {
    log_phase_begin("baseline");
    MA_TRY(baseline(comm, &tr, &ji, &c, ck, &base));
  }

  log_phase_begin("statistics");
  const audit_set *cmp = hin ? &hold : base.n > 0 ? &base : NULL;
  sum = summary_new("audit");
  json_object_set_new(sum, "search_seconds", json_real(search_s));
  json_object_set_new(sum, "search_gflops", json_real(gflops));
  json_object_set_new(sum, "screen", json_string(opts_screen_name(c.screen)));
  if (c.screen) json_object_set_new(sum, "integer_gemm", json_string(q8_gemm_name()));
  /* exact inner products beyond the GEMM: they depend on the tiles, hence on the rank count */
  json_object_set_new(sum, "search_rescored", json_integer(gen.rescored));
  json_object_set_new(sum, "comparison_rescored", json_integer(hold.rescored + base.rescored));
  MA_TRY(statistics(comm, &c, &gen, src, src_sim, cmp, &stats, sum, &flagged));
  log_info("verdict: %s", stats.verdict);

  log_phase_begin("write");
  if (!(cmdline = job_command_line("audit", argc, argv))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(h5out_create(comm, c.common.output, &out));
  MA_TRY(write_set(out, "", &gen, 1));
  MA_TRY(h5out_write(out, "/near_count", H5T_STD_I64LE, H5T_NATIVE_INT64, gen.n, 0, gen.lo, m, gen.count, 1));
  MA_TRY(h5out_write(out, "/flagged", H5T_STD_U8LE, H5T_NATIVE_UINT8, gen.n, 0, gen.lo, m, flag, 1));
  if (src) {
    MA_TRY(h5out_write(out, "/source_ids", H5T_STD_I64LE, H5T_NATIVE_INT64, gen.n, 0, gen.lo, m, src, 1));
    MA_TRY(h5out_write(out, "/source_similarity", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, gen.n, 0, gen.lo, m, src_sim, 1));
  }
  if (hin) {
    MA_TRY(write_set(out, "/holdout", &hold, 0));
    MA_TRY(h5out_write(out, "/holdout/near_count", H5T_STD_I64LE, H5T_NATIVE_INT64, hold.n, 0, hold.lo,
                       hold.rows.count, hold.count, 1));
  }
  if (base.n > 0) MA_TRY(write_set(out, "/baseline", &base, 0));
  MA_TRY(h5out_attr_i64(out, "/", "n", ji.n));
  MA_TRY(h5out_attr_i64(out, "/", "dim", d));
  MA_TRY(h5out_attr_i64(out, "/", "k", k));
  MA_TRY(h5out_attr_f64(out, "/", "threshold", c.threshold));
  MA_TRY(h5out_attr_i64(out, "/", "seed", (int64_t)c.common.seed));
  MA_TRY(h5out_attr_str(out, "/", "version", MEMAUDIT_VERSION));
  MA_TRY(h5out_attr_str(out, "/", "command_line", cmdline));
  MA_TRY(h5out_attr_i64(out, "/", "generated", gen.n));
  MA_TRY(h5out_attr_i64(out, "/", "flagged", stats.flagged));
  MA_TRY(h5out_attr_i64(out, "/", "holdout", hin ? hold.n : 0));
  MA_TRY(h5out_attr_str(out, "/", "baseline", stats.cmp_name ? stats.cmp_label : "none"));
  MA_TRY(h5out_attr_str(out, "/", "verdict", stats.verdict));
  if (stats.have_mw) MA_TRY(h5out_attr_f64(out, "/", "mann_whitney_p", stats.mw.p_greater));
  if (c.csv && rank == 0) st = csv_write_flagged(c.csv, flagged, stats.flagged, src != NULL);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(h5out_commit(&out));
  log_phase_end();
  MA_TRY(summary_write(comm, sum, c.common.summary, ji.n, d));
  log_info("wrote %s%s%s: %lld of %lld samples flagged", c.common.output, c.csv ? " and " : "", c.csv ? c.csv : "",
           (long long)stats.flagged, (long long)gen.n);
done:
  h5out_abort(&out);
  ckpt_free(&ck);
  json_decref(sum);
  free(cmdline);
  free(flagged);
  free(flag);
  free(src);
  free(src_sim);
  set_free(&gen);
  set_free(&hold);
  set_free(&base);
  h5in_free(&gin);
  h5in_free(&hin);
  job_input_free(&ji);
  opts_free(&c.common);
  opts_free(&c.gen);
  opts_free(&c.hold);
  return st;
}
