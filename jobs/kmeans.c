/* memaudit kmeans: one or several distributed spherical k-means clusterings of the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "core/signal.h"
#include "io/ckpt.h"
#include "io/h5out.h"
#include "io/summary.h"
#include "jobs/clustering.h"
#include "jobs/commands.h"
#include "jobs/input.h"
#include "jobs/options.h"
#include "kernels/quant.h"
#include "mpi/comm.h"

static const char kmeans_help[] =
    "usage: memaudit kmeans -i PATH[:DATASET] [-i ...] -o OUT.h5 [options]\n\n"
    "Spherical k-means (centroids are normalised means; items go to the largest inner product), seeded\n"
    "by k-means|| and trained on a random sample of P*K items per clustering; then every item is\n"
    "assigned. Results are bit-identical whatever the number of ranks.\n\n"
    KM_HELP
    "  --iters I                Lloyd iterations at most (default 20; stops earlier when nothing moves)\n"
    "  --sample-per-cluster P   train on about P*K items (default 256; all items when P*K >= N)\n"
    "  --reclusterings R        independent clusterings on different samples (default 1)\n" MA_SCREEN_HELP
    MA_COMMON_HELP;

typedef struct kmeans_cfg {
  ma_opts common;
  km_config km;
  int reclusterings;
} kmeans_cfg;

static ma_status parse(int argc, char **argv, kmeans_cfg *c)
{
  static const struct option longopts[] = {MA_COMMON_LONG, KM_LONG_OPTIONS, MA_SCREEN_LONG, {0, 0, 0, 0}};
  int opt, handled;
  opts_init(&c->common);
  c->km = (km_config){.k = 1024, .iters = 20, .per_cluster = 256, .init_rounds = 5};
  c->reclusterings = 1;
  opts_reset();
  while ((opt = getopt_long(argc, argv, MA_COMMON_SHORT, longopts, NULL)) != -1) {
    MA_CALL(opts_common(&c->common, opt, optarg, &handled));
    if (!handled) MA_CALL(km_option(&c->km, &c->reclusterings, 1000, opt, optarg, &handled));
    if (!handled) return opts_unknown("kmeans", argc, argv);
  }
  if (c->common.help) return MA_OK;
  for (; optind < argc; optind++) MA_CALL(opts_add_input(&c->common, argv[optind]));
  if (!c->common.output) return ma_fail(MA_ERR_USAGE, "kmeans needs -o OUT.h5");
  if (c->common.ninputs == 0) return ma_fail(MA_ERR_USAGE, "kmeans needs -i PATH[:DATASET]");
  c->km.seed = c->common.seed;
  c->km.screen = opts_screen_int8(&c->common);
  return MA_OK;
}

static int64_t kmeans_need(const h5in *in, int64_t rows, const void *ctx)
{
  const kmeans_cfg *c = ctx;
  return km_memory(rows, h5in_row_bytes(in), &c->km, in->dim, in->n) + rows * 4;
}

ma_status cmd_kmeans(MPI_Comm comm, int argc, char **argv)
{
  ma_status st = MA_OK;
  kmeans_cfg c;
  job_input ji = {0};
  km_result res = {0};
  h5out *out = NULL;
  ckpt *ck = NULL;
  json_t *sum = NULL, *objs = NULL;
  char *cmdline = NULL;
  int rank;
  memset(&c, 0, sizeof c);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  MA_TRY(parse(argc, argv, &c));
  log_init(rank, c.common.verbosity);
  if (c.common.help) {
    if (rank == 0) fputs(kmeans_help, stdout);
    goto done;
  }
  paths p = {0};
  opts_paths(&c.common, "-i", &p);
  MA_TRY(paths_check(comm, &p));
  MA_TRY(job_input_open(comm, &c.common, &ji));
  km_resolve_k(&c.km, ji.in->n);
  if (c.km.k > ji.in->n)
    MA_TRY(ma_fail(MA_ERR_DATA, "%lld rows are fewer than the %lld clusters asked for", (long long)ji.in->n,
                   (long long)c.km.k));
  if (c.common.workdir) {
    char *inputs = NULL, *config = NULL;
    st = ckpt_describe_inputs(c.common.inputs, c.common.ninputs, &inputs);
    if (st == MA_OK && (config = malloc(strlen(inputs) + 256)))
      sprintf(config, "%smemaudit kmeans %s\nclusters %lld kmeans %s iters %d sample-per-cluster %lld seed %llu drop-invalid %d\n",
              inputs, MEMAUDIT_VERSION, (long long)c.km.k, km_method_name(&c.km), c.km.iters, (long long)c.km.per_cluster,
              (unsigned long long)c.km.seed, c.common.drop_invalid);
    else if (st == MA_OK) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    if (st == MA_OK) st = ckpt_open(comm, c.common.workdir, config, &ck);
    free(inputs);
    free(config);
    MA_TRY(mpi_agree(comm, st));
    sig_install();
  }
  MA_TRY(job_input_load(comm, &c.common, "kmeans", kmeans_need, &c, &ji));
  MA_TRY(opts_screen_dim(&c.common, ji.in->dim, &c.km.screen));
  if (c.km.k > ji.n)
    MA_TRY(ma_fail(MA_ERR_DATA, "%lld valid rows are fewer than the %lld clusters asked for", (long long)ji.n,
                   (long long)c.km.k));

  int64_t d = ji.in->dim, local = ji.rows.count;
  ma_rows rows = {ji.rows.data, ji.rows.type, local, d};
  MA_TRY(h5out_create(comm, c.common.output, &out));
  MA_TRY(h5out_write(out, "/ids", H5T_STD_I64LE, H5T_NATIVE_INT64, ji.n, 0, ji.offset, local, ji.rows.ids, 1));
  objs = json_array();
  for (int r = 0; r < c.reclusterings; r++) {
    char phase[32];
    snprintf(phase, sizeof phase, "kmeans %d", r);
    log_phase_begin(phase);
    km_config kc = c.km;
    kc.clustering = r;
    int saved;
    MA_TRY(km_saved(ck, r, &saved));
    if (saved) {
      MA_TRY(km_load(ck, r, c.km.k, d, ji.offset, local, &res));
      log_info("clustering %d: loaded from %s", r, c.common.workdir);
    } else {
      MA_TRY(km_cluster(comm, &rows, ji.rows.ids, ji.n, d, &kc, &res));
      if (ck) MA_TRY(km_save(ck, r, &res, c.km.k, d, ji.n, ji.offset, local));
      MA_TRY(mpi_safe_point(comm, c.common.workdir));
    }
    log_info("clustering %d: objective %.6f over all %lld items after %d iterations (Lloyd %.1f GFLOP/s, "
             "assignment %.1f GFLOP/s)", r, res.objective, (long long)ji.n, res.iterations, res.gflops_lloyd,
             res.gflops_assign);
    if (!saved)
      log_info("clustering %d: screening %s; exact inner products: Lloyd %lld (%.3g%% of %lld), assignment %lld "
               "(%.3g%% of %lld)", r, opts_screen_name(c.km.screen), (long long)res.rescored_lloyd,
               100.0 * (double)res.rescored_lloyd / ((double)res.sample * (double)c.km.k * res.iterations),
               (long long)((double)res.sample * (double)c.km.k * res.iterations), (long long)res.rescored_assign,
               100.0 * (double)res.rescored_assign / ((double)ji.n * (double)c.km.k), (long long)(ji.n * c.km.k));
    log_phase_begin("write");
    MA_TRY(km_write(out, r, &res, c.km.k, d, ji.n, ji.offset, local));
    json_t *o = json_object();
    json_object_set_new(o, "objective", json_real(res.objective));
    json_object_set_new(o, "iterations", json_integer(res.iterations));
    json_object_set_new(o, "sample", json_integer(res.sample));
    json_object_set_new(o, "seed_seconds", json_real(res.seconds_seed));
    json_object_set_new(o, "lloyd_seconds", json_real(res.seconds_lloyd));
    json_object_set_new(o, "lloyd_gflops", json_real(res.gflops_lloyd));
    json_object_set_new(o, "assign_seconds", json_real(res.seconds_assign));
    json_object_set_new(o, "assign_gflops", json_real(res.gflops_assign));
    json_object_set_new(o, "lloyd_rescored", json_integer(res.rescored_lloyd));
    json_object_set_new(o, "assign_rescored", json_integer(res.rescored_assign));
    json_array_append_new(objs, o);
    if (r + 1 < c.reclusterings) km_result_free(&res);
  }
  if (!(cmdline = job_command_line("kmeans", argc, argv))) MA_TRY(ma_fail(MA_ERR_RUNTIME, "out of memory"));
  MA_TRY(h5out_attr_f64(out, "/", "objective", res.objective));
  MA_TRY(h5out_attr_i64(out, "/", "n", ji.n));
  MA_TRY(h5out_attr_i64(out, "/", "dim", d));
  MA_TRY(h5out_attr_i64(out, "/", "clusters", c.km.k));
  MA_TRY(h5out_attr_i64(out, "/", "reclusterings", c.reclusterings));
  MA_TRY(h5out_attr_i64(out, "/", "seed", (int64_t)c.km.seed));
  MA_TRY(h5out_attr_str(out, "/", "version", MEMAUDIT_VERSION));
  MA_TRY(h5out_attr_str(out, "/", "command_line", cmdline));
  MA_TRY(h5out_commit(&out));
  log_phase_end();

  sum = summary_new("kmeans");
  json_object_set_new(sum, "clusters", json_integer(c.km.k));
  json_object_set_new(sum, "kmeans", json_string(km_method_name(&c.km)));
  json_object_set_new(sum, "objective", json_real(res.objective));
  json_object_set_new(sum, "clusterings", objs);
  json_object_set_new(sum, "screen", json_string(opts_screen_name(c.km.screen)));
  if (c.km.screen) json_object_set_new(sum, "integer_gemm", json_string(q8_gemm_name()));
  objs = NULL;
  MA_TRY(summary_write(comm, sum, c.common.summary, ji.n, d));
  log_info("wrote %s", c.common.output);
done:
  h5out_abort(&out);
  ckpt_free(&ck);
  json_decref(sum);
  json_decref(objs);
  free(cmdline);
  km_result_free(&res);
  job_input_free(&ji);
  opts_free(&c.common);
  return st;
}
