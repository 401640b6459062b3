/* memaudit dedup: cluster R times, search every cluster for pairs >= the lowest threshold, keep the
 * union, decide what to keep per threshold, estimate recall against an exact search of a sample, and
 * write the result (SPEC.md). Nothing gathers the data set on one rank. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "core/signal.h"
#include "io/ckpt.h"
#include "io/h5out.h"
#include "io/removed.h"
#include "io/summary.h"
#include "jobs/clustering.h"
#include "jobs/commands.h"
#include "jobs/dedup_ckpt.h"
#include "jobs/dedup_search.h"
#include "jobs/dedup_write.h"
#include "jobs/input.h"
#include "jobs/options.h"
#include "jobs/recall.h"
#include "kernels/keep.h"
#include "kernels/kmeans.h"
#include "kernels/quant.h"
#include "mpi/comm.h"
#include "mpi/components.h"
#include "mpi/lookup.h"
#include "mpi/pairs.h"

static const char dedup_help[] =
    "usage: memaudit dedup -i PATH[:DATASET] [-i ...] -o RESULT.h5 [options]\n\n"
    "Clusters the embeddings R times (k-means on a different sample each time), searches every cluster\n"
    "for pairs at or above the lowest threshold, keeps the union, decides which item of each group to\n"
    "keep, and estimates its own recall against an exact search of a sample.\n\n"
    KM_HELP
    "  --reclusterings R         clusterings (default 5); pairs split by one boundary are caught by another\n"
    "  --threshold T[,T2,...]    cosine similarity (default 0.95); the first is primary, others give /sweep\n"
    "  --iters I                 k-means iterations at most (default 20)\n"
    "  --kmeans-stop RULE        search-cost (default): stop once an iteration saves less search work\n"
    "                            than it costs; converged: only when no sample item moves (or at I)\n"
    "  --sample-per-cluster P    k-means trains on P*K items (default 256)\n"
    "  --keep greedy|one-per-group  greedy (default): keep an item unless it is >= T to one already kept;\n"
    "                            one-per-group: one item per connected group (DALL-E 2's rule)\n"
    "  --priority lowest-id|PATH:DATASET  visiting order in a group: lowest id first (default), or a 1-D\n"
    "                            numeric dataset with one value per input row, higher first\n"
    "  --recall-sample S         items searched exactly to estimate recall (default 1000; 0: off)\n"
    "  --exact                   all pairs by tiled GEMM, no clustering (the reference)\n"
    "  --keep-list PATH          also write the kept ids, one a line\n"
    "  --against PATH[:DATASET]  items already kept (repeatable, @LIST): searched with the new ones, never\n"
    "                            removed, never compared with each other; /ids, /keep... cover -i rows only\n"
    "  --removed-csv PATH        also write one line per removed item: id,file,row,representative,\n"
    "                            representative_file,representative_row,similarity\n" MA_SCREEN_HELP
    MA_COMMON_HELP;

enum {
  OPT_THRESHOLD = OPT_KM_NEXT, OPT_KEEP, OPT_PRIORITY,
  OPT_RECALL, OPT_EXACT, OPT_KEEP_LIST, OPT_KMEANS_STOP, OPT_REMOVED_CSV, OPT_AGAINST
};

typedef struct dedup_cfg {
  ma_opts common;
  km_config km;
  int reclusterings;
  double *thresholds; /* [0] is the primary */
  int nthr;
  float lowest;
  int one_per_group;
  const char *priority; /* NULL: lowest id first */
  int64_t recall_sample;
  int exact;
  const char *keep_list;
  const char *removed_csv;
  ma_opts against; /* --against: its inputs and lists only */
  ma_opts all;     /* the -i inputs, then the --against ones (borrowed strings): what is read */
} dedup_cfg;

static ma_status parse(int argc, char **argv, dedup_cfg *c)
{
  static const struct option longopts[] = {MA_COMMON_LONG,
                                            KM_LONG_OPTIONS,
                                            {"threshold", required_argument, 0, OPT_THRESHOLD},
                                            {"keep", required_argument, 0, OPT_KEEP},
                                            {"priority", required_argument, 0, OPT_PRIORITY},
                                            {"recall-sample", required_argument, 0, OPT_RECALL},
                                            {"exact", no_argument, 0, OPT_EXACT},
                                            {"keep-list", required_argument, 0, OPT_KEEP_LIST},
                                            {"kmeans-stop", required_argument, 0, OPT_KMEANS_STOP},
                                            {"removed-csv", required_argument, 0, OPT_REMOVED_CSV},
                                            {"against", required_argument, 0, OPT_AGAINST},
                                            MA_SCREEN_LONG,
                                            {0, 0, 0, 0}};
  int opt, handled;
  opts_init(&c->common);
  opts_init(&c->against);
  c->km = (km_config){.k = 1024, .iters = 20, .per_cluster = 256, .init_rounds = 5, .stop_on_search_cost = 1};
  c->reclusterings = 5;
  c->recall_sample = 1000;
  opts_reset();
  while ((opt = getopt_long(argc, argv, MA_COMMON_SHORT, longopts, NULL)) != -1) {
    MA_CALL(opts_common(&c->common, opt, optarg, &handled));
    /* /pairs records the clustering as int16 */
    if (!handled) MA_CALL(km_option(&c->km, &c->reclusterings, INT16_MAX, opt, optarg, &handled));
    if (handled) continue;
    switch (opt) {
    case OPT_RECALL: MA_CALL(opts_int64(optarg, "--recall-sample", 0, INT32_MAX, &c->recall_sample)); break;
    case OPT_EXACT: c->exact = 1; break;
    case OPT_KEEP_LIST: c->keep_list = optarg; break;
    case OPT_REMOVED_CSV: c->removed_csv = optarg; break;
    case OPT_AGAINST: MA_CALL(opts_add_input(&c->against, optarg)); break;
    case OPT_THRESHOLD:
      free(c->thresholds);
      c->thresholds = NULL;
      MA_CALL(opts_double_list(optarg, "--threshold", -1, 1, &c->thresholds, &c->nthr));
      break;
    case OPT_KEEP:
      if (!strcmp(optarg, "greedy")) c->one_per_group = 0;
      else if (!strcmp(optarg, "one-per-group")) c->one_per_group = 1;
      else return ma_fail(MA_ERR_USAGE, "--keep takes greedy or one-per-group, not '%s'", optarg);
      break;
    case OPT_KMEANS_STOP:
      if (!strcmp(optarg, "search-cost")) c->km.stop_on_search_cost = 1;
      else if (!strcmp(optarg, "converged")) c->km.stop_on_search_cost = 0;
      else return ma_fail(MA_ERR_USAGE, "--kmeans-stop takes search-cost or converged, not '%s'", optarg);
      break;
    case OPT_PRIORITY: c->priority = strcmp(optarg, "lowest-id") ? optarg : NULL; break;
    default: return opts_unknown("dedup", argc, argv);
    }
  }
  if (c->common.help) return MA_OK;
  for (; optind < argc; optind++) MA_CALL(opts_add_input(&c->common, argv[optind]));
  if (!c->common.output) return ma_fail(MA_ERR_USAGE, "dedup needs -o RESULT.h5");
  if (c->common.ninputs == 0) return ma_fail(MA_ERR_USAGE, "dedup needs -i PATH[:DATASET]");
  if (c->priority && c->common.drop_invalid)
    return ma_fail(MA_ERR_USAGE, "--priority PATH:DATASET gives one value per input row; it cannot go with --drop-invalid");
  if (!c->thresholds) {
    if (!(c->thresholds = malloc(sizeof *c->thresholds))) return ma_fail(MA_ERR_RUNTIME, "out of memory");
    c->thresholds[0] = 0.95;
    c->nthr = 1;
  }
  c->lowest = (float)c->thresholds[0];
  for (int i = 1; i < c->nthr; i++)
    if ((float)c->thresholds[i] < c->lowest) c->lowest = (float)c->thresholds[i];
  if (c->exact) {
    c->km.k = 1;
    c->reclusterings = 1;
  }
  c->km.seed = c->common.seed;
  c->km.screen = opts_screen_int8(&c->common);
  /* what is read: the new items, then the kept ones, so that the kept ones' implicit ids continue
   * after the last -i row */
  c->all = c->common;
  c->all.ninputs = c->common.ninputs + c->against.ninputs;
  if (!(c->all.inputs = malloc((size_t)c->all.ninputs * sizeof *c->all.inputs))) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  memcpy(c->all.inputs, c->common.inputs, (size_t)c->common.ninputs * sizeof *c->all.inputs);
  if (c->against.ninputs)
    memcpy(c->all.inputs + c->common.ninputs, c->against.inputs, (size_t)c->against.ninputs * sizeof *c->all.inputs);
  return MA_OK;
}

/* Everything that changes a result, for the --workdir check: the inputs (sizes, modification times)
 * and the options (not the rank count or the memory budget, which do not). */
static ma_status config_text(const dedup_cfg *c, char **text)
{
  char *inputs = NULL, opts[1024];
  MA_CALL(ckpt_describe_inputs(c->all.inputs, c->all.ninputs, &inputs));
  int len = snprintf(opts, sizeof opts, "memaudit dedup %s\nclusters %lld kmeans %s reclusterings %d iters %d kmeans-stop %d "
                     "sample-per-cluster %lld seed %llu exact %d drop-invalid %d recall-sample %lld against %d\nthresholds",
                     MEMAUDIT_VERSION, (long long)c->km.k, km_method_name(&c->km), c->reclusterings, c->km.iters,
                     c->km.stop_on_search_cost, (long long)c->km.per_cluster, (unsigned long long)c->common.seed, c->exact,
                     c->common.drop_invalid, (long long)c->recall_sample, c->against.ninputs);
  for (int i = 0; i < c->nthr && len < (int)sizeof opts - 32; i++) len += snprintf(opts + len, sizeof opts - (size_t)len, " %.9g", c->thresholds[i]);
  size_t need = strlen(inputs) + strlen(opts) + 2;
  *text = malloc(need);
  if (!*text) {
    free(inputs);
    return ma_fail(MA_ERR_RUNTIME, "out of memory");
  }
  snprintf(*text, need, "%s%s\n", inputs, opts);
  free(inputs);
  return MA_OK;
}

/* What a rank needs beyond its rows, before the search rounds (which get what is left). */
static int64_t dedup_need(const h5in *in, int64_t rows, const void *ctx)
{
  const dedup_cfg *c = ctx;
  int64_t km = c->exact ? 0 : km_memory(rows, h5in_row_bytes(in), &c->km, in->dim, in->n);
  /* positions, assignment, keep and representative; about 4 pairs per row in flight; workspaces; a
   * screened search task's quantities and integer buffers (its blocks are at most a round's rows, which
   * are fewer than the rank's) */
  int64_t screen = c->km.screen ? q8_search_memory(rows, rows, in->dim) : 0;
  return km + rows * (8 + 4 + 1 + 8) + rows * 4 * (int64_t)sizeof(dd_pair) + ((int64_t)160 << 20) + screen;
}

/* Rows one round of the search may move to a rank: what the budget leaves (each row is in the send and
 * the receive buffer, with its id, position and block), and at most an eighth of the rank's share, so
 * that the exchange keeps the peak memory near the data's own size even under a generous budget. */
static ma_status round_rows_for(const dedup_cfg *c, const job_input *ji, int64_t *rows)
{
  int64_t most = ji->rows.count, dim = ji->in->dim, esize = ji->in->type == MA_F16 ? 2 : 4;
  int64_t used = most * h5in_row_bytes(ji->in) + dedup_need(ji->in, most, c);
  int64_t per_row = 2 * (24 + dim * esize) + 24, eighth = most / 8 > 8192 ? most / 8 : 8192;
  *rows = (ji->budget - used) / per_row;
  if (*rows > eighth) *rows = eighth;
  if (*rows < 2048)
    return ma_fail(MA_ERR_DATA, "the memory budget leaves room for %lld rows per search round; at least 2048 are needed: "
                   "use more ranks or a larger --mem-per-rank", (long long)(*rows > 0 ? *rows : 0));
  return MA_OK;
}

/* The exact search's one "clustering": every item in cluster 0, whose centroid is the mean direction. */
static ma_status one_cluster(MPI_Comm comm, const ma_rows *rows, int64_t n, int64_t d, km_result *res)
{
  ma_status st = MA_OK;
  int64_t *sums = calloc((size_t)d + 1, sizeof *sums), *idx = calloc((size_t)rows->rows + 1, sizeof *idx);
  unsigned char empty;
  memset(res, 0, sizeof *res);
  res->centroids = calloc((size_t)d, sizeof *res->centroids);
  res->assignment = calloc((size_t)rows->rows + 1, sizeof *res->assignment);
  res->sizes = calloc(1, sizeof *res->sizes);
  if (!sums || !idx || !res->centroids || !res->assignment || !res->sizes) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  if (st == MA_OK) st = km_accumulate(rows, d, idx, 1, sums, sums + d);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_sum_i64_array(comm, sums, d + 1));
  km_centroids(sums, sums + d, 1, d, res->centroids, &empty);
  res->sizes[0] = n;
  res->objective = NAN;
  MA_TRY(mpi_agree(comm, km_keep_own(comm, res, 1, d)));
done:
  free(sums);
  free(idx);
  return st;
}

typedef struct {
  int64_t id, index;
} id_index;

static int cmp_id_index(const void *pa, const void *pb)
{
  const id_index *a = pa, *b = pb;
  return (a->id > b->id) - (a->id < b->id);
}

/* Decides keep/rep for every local row at one threshold, and when rep_pos and rsim are not NULL, each
 * removed row's representative's output position and their similarity (NaN when no found pair joins
 * them); rows at positions >= kept_from are kept items, never removed. *groups gets the number of
 * groups. Collective. */
static ma_status keep_at(MPI_Comm comm, const dedup_cfg *c, const pairset *ps, float thr, const int64_t *offsets,
                         const int64_t *ids, const double *priority, int64_t kept_from, uint8_t *keep, int64_t *rep,
                         int64_t *rep_pos, float *rsim, int64_t *groups)
{
  ma_status st = MA_OK;
  comp_graph g;
  comp_vertex *v = NULL;
  comp_edge *e = NULL;
  comp_result *res = NULL;
  keep_edge *ke = NULL;
  uint8_t *kk = NULL;
  int64_t *kr = NULL, nv = 0, ne = 0, mine = 0;
  int steps;
  MA_TRY(comp_build(comm, ps, thr, offsets, ids, &g));
  for (int64_t i = 0; i < g.nlocal; i++) {
    keep[i] = 1;
    rep[i] = ids[i];
    if (rep_pos) rep_pos[i] = g.offset + i;
    if (rsim) rsim[i] = NAN;
  }
  MA_TRY(comp_label(comm, &g, &steps));
  MA_TRY(comp_gather(comm, &g, ids, priority, &v, &nv, &e, &ne));
  res = malloc((size_t)(nv + 1) * sizeof *res);
  ke = malloc((size_t)(ne + 1) * sizeof *ke);
  kk = malloc((size_t)(nv + 1));
  kr = malloc((size_t)(nv + 1) * sizeof *kr);
  id_index *byid = malloc((size_t)(nv + 1) * sizeof *byid);
  if (!res || !ke || !kk || !kr || !byid) st = ma_fail(MA_ERR_RUNTIME, "out of memory deciding %lld items", (long long)nv);
  for (int64_t v0 = 0, e0 = 0; st == MA_OK && v0 < nv;) {
    int64_t v1 = v0, e1 = e0, label = v[v0].label;
    while (v1 < nv && v[v1].label == label) v1++;
    while (e1 < ne && e[e1].label == label) e1++;
    int64_t m = v1 - v0;
    /* (id, index in visiting order), sorted by id, to turn edge ids into indices. */
    for (int64_t i = 0; i < m; i++) byid[i] = (id_index){v[v0 + i].id, i};
    qsort(byid, (size_t)m, sizeof *byid, cmp_id_index);
    for (int64_t k = e0; k < e1; k++) {
      id_index ka = {e[k].a, 0}, kb = {e[k].b, 0};
      const id_index *ia = bsearch(&ka, byid, (size_t)m, sizeof *byid, cmp_id_index);
      const id_index *ib = bsearch(&kb, byid, (size_t)m, sizeof *byid, cmp_id_index);
      ke[k - e0] = (keep_edge){ia->index, ib->index, e[k].sim};
    }
    if (c->one_per_group) keep_one_per_group(m, kk, kr);
    else st = keep_greedy(m, ke, e1 - e0, thr, kk, kr);
    /* Kept items (--against) are visited first and never paired with each other, so greedy keeps
     * them all; one-per-group would keep only the first. */
    for (int64_t i = 0; i < m; i++)
      if (v[v0 + i].pos >= kept_from) {
        kk[i] = 1;
        kr[i] = i;
      }
    for (int64_t i = 0; st == MA_OK && i < m; i++)
      res[v0 + i] = (comp_result){v[v0 + i].pos, v[v0 + kr[i]].id, kk[i], v[v0 + kr[i]].pos, NAN};
    for (int64_t k = 0; st == MA_OK && k < e1 - e0; k++) {
      int64_t u = ke[k].u, w = ke[k].v;
      if (!kk[u] && kr[u] == w) res[v0 + u].sim = ke[k].sim;
      if (!kk[w] && kr[w] == u) res[v0 + w].sim = ke[k].sim;
    }
    mine++;
    v0 = v1;
    e0 = e1;
  }
  free(byid);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(comp_scatter(comm, &g, res, nv, keep, rep, rep_pos, rsim));
  MA_TRY(mpi_sum_i64(comm, mine, groups));
  log_verbose("threshold %.4f: %lld groups, labels settled in %d steps", thr, (long long)*groups, steps);
done:
  comp_free(&g);
  free(v);
  free(e);
  free(res);
  free(ke);
  free(kk);
  free(kr);
  return st;
}

/* Everything a run holds besides its input. */
typedef struct dedup_state {
  job_input ji;
  int64_t *offsets, *pos, *rep;
  int64_t nnew, local_new; /* rows of -i inputs over all ranks, here (a prefix of this rank's rows) */
  int64_t kept_from;       /* output position of the first --against row (INT64_MAX: none) */
  int64_t *rep_pos; /* with --removed-csv: the representative's output position, and their similarity */
  float *rep_sim;
  uint8_t *keep;
  double *priority;
  pairset ps;
  recall_row *recall;
  km_result res;
  h5out *out;
  ckpt *ck; /* NULL without --workdir */
  json_t *sum;
  char *cmdline;
} dedup_state;

static void dedup_state_free(dedup_state *s)
{
  h5out_abort(&s->out);
  ckpt_free(&s->ck);
  json_decref(s->sum);
  free(s->cmdline);
  free(s->offsets);
  free(s->pos);
  free(s->rep);
  free(s->rep_pos);
  free(s->rep_sim);
  free(s->keep);
  free(s->priority);
  free(s->recall);
  pairset_free(&s->ps);
  km_result_free(&s->res);
  job_input_free(&s->ji);
}

/* One clustering's figures for the summary; ss (the search's timings) is NULL when its pairs came from a
 * checkpoint, and res's timings are 0 when the clustering did. */
static json_t *phase_json(const dedup_phase_stats *p, const km_result *res, const dedup_search_stats *ss)
{
  double objective = res->objective;
  int iterations = res->iterations;
  json_t *o = json_object();
  json_object_set_new(o, "pairs_found", json_integer((json_int_t)p->pairs_found));
  json_object_set_new(o, "pairs_union", json_integer((json_int_t)p->pairs_union));
  json_object_set_new(o, "objective", json_real(isnan(objective) ? 0 : objective));
  json_object_set_new(o, "iterations", json_integer(iterations));
  json_object_set_new(o, "search_flops", json_real(p->search_flops));
  json_object_set_new(o, "kmeans_flops", json_real(p->kmeans_flops));
  json_object_set_new(o, "work_max_over_mean", json_real(p->work_ratio));
  json_object_set_new(o, "rounds", json_integer((json_int_t)p->rounds));
  json_object_set_new(o, "bytes_moved", json_integer((json_int_t)p->bytes_moved));
  /* rates over all ranks (k-means) and per rank (search): set beside an SGEMM peak, they say how much
   * of the machine each phase used */
  json_object_set_new(o, "seed_seconds", json_real(res->seconds_seed));
  json_object_set_new(o, "lloyd_seconds", json_real(res->seconds_lloyd));
  json_object_set_new(o, "lloyd_gflops", json_real(res->gflops_lloyd));
  json_object_set_new(o, "assign_seconds", json_real(res->seconds_assign));
  json_object_set_new(o, "assign_gflops", json_real(res->gflops_assign));
  json_object_set_new(o, "search_seconds", json_real(ss ? ss->seconds : 0));
  json_object_set_new(o, "search_gflops_per_rank", json_real(ss ? ss->gflops : 0));
  json_object_set_new(o, "exchange_seconds", json_real(ss ? ss->exchange_seconds : 0));
  /* exact inner products beyond the GEMM: they depend on the tiles, hence on the rank count */
  json_object_set_new(o, "lloyd_rescored", json_integer(res->rescored_lloyd));
  json_object_set_new(o, "assign_rescored", json_integer(res->rescored_assign));
  json_object_set_new(o, "search_rescored", json_integer(ss ? ss->rescored : 0));
  return o;
}

/* Clustering r: loaded from the work directory when saved there, else computed (and saved). */
static ma_status clustering(MPI_Comm comm, const dedup_cfg *c, dedup_state *s, int r, const ma_rows *rows)
{
  const job_input *ji = &s->ji;
  int saved;
  km_result_free(&s->res);
  MA_CALL(km_saved(s->ck, r, &saved));
  if (saved) {
    log_info("clustering %d: loaded from %s", r, c->common.workdir);
    return km_load(s->ck, r, c->km.k, rows->ld, ji->offset, rows->rows, &s->res);
  }
  if (c->exact) MA_CALL(one_cluster(comm, rows, ji->n, rows->ld, &s->res));
  else {
    km_config kc = c->km;
    kc.clustering = r;
    MA_CALL(km_cluster(comm, rows, ji->rows.ids, ji->n, rows->ld, &kc, &s->res));
  }
  if (s->ck) MA_CALL(km_save(s->ck, r, &s->res, c->km.k, rows->ld, ji->n, ji->offset, rows->rows));
  return mpi_safe_point(comm, c->common.workdir);
}

/* The last clustering whose union of pairs is saved (-1: none). */
static ma_status last_saved_pairs(const dedup_state *s, int R, int *last)
{
  *last = -1;
  for (int r = 0; r < R; r++) {
    char name[32];
    int saved;
    snprintf(name, sizeof name, "pairs-%d", r);
    MA_CALL(ckpt_has(s->ck, name, &saved));
    if (!saved) break;
    *last = r;
  }
  return MA_OK;
}

/* Clusterings, searches and the union of their pairs; each clustering is written as it is done, and
 * with --workdir each finished phase is saved, so a rerun resumes after the last one. */
static ma_status find_pairs(MPI_Comm comm, const dedup_cfg *c, dedup_state *s, int64_t round_rows, json_t *phases)
{
  const job_input *ji = &s->ji;
  int64_t d = ji->in->dim, local = ji->rows.count;
  ma_rows rows = {ji->rows.data, ji->rows.type, local, d};
  int last;
  MA_CALL(last_saved_pairs(s, c->reclusterings, &last));
  for (int r = 0; r < c->reclusterings; r++) {
    char phase[32];
    dedup_phase_stats ps;
    snprintf(phase, sizeof phase, c->exact ? "exact" : "kmeans %d", r);
    log_phase_begin(phase);
    MA_CALL(clustering(comm, c, s, r, &rows));
    MA_CALL(km_write(s->out, r, &s->res, c->km.k, d, ji->n, ji->offset, local));
    snprintf(phase, sizeof phase, "search %d", r);
    log_phase_begin(phase);
    if (r <= last) {
      if (r == last) MA_CALL(dckpt_load_pairs(s->ck, r, &s->ps));
      MA_CALL(dckpt_load_stats(s->ck, r, &ps));
      log_info("clustering %d: its pairs loaded from %s", r, c->common.workdir);
      json_array_append_new(phases, phase_json(&ps, &s->res, NULL));
      continue;
    }
    pairbuf found = {0};
    dedup_search_stats ss;
    ma_status st = dedup_search(comm, &rows, ji->rows.ids, s->pos, s->res.assignment, s->res.sizes, c->km.k,
                                s->kept_from, round_rows, c->lowest, c->km.screen, r, &found, &ss);
    if (st != MA_OK) {
      pairbuf_free(&found);
      return st;
    }
    int64_t new_pairs, total;
    MA_CALL(mpi_sum_i64(comm, found.n, &new_pairs));
    MA_CALL(pairset_merge(comm, &s->ps, &found));
    MA_CALL(mpi_sum_i64(comm, s->ps.n, &total));
    log_info("clustering %d: %lld pairs >= %.4f found, %lld distinct over clusterings 0..%d; moved %.1f MiB",
             r, (long long)new_pairs, c->lowest, (long long)total, r, (double)ss.bytes_moved / (1 << 20));
    log_info("clustering %d: screening %s; exact inner products: Lloyd %lld, assignment %lld, search %lld (%.3g%% "
             "of %.4g compared pairs)", r, opts_screen_name(c->km.screen), (long long)s->res.rescored_lloyd,
             (long long)s->res.rescored_assign, (long long)ss.rescored,
             ss.flops > 0 ? 100.0 * (double)ss.rescored / (ss.flops / (2.0 * (double)d)) : 0.0, ss.flops / (2.0 * (double)d));
    ps = (dedup_phase_stats){(double)new_pairs, (double)total, ss.flops,
                             s->res.flops,
                             ss.work_mean > 0 ? ss.work_max / ss.work_mean : 1, ss.rounds, (double)ss.bytes_moved};
    json_array_append_new(phases, phase_json(&ps, &s->res, &ss));
    if (s->ck) MA_CALL(dckpt_save_pairs(s->ck, r, &s->ps, &ps));
    MA_CALL(mpi_safe_point(comm, c->common.workdir));
  }
  return MA_OK;
}

/* Where this rank's -i rows go in /ids, /keep...: its offset, or the end when it holds none. */
static int64_t new_at(const dedup_state *s)
{
  return s->local_new ? s->ji.offset : s->nnew;
}

/* Keep decisions at every threshold; the primary's go to /keep and /representative (-i rows only). */
static ma_status decide(MPI_Comm comm, const dedup_cfg *c, dedup_state *s, int64_t *removed, int64_t *groups)
{
  int64_t local = s->local_new;
  log_phase_begin("keep");
  /* The extra thresholds first, so that /keep and /representative end up holding the primary's. */
  for (int t = c->nthr - 1; t >= 0; t--) {
    int64_t g;
    MA_CALL(keep_at(comm, c, &s->ps, (float)c->thresholds[t], s->offsets, s->ji.rows.ids, s->priority, s->kept_from,
                    s->keep, s->rep, t == 0 ? s->rep_pos : NULL, t == 0 ? s->rep_sim : NULL, &g));
    int64_t mine = 0, all;
    for (int64_t i = 0; i < local; i++) mine += !s->keep[i];
    MA_CALL(mpi_sum_i64(comm, mine, &all));
    if (t == 0) {
      *removed = all;
      *groups = g;
      break;
    }
    char name[64];
    snprintf(name, sizeof name, "/sweep/%d/keep", t - 1);
    MA_CALL(h5out_write(s->out, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, s->nnew, 0, new_at(s), local, s->keep, 1));
    snprintf(name, sizeof name, "/sweep/%d", t - 1);
    MA_CALL(h5out_attr_f64(s->out, name, "threshold", c->thresholds[t]));
    MA_CALL(h5out_attr_i64(s->out, name, "removed", all));
    log_info("threshold %.4f: %lld of %lld removed (%.2f%%)", c->thresholds[t], (long long)all, (long long)s->nnew,
             100.0 * (double)all / (double)s->nnew);
  }
  return MA_OK;
}

/* --removed-csv: each removed row with its input file and row, and its representative's, whose input
 * row is asked of the rank holding it when rows were dropped (else it is the output position). */
static ma_status write_removed(MPI_Comm comm, const dedup_cfg *c, const dedup_state *s)
{
  ma_status st = MA_OK;
  const job_input *ji = &s->ji;
  int64_t local = ji->rows.count, n = 0, *table = NULL, *ask = NULL, *answer = NULL;
  removed_row *rows = NULL;
  /* kept items are never removed: only this rank's -i rows can be */
  for (int64_t i = 0; i < s->local_new; i++) n += !s->keep[i];
  rows = malloc((size_t)(n + 1) * sizeof *rows);
  ask = malloc((size_t)(n + 1) * sizeof *ask);
  answer = malloc((size_t)(n + 1) * sizeof *answer);
  table = malloc((size_t)(local + 1) * sizeof *table);
  if (!rows || !ask || !answer || !table) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  for (int64_t i = 0; i < local; i++) table[i] = h5in_rows_source(&ji->rows, i);
  for (int64_t i = 0, k = 0; i < s->local_new; i++)
    if (!s->keep[i]) {
      rows[k] = (removed_row){ji->rows.ids[i], table[i], s->rep[i], -1, s->rep_sim[i]};
      ask[k++] = s->rep_pos[i];
    }
  if (ji->dropped) MA_TRY(lookup_at(comm, s->offsets, table, ask, n, answer));
  for (int64_t k = 0; k < n; k++) rows[k].rep_row = ji->dropped ? answer[k] : ask[k];
  MA_TRY(removed_csv_write(comm, c->removed_csv, ji->in, rows, n));
done:
  free(rows);
  free(ask);
  free(answer);
  free(table);
  return st;
}

/* Which rows are new (-i) and which kept (--against): the -i rows come first, so this rank's new rows
 * are a prefix of its rows, and the kept ones start at output position nnew. Collective on comm. */
static ma_status split_new_kept(MPI_Comm comm, const dedup_cfg *c, dedup_state *s)
{
  const h5in *in = s->ji.in;
  int64_t input_rows = 0;
  for (int i = 0; i < c->common.ninputs; i++) input_rows += in->shards[i].rows;
  s->local_new = 0;
  while (s->local_new < s->ji.rows.count && h5in_rows_source(&s->ji.rows, s->local_new) < input_rows) s->local_new++;
  MA_CALL(mpi_sum_i64(comm, s->local_new, &s->nnew));
  s->kept_from = c->against.ninputs ? s->nnew : INT64_MAX;
  if (c->against.ninputs)
    log_info("%lld new items (-i) against %lld kept ones (--against)", (long long)s->nnew, (long long)(s->ji.n - s->nnew));
  return MA_OK;
}

/* Every output against every input, before any work. Collective on comm. */
static ma_status check_paths(MPI_Comm comm, const dedup_cfg *c)
{
  paths p = {0};
  opts_paths(&c->common, "-i", &p);
  paths_add_spec(&p, "--priority", c->priority);
  paths_add_out(&p, "--keep-list", c->keep_list, PATHS_FILE);
  paths_add_out(&p, "--removed-csv", c->removed_csv, PATHS_FILE);
  opts_paths_inputs(&c->against, "--against", &p);
  return paths_check(comm, &p);
}

ma_status cmd_dedup(MPI_Comm comm, int argc, char **argv)
{
  ma_status st = MA_OK;
  dedup_cfg c;
  dedup_state s;
  json_t *clusterings = NULL;
  int rank, nranks;
  memset(&c, 0, sizeof c);
  memset(&s, 0, sizeof s);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  MA_MPI_TRY(MPI_Comm_size(comm, &nranks));
  MA_TRY(parse(argc, argv, &c));
  log_init(rank, c.common.verbosity);
  if (c.common.help) {
    if (rank == 0) fputs(dedup_help, stdout);
    goto done;
  }
  MA_TRY(check_paths(comm, &c));
  MA_TRY(job_input_open(comm, &c.all, &s.ji));
  km_resolve_k(&c.km, s.ji.in->n); /* new and kept rows are clustered together */
  if (c.common.workdir) {
    char *config = NULL;
    st = config_text(&c, &config);
    if (st == MA_OK) st = ckpt_open(comm, c.common.workdir, config, &s.ck);
    free(config);
    MA_TRY(mpi_agree(comm, st));
    sig_install();
  }
  if (c.km.k > s.ji.in->n)
    MA_TRY(ma_fail(MA_ERR_DATA, "%lld rows are fewer than the %lld clusters asked for", (long long)s.ji.in->n,
                   (long long)c.km.k));
  MA_TRY(job_input_load(comm, &c.all, "dedup", dedup_need, &c, &s.ji));
  MA_TRY(opts_screen_dim(&c.common, s.ji.in->dim, &c.km.screen));
  if (c.km.k > s.ji.n)
    MA_TRY(ma_fail(MA_ERR_DATA, "%lld valid rows are fewer than the %lld clusters asked for", (long long)s.ji.n,
                   (long long)c.km.k));
  int64_t local = s.ji.rows.count, d = s.ji.in->dim, round_rows, lo = s.ji.rows.lo;
  MA_TRY(split_new_kept(comm, &c, &s));
  MA_TRY(mpi_agree(comm, round_rows_for(&c, &s.ji, &round_rows)));
  MA_TRY(mpi_min_i64(comm, round_rows, &round_rows));

  /* Output positions of every rank's rows, and this rank's. */
  s.offsets = calloc((size_t)nranks + 1, sizeof *s.offsets);
  s.pos = malloc((size_t)(local + 1) * sizeof *s.pos);
  s.keep = malloc((size_t)(local + 1));
  s.rep = malloc((size_t)(local + 1) * sizeof *s.rep);
  if (c.priority || s.kept_from != INT64_MAX) s.priority = malloc((size_t)(local + 1) * sizeof *s.priority);
  if (c.removed_csv) {
    s.rep_pos = malloc((size_t)(local + 1) * sizeof *s.rep_pos);
    s.rep_sim = malloc((size_t)(local + 1) * sizeof *s.rep_sim);
  }
  if (!s.offsets || !s.pos || !s.keep || !s.rep || ((c.priority || s.kept_from != INT64_MAX) && !s.priority) ||
      (c.removed_csv && (!s.rep_pos || !s.rep_sim)))
    st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  MA_MPI_TRY(MPI_Allgather(&s.ji.offset, 1, MPI_INT64_T, s.offsets, 1, MPI_INT64_T, comm));
  s.offsets[nranks] = s.ji.n;
  for (int64_t i = 0; i < local; i++) s.pos[i] = s.ji.offset + i;
  /* --priority has one value per -i row; kept items come first, whatever it says */
  if (c.priority) MA_TRY(h5in_read_values(comm, c.priority, s.nnew, lo, lo + s.local_new, "--priority", s.priority));
  else if (s.priority) for (int64_t i = 0; i < s.local_new; i++) s.priority[i] = 0;
  for (int64_t i = s.local_new; i < local; i++) s.priority[i] = INFINITY;
  MA_TRY(pairset_init(comm, s.ji.rows.ids, local, &s.ps));

  MA_TRY(h5out_create(comm, c.common.output, &s.out));
  clusterings = json_array();
  MA_TRY(find_pairs(comm, &c, &s, round_rows, clusterings));

  int64_t sampled = 0, recall_rescored = 0;
  if (c.recall_sample > 0 && !c.exact) {
    log_phase_begin("recall");
    ma_rows rows = {s.ji.rows.data, s.ji.rows.type, local, d};
    if (!(s.recall = calloc((size_t)c.reclusterings, sizeof *s.recall))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    MA_TRY(mpi_agree(comm, st));
    int saved;
    MA_TRY(ckpt_has(s.ck, "recall", &saved));
    if (saved) MA_TRY(dckpt_load_recall(s.ck, s.recall, c.reclusterings, &sampled));
    else {
      MA_TRY(recall_estimate(comm, &rows, s.local_new, s.ji.rows.ids, &s.ps, c.recall_sample, c.common.seed, (float)c.thresholds[0],
                             c.km.screen, c.reclusterings, s.recall, &sampled, &recall_rescored));
      log_info("recall: screening %s; %lld exact inner products (%.3g%% of %lld)", opts_screen_name(c.km.screen),
               (long long)recall_rescored, 100.0 * (double)recall_rescored / ((double)sampled * (double)s.ji.n),
               (long long)(sampled * s.ji.n));
      if (s.ck) MA_TRY(dckpt_save_recall(s.ck, s.recall, c.reclusterings, sampled));
      MA_TRY(mpi_safe_point(comm, c.common.workdir));
    }
    log_info("recall at %.4f from %lld sampled items (%lld true pairs involve them):", c.thresholds[0],
             (long long)sampled, (long long)s.recall[0].true_pairs);
    for (int r = 0; r < c.reclusterings; r++)
      log_info("  after %d clustering%s: %.4f  (95%% CI %.4f-%.4f)", r + 1, r ? "s" : " ", s.recall[r].recall,
               s.recall[r].ci_low, s.recall[r].ci_high);
    MA_TRY(dedup_write_compound(s.out, "/recall", dckpt_recall_type, c.reclusterings, 0, rank == 0 ? c.reclusterings : 0, s.recall));
    MA_TRY(h5out_attr_i64(s.out, "/recall", "sample", sampled));
  }

  /* Nothing from here on reads a vector: the keep decision's gathering of groups, the job's last peak,
   * gets their memory. */
  job_input_drop_vectors(&s.ji);
  int64_t removed = 0, groups = 0, npairs = 0;
  MA_TRY(decide(comm, &c, &s, &removed, &groups));
  log_phase_begin("write");
  int64_t at = new_at(&s), nnew = s.nnew, against = s.ji.n - nnew;
  MA_TRY(h5out_write(s.out, "/ids", H5T_STD_I64LE, H5T_NATIVE_INT64, nnew, 0, at, s.local_new, s.ji.rows.ids, 1));
  MA_TRY(h5out_write(s.out, "/keep", H5T_STD_U8LE, H5T_NATIVE_UINT8, nnew, 0, at, s.local_new, s.keep, 1));
  MA_TRY(h5out_write(s.out, "/representative", H5T_STD_I64LE, H5T_NATIVE_INT64, nnew, 0, at, s.local_new, s.rep, 1));
  MA_TRY(dedup_write_pairs(comm, s.out, &s.ps, &npairs));
  if (!(s.cmdline = job_command_line("dedup", argc, argv))) MA_TRY(ma_fail(MA_ERR_RUNTIME, "out of memory"));
  MA_TRY(h5out_attr_i64(s.out, "/", "n", nnew));
  if (s.kept_from != INT64_MAX) MA_TRY(h5out_attr_i64(s.out, "/", "against", against));
  MA_TRY(h5out_attr_i64(s.out, "/", "dim", d));
  MA_TRY(h5out_attr_i64(s.out, "/", "clusters", c.km.k));
  MA_TRY(h5out_attr_i64(s.out, "/", "reclusterings", c.reclusterings));
  MA_TRY(h5out_attr_f64(s.out, "/", "threshold", c.thresholds[0]));
  MA_TRY(h5out_attr_i64(s.out, "/", "seed", (int64_t)c.common.seed));
  MA_TRY(h5out_attr_i64(s.out, "/", "removed", removed));
  MA_TRY(h5out_attr_i64(s.out, "/", "groups", groups));
  MA_TRY(h5out_attr_i64(s.out, "/", "exact", c.exact));
  MA_TRY(h5out_attr_str(s.out, "/", "keep_rule", c.one_per_group ? "one-per-group" : "greedy"));
  MA_TRY(h5out_attr_str(s.out, "/", "priority", c.priority ? c.priority : "lowest-id"));
  MA_TRY(h5out_attr_str(s.out, "/", "version", MEMAUDIT_VERSION));
  MA_TRY(h5out_attr_str(s.out, "/", "command_line", s.cmdline));
  if (c.keep_list) MA_TRY(dedup_write_keep_list(comm, c.keep_list, s.ji.rows.ids, s.keep, s.local_new));
  if (c.removed_csv) MA_TRY(write_removed(comm, &c, &s));
  MA_TRY(h5out_commit(&s.out));
  log_phase_end();

  log_info("removed %lld of %lld items (%.2f%%) at threshold %.4f: %lld groups, %lld pairs; wrote %s",
           (long long)removed, (long long)nnew, 100.0 * (double)removed / (double)nnew, c.thresholds[0],
           (long long)groups, (long long)npairs, c.common.output);
  s.sum = summary_new("dedup");
  json_object_set_new(s.sum, "removed", json_integer(removed));
  json_object_set_new(s.sum, "removed_fraction", json_real((double)removed / (double)nnew));
  if (s.kept_from != INT64_MAX) json_object_set_new(s.sum, "against", json_integer(against));
  json_object_set_new(s.sum, "pairs", json_integer(npairs));
  json_object_set_new(s.sum, "groups", json_integer(groups));
  json_object_set_new(s.sum, "recall", dedup_recall_json(s.recall, s.recall ? c.reclusterings : 0));
  json_object_set_new(s.sum, "recall_sample", json_integer(sampled));
  /* the exact search of the sampled items against all n */
  json_object_set_new(s.sum, "recall_flops", json_real(2.0 * (double)sampled * (double)s.ji.n * (double)d));
  json_object_set_new(s.sum, "threshold", json_real(c.thresholds[0]));
  json_object_set_new(s.sum, "clusters", json_integer(c.km.k));
  json_object_set_new(s.sum, "kmeans", json_string(c.exact ? "none" : km_method_name(&c.km)));
  json_object_set_new(s.sum, "reclusterings", json_integer(c.reclusterings));
  json_object_set_new(s.sum, "exact", json_boolean(c.exact));
  json_object_set_new(s.sum, "screen", json_string(opts_screen_name(c.km.screen)));
  if (c.km.screen) json_object_set_new(s.sum, "integer_gemm", json_string(q8_gemm_name()));
  json_object_set_new(s.sum, "recall_rescored", json_integer(recall_rescored));
  json_object_set_new(s.sum, "dropped", json_integer(s.ji.dropped));
  json_object_set_new(s.sum, "clusterings", clusterings);
  clusterings = NULL;
  MA_TRY(summary_write(comm, s.sum, c.common.summary, nnew, d));
done:
  json_decref(clusterings);
  dedup_state_free(&s);
  free(c.thresholds);
  free(c.all.inputs);
  opts_free(&c.against);
  opts_free(&c.common);
  return st;
}
