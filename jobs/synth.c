/* memaudit synth: a synthetic embedding set with planted near-duplicate groups (training mode), or
 * generated samples "like" such a set with a known fraction of near-copies (--like ... --regurgitate F).
 * Every row is a pure function of the parameters and its global index (kernels/synth_model.c), so the
 * files are byte-identical whatever the rank count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "io/atomic.h"
#include "io/h5out.h"
#include "io/h5util.h"
#include "io/summary.h"
#include "jobs/budget.h"
#include "jobs/commands.h"
#include "jobs/options.h"
#include "kernels/f16.h"
#include "kernels/synth_model.h"
#include "mpi/comm.h"

typedef struct synth_cfg {
  ma_opts common;
  synth_params p;
  int64_t shards;
  int f16;
  int n_given;
  const char *like;
  double regurgitate;
} synth_cfg;

enum { OPT_N = OPT_COMMAND, OPT_DIM, OPT_DTYPE, OPT_SHARDS, OPT_DUPF, OPT_DUPN, OPT_CONCEPTS, OPT_LIKE, OPT_REGURG, OPT_SPREAD };

static const char synth_help[] =
    "usage: memaudit synth -o OUT.h5 [options]\n"
    "       memaudit synth --like TRAIN.h5 --regurgitate F -o GENERATED.h5 [options]\n\n"
    "Writes embeddings drawn around --concepts centres, a --dup-fraction of them in near-duplicate groups\n"
    "(ground truth in /truth/group). With --like, writes generated samples from the same concepts, a\n"
    "fraction F of them near-copies of training rows (/source_ids, /truth/copied_from).\n\n"
    "  --n N               rows (default 10000; 1000 with --like)\n"
    "  --dim D             dimensions (default 256)\n"
    "  --dtype f16|f32     element type (default f32)\n"
    "  --shards S          files (default 1): OUT-<s>-of-<S>.h5 and the list OUT.list\n"
    "  --dup-fraction F    fraction of rows in duplicate groups (default 0.25)\n"
    "  --dup-noise X       within-group noise; members sit at cosine ~1/(1+X^2) (default 0.1)\n"
    "  --concepts C        concept centres (default 100)\n"
    "  --concept-spread S  scales each concept's spread (default 1: unrelated items of a concept sit at\n"
    "                      cosine 0.28-0.61; 0.3 makes tight, well-separated concepts)\n"
    "  --like TRAIN.h5     make generated samples for a set written by synth\n"
    "  --regurgitate F     with --like: fraction of samples that copy a training row (default 0)\n" MA_COMMON_HELP;

static ma_status parse(int argc, char **argv, synth_cfg *c)
{
  static const struct option longopts[] = {
      MA_COMMON_LONG,
      {"n", required_argument, 0, OPT_N},
      {"dim", required_argument, 0, OPT_DIM},
      {"dtype", required_argument, 0, OPT_DTYPE},
      {"shards", required_argument, 0, OPT_SHARDS},
      {"dup-fraction", required_argument, 0, OPT_DUPF},
      {"dup-noise", required_argument, 0, OPT_DUPN},
      {"concepts", required_argument, 0, OPT_CONCEPTS},
      {"concept-spread", required_argument, 0, OPT_SPREAD},
      {"like", required_argument, 0, OPT_LIKE},
      {"regurgitate", required_argument, 0, OPT_REGURG},
      {0, 0, 0, 0}};
  opts_init(&c->common);
  c->p = (synth_params){.n = 10000, .dim = 256, .concepts = 100, .dup_fraction = 0.25, .dup_noise = 0.1, .spread = 1};
  c->shards = 1;
  opts_reset();
  int opt, handled;
  while ((opt = getopt_long(argc, argv, MA_COMMON_SHORT, longopts, NULL)) != -1) {
    MA_CALL(opts_common(&c->common, opt, optarg, &handled));
    if (handled) continue;
    switch (opt) {
    case OPT_N: MA_CALL(opts_int64(optarg, "--n", 1, INT64_MAX / 2, &c->p.n)); c->n_given = 1; break;
    case OPT_DIM: MA_CALL(opts_int64(optarg, "--dim", 1, 1 << 16, &c->p.dim)); break;
    case OPT_SHARDS: MA_CALL(opts_int64(optarg, "--shards", 1, 100000, &c->shards)); break;
    case OPT_CONCEPTS: MA_CALL(opts_int64(optarg, "--concepts", 1, 1 << 24, &c->p.concepts)); break;
    case OPT_DUPF: MA_CALL(opts_double(optarg, "--dup-fraction", 0, 1, &c->p.dup_fraction)); break;
    case OPT_DUPN: MA_CALL(opts_double(optarg, "--dup-noise", 0, 10, &c->p.dup_noise)); break;
    case OPT_SPREAD: MA_CALL(opts_double(optarg, "--concept-spread", 0, 100, &c->p.spread)); break;
    case OPT_REGURG: MA_CALL(opts_double(optarg, "--regurgitate", 0, 1, &c->regurgitate)); break;
    case OPT_LIKE: c->like = optarg; break;
    case OPT_DTYPE:
      if (!strcmp(optarg, "f16") || !strcmp(optarg, "float16")) c->f16 = 1;
      else if (!strcmp(optarg, "f32") || !strcmp(optarg, "float32")) c->f16 = 0;
      else return ma_fail(MA_ERR_USAGE, "--dtype takes f16 or f32, not '%s'", optarg);
      break;
    default: return opts_unknown("synth", argc, argv);
    }
  }
  if (c->common.help) return MA_OK;
  if (optind < argc) return ma_fail(MA_ERR_USAGE, "synth: unexpected argument '%s'", argv[optind]);
  if (!c->common.output) return ma_fail(MA_ERR_USAGE, "synth needs -o OUT.h5");
  if (c->regurgitate > 0 && !c->like) return ma_fail(MA_ERR_USAGE, "--regurgitate goes with --like TRAIN.h5");
  if (c->like && c->shards > 1) return ma_fail(MA_ERR_USAGE, "--like writes one file; drop --shards");
  if (c->shards > c->p.n) return ma_fail(MA_ERR_USAGE, "--shards %lld exceeds --n %lld", (long long)c->shards, (long long)c->p.n);
  if (c->like && !c->n_given) c->p.n = 1000;
  return MA_OK;
}

/* The training set's synth parameters, read on rank 0 and shared. */
static ma_status read_like(MPI_Comm comm, const char *path, synth_params *p)
{
  int rank;
  ma_status st = MA_OK;
  double v[7] = {0};
  MA_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) st = h5_fail(MA_ERR_DATA, "--like %s: cannot open", path);
    int64_t n = 0, dim = 0, concepts = 0, seed = 0;
    if (st == MA_OK) st = h5_attr_i64(f, "synth_n", &n);
    if (st == MA_OK) st = h5_attr_i64(f, "synth_dim", &dim);
    if (st == MA_OK) st = h5_attr_i64(f, "synth_concepts", &concepts);
    if (st == MA_OK) st = h5_attr_i64(f, "synth_seed", &seed);
    if (st == MA_OK) st = h5_attr_f64(f, "synth_dup_fraction", &v[4]);
    if (st == MA_OK) st = h5_attr_f64(f, "synth_dup_noise", &v[5]);
    if (st == MA_OK) st = h5_attr_f64(f, "synth_concept_spread", &v[6]);
    if (f >= 0) H5Fclose(f);
    if (st != MA_OK) {
      ma_err_clear();
      st = ma_fail(MA_ERR_DATA, "--like %s: not a training set written by memaudit synth (its synth_* attributes are missing)", path);
    }
    v[0] = (double)n;
    v[1] = (double)dim;
    v[2] = (double)concepts;
    v[3] = (double)seed;
  }
  MA_CALL(mpi_agree(comm, st));
  MA_MPI(MPI_Bcast(v, 7, MPI_DOUBLE, 0, comm));
  *p = (synth_params){.n = (int64_t)v[0], .dim = (int64_t)v[1], .concepts = (int64_t)v[2],
                      .seed = (uint64_t)v[3], .dup_fraction = v[4], .dup_noise = v[5], .spread = v[6]};
  return MA_OK;
}

/* This rank's rows [lo, hi): vectors (float32, then narrowed in place when f16) and per-row labels. */
typedef struct synth_rows {
  int64_t lo, hi;
  float *vec;
  int64_t *ids, *a, *b; /* train: group, concept; generated: source_id, copied_from */
} synth_rows;

static void synth_rows_free(synth_rows *r)
{
  free(r->vec);
  free(r->ids);
  free(r->a);
  free(r->b);
  memset(r, 0, sizeof *r);
}

static ma_status make_rows(const synth_cfg *c, const synth_model *m, synth_rows *r)
{
  ma_status st = MA_OK;
  int64_t count = r->hi - r->lo, dim = c->p.dim;
  MA_ALLOC(r->vec, count * dim + 1);
  MA_ALLOC(r->ids, count + 1);
  MA_ALLOC(r->a, count + 1);
  MA_ALLOC(r->b, count + 1);
  for (int64_t i = 0; i < count; i++) {
    int64_t g = r->lo + i;
    r->ids[i] = g;
    if (c->like) synth_generated_row(m, c->common.seed, c->regurgitate, c->p.n, g, r->vec + i * dim, &r->a[i], &r->b[i]);
    else synth_row(m, g, r->vec + i * dim, &r->a[i], &r->b[i]);
    if ((i & 16383) == 0) log_progress(i, count);
  }
  if (c->f16) f32_to_f16(r->vec, (uint16_t *)r->vec, count * dim); /* narrows in place, front to back */
done:
  return st;
}

static ma_status write_attrs(h5out *o, const synth_cfg *c, const synth_params *train, int64_t shard)
{
  MA_CALL(h5out_attr_str(o, "/", "generator", "memaudit synth " MEMAUDIT_VERSION));
  MA_CALL(h5out_attr_str(o, "/", "kind", c->like ? "generated" : "train"));
  MA_CALL(h5out_attr_i64(o, "/", "synth_n", train->n));
  MA_CALL(h5out_attr_i64(o, "/", "synth_dim", train->dim));
  MA_CALL(h5out_attr_i64(o, "/", "synth_concepts", train->concepts));
  MA_CALL(h5out_attr_i64(o, "/", "synth_seed", (int64_t)train->seed));
  MA_CALL(h5out_attr_f64(o, "/", "synth_dup_fraction", train->dup_fraction));
  MA_CALL(h5out_attr_f64(o, "/", "synth_dup_noise", train->dup_noise));
  MA_CALL(h5out_attr_f64(o, "/", "synth_concept_spread", train->spread));
  MA_CALL(h5out_attr_i64(o, "/", "shard", shard));
  MA_CALL(h5out_attr_i64(o, "/", "shards", c->shards));
  if (c->like) {
    MA_CALL(h5out_attr_str(o, "/", "like", c->like));
    MA_CALL(h5out_attr_i64(o, "/", "generated_seed", (int64_t)c->common.seed));
    MA_CALL(h5out_attr_f64(o, "/", "regurgitate", c->regurgitate));
  }
  return MA_OK;
}

/* Path of the shard list: OUT.list (OUT without its .h5). */
static void list_path(const char *out, char *buf, size_t len)
{
  size_t stem = strlen(out);
  if (stem > 3 && !strcmp(out + stem - 3, ".h5")) stem -= 3;
  snprintf(buf, len, "%.*s.list", (int)stem, out);
}

/* Path of shard s: OUT itself for one shard, else OUT-<s>-of-<S>.h5 (OUT without its .h5). */
static void shard_path(const char *out, int64_t s, int64_t shards, char *buf, size_t len)
{
  if (shards == 1) {
    snprintf(buf, len, "%s", out);
    return;
  }
  size_t stem = strlen(out);
  if (stem > 3 && !strcmp(out + stem - 3, ".h5")) stem -= 3;
  snprintf(buf, len, "%.*s-%05lld-of-%05lld.h5", (int)stem, out, (long long)s, (long long)shards);
}

static ma_status write_list(MPI_Comm comm, const synth_cfg *c)
{
  int rank;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  ma_status st = MA_OK;
  if (rank == 0 && c->shards > 1) {
    size_t cap = (size_t)c->shards * 4200, len = 0;
    char *text = malloc(cap), path[4096], list[4096];
    if (!text) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    for (int64_t s = 0; st == MA_OK && s < c->shards; s++) {
      shard_path(c->common.output, s, c->shards, path, sizeof path);
      len += (size_t)snprintf(text + len, cap - len, "%s\n", path);
    }
    list_path(c->common.output, list, sizeof list);
    if (st == MA_OK) st = file_write_result(list, text, len);
    if (st == MA_OK) log_info("wrote %lld shards, listed in %s (use -i @%s)", (long long)c->shards, list, list);
    free(text);
  }
  return mpi_agree(comm, st);
}

static ma_status write_shards(MPI_Comm comm, const synth_cfg *c, const synth_params *train, const synth_rows *r)
{
  ma_status st = MA_OK;
  h5out *o = NULL;
  hid_t ftype = -1;
  char path[4096];
  if (c->f16) MA_H5_TRY(ftype = h5_half_type());
  else MA_H5_TRY(ftype = H5Tcopy(H5T_IEEE_F32LE));
  for (int64_t s = 0; s < c->shards; s++) {
    int64_t s0, s1;
    shard_range(c->p.n, (int)c->shards, (int)s, &s0, &s1);
    int64_t a = r->lo > s0 ? r->lo : s0, b = r->hi < s1 ? r->hi : s1;
    if (b < a) b = a;
    int64_t off = a - r->lo, cnt = b - a, dim = c->p.dim;
    const void *vec = c->f16 ? (const void *)((const uint16_t *)r->vec + off * dim) : (const void *)(r->vec + off * dim);
    shard_path(c->common.output, s, c->shards, path, sizeof path);
    MA_TRY(h5out_create(comm, path, &o));
    MA_TRY(h5out_write(o, "/embeddings", ftype, ftype, s1 - s0, dim, a - s0, cnt, vec, 1));
    MA_TRY(h5out_write(o, "/ids", H5T_STD_I64LE, H5T_NATIVE_INT64, s1 - s0, 0, a - s0, cnt, r->ids + off, 1));
    MA_TRY(h5out_write(o, c->like ? "/source_ids" : "/truth/group", H5T_STD_I64LE, H5T_NATIVE_INT64, s1 - s0, 0,
                       a - s0, cnt, r->a + off, 1));
    MA_TRY(h5out_write(o, c->like ? "/truth/copied_from" : "/truth/concept", H5T_STD_I64LE, H5T_NATIVE_INT64,
                       s1 - s0, 0, a - s0, cnt, r->b + off, 1));
    MA_TRY(write_attrs(o, c, train, s));
    MA_TRY(h5out_commit(&o));
  }
done:
  h5out_abort(&o);
  h5_close(&ftype);
  return st;
}

/* The files synth writes (each shard, the list) against --like, before any work. Collective on comm. */
static ma_status check_paths(MPI_Comm comm, const synth_cfg *c)
{
  paths p = {0};
  char *names = c->shards > 1 ? malloc((size_t)(c->shards + 1) * 4096) : NULL;
  if (c->shards > 1 && !names) p.st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  paths_add_in(&p, "--like", c->like);
  if (!names) paths_add_out(&p, "-o", c->common.output, PATHS_FILE);
  for (int64_t s = 0; names && s < c->shards; s++) {
    shard_path(c->common.output, s, c->shards, names + s * 4096, 4096);
    paths_add_out(&p, "-o", names + s * 4096, PATHS_FILE);
  }
  if (names) {
    list_path(c->common.output, names + c->shards * 4096, 4096);
    paths_add_out(&p, "-o", names + c->shards * 4096, PATHS_FILE);
  }
  paths_add_out(&p, "--summary", c->common.summary, PATHS_FILE);
  ma_status st = paths_check(comm, &p);
  free(names);
  return st;
}

ma_status cmd_synth(MPI_Comm comm, int argc, char **argv)
{
  ma_status st = MA_OK;
  synth_cfg c;
  synth_model *model = NULL;
  synth_rows rows = {0};
  json_t *sum = NULL;
  int rank, nranks;
  memset(&c, 0, sizeof c);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  MA_MPI_TRY(MPI_Comm_size(comm, &nranks));
  MA_TRY(parse(argc, argv, &c));
  log_init(rank, c.common.verbosity);
  if (c.common.help) {
    if (rank == 0) fputs(synth_help, stdout);
    goto done;
  }
  MA_TRY(check_paths(comm, &c));
  synth_params train = c.p;
  train.seed = c.common.seed;
  if (c.like) {
    MA_TRY(read_like(comm, c.like, &train));
    c.p.dim = train.dim;
  }

  log_phase_begin("model");
  MA_TRY(mpi_agree(comm, synth_model_build(&train, &model)));
  shard_range(c.p.n, nranks, rank, &rows.lo, &rows.hi);
  int64_t budget, most_rows;
  const char *source;
  MA_TRY(budget_resolve(comm, c.common.mem_per_rank, &budget, &source));
  MA_TRY(mpi_max_i64(comm, rows.hi - rows.lo, &most_rows));
  MA_TRY(budget_check(budget, most_rows * (c.p.dim * 4 + 32) + (int64_t)synth_model_bytes(model), "synth"));
  log_info("%s %lld x %lld %s on %d ranks, %lld concepts, %lld duplicate groups holding %lld rows",
           c.like ? "generated samples" : "training set", (long long)c.p.n, (long long)c.p.dim,
           c.f16 ? "float16" : "float32", nranks, (long long)train.concepts, (long long)synth_model_groups(model),
           (long long)synth_model_dup_items(model));

  log_phase_begin("generate");
  MA_TRY(mpi_agree(comm, make_rows(&c, model, &rows)));
  log_phase_begin("write");
  MA_TRY(write_shards(comm, &c, &train, &rows));
  MA_TRY(write_list(comm, &c));
  log_phase_end();

  sum = summary_new("synth");
  json_object_set_new(sum, "kind", json_string(c.like ? "generated" : "train"));
  json_object_set_new(sum, "shards", json_integer(c.shards));
  json_object_set_new(sum, "dup_groups", json_integer(synth_model_groups(model)));
  json_object_set_new(sum, "dup_items", json_integer(synth_model_dup_items(model)));
  if (c.like) json_object_set_new(sum, "regurgitate", json_real(c.regurgitate));
  MA_TRY(summary_write(comm, sum, c.common.summary, c.p.n, c.p.dim));
  if (c.shards == 1) log_info("wrote %s", c.common.output);
done:
  json_decref(sum);
  synth_rows_free(&rows);
  synth_model_free(&model);
  opts_free(&c.common);
  return st;
}
