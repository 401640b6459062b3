/* memaudit inspect: what the inputs hold (shape, type, chunking, ids, attributes), then the full
 * validation a real job would do: every row read in parallel and checked, ids checked for repeats. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "io/h5in.h"
#include "jobs/input.h"
#include "io/h5util.h"
#include "io/summary.h"
#include "jobs/commands.h"
#include "jobs/options.h"
#include "mpi/comm.h"

static const char inspect_help[] =
    "usage: memaudit inspect -i PATH[:DATASET] [-i ...] [options]\n\n"
    "Prints each input's shape, element type, chunking, ids and root attributes, then reads every row\n"
    "in parallel and validates it (NaN/Inf, zero norm, repeated ids). Exit 3 names the first problem.\n\n"
    "  --clusters K        also check that there are at least K rows (as the clustering commands do)\n" MA_COMMON_HELP;

enum { OPT_CLUSTERS = OPT_COMMAND };

static herr_t print_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data)
{
  (void)info;
  (void)data;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1, s = a >= 0 ? H5Aget_space(a) : -1;
  if (a < 0 || t < 0 || s < 0) goto done;
  if (H5Sget_simple_extent_npoints(s) != 1) {
    printf("        %s = (%lld values)\n", name, (long long)H5Sget_simple_extent_npoints(s));
  } else if (H5Tget_class(t) == H5T_INTEGER) {
    long long v;
    if (H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0) printf("        %s = %lld\n", name, v);
  } else if (H5Tget_class(t) == H5T_FLOAT) {
    double v;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) printf("        %s = %g\n", name, v);
  } else if (H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t)) {
    size_t len = H5Tget_size(t);
    char *buf = calloc(len + 1, 1);
    if (buf && H5Aread(a, t, buf) >= 0) printf("        %s = \"%s\"\n", name, buf);
    free(buf);
  } else {
    printf("        %s = (%s)\n", name, H5Tget_class(t) == H5T_STRING ? "variable-length string" : "other type");
  }
done:
  if (s >= 0) H5Sclose(s);
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  return 0;
}

/* Rank 0 prints what the metadata says; the files were validated by h5in_open already. */
static void describe(const h5in *in)
{
  printf("inputs: %d shard%s, %lld rows x %lld dimensions, %s\n", in->nshards, in->nshards == 1 ? "" : "s",
         (long long)in->n, (long long)in->dim, in->type == MA_F16 ? "float16" : "float32");
  for (int i = 0; i < in->nshards; i++) {
    const h5in_shard *s = &in->shards[i];
    char where[2048];
    printf("  [%d] %s\n      rows %lld..%lld (%lld), ", i, h5in_label(s, where, sizeof where), (long long)s->row0,
           (long long)(s->row0 + s->rows - 1), (long long)s->rows);
    if (s->npy) {
      printf(".npy format %d.%d, %s, C order, data at byte %lld, ids = global row numbers\n", s->npy / 10, s->npy % 10,
             in->type == MA_F16 ? "'<f2'" : "'<f4'", (long long)s->body);
      continue;
    }
    if (s->chunk[0]) printf("chunks %lld x %lld, ", (long long)s->chunk[0], (long long)s->chunk[1]);
    else printf("contiguous, ");
    printf("%s%s\n", s->ids_dataset ? "ids from " : "ids = global row numbers",
           s->ids_dataset ? s->ids_dataset : "");
    hid_t f = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
      hsize_t idx = 0;
      printf("      attributes:\n");
      H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, print_attr, NULL);
      H5Fclose(f);
    }
  }
  fflush(stdout);
}

ma_status cmd_inspect(MPI_Comm comm, int argc, char **argv)
{
  static const struct option longopts[] = {MA_COMMON_LONG, {"clusters", required_argument, 0, OPT_CLUSTERS}, {0, 0, 0, 0}};
  ma_status st = MA_OK;
  ma_opts o;
  job_input ji = {0};
  json_t *sum = NULL;
  int rank, nranks, opt, handled;
  int64_t clusters = 0;
  opts_init(&o);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  MA_MPI_TRY(MPI_Comm_size(comm, &nranks));
  opts_reset();
  while ((opt = getopt_long(argc, argv, MA_COMMON_SHORT, longopts, NULL)) != -1) {
    MA_TRY(opts_common(&o, opt, optarg, &handled));
    if (handled) continue;
    if (opt == OPT_CLUSTERS) MA_TRY(opts_int64(optarg, "--clusters", 1, INT32_MAX, &clusters));
    else MA_TRY(opts_unknown("inspect", argc, argv));
  }
  log_init(rank, o.verbosity);
  if (o.help) {
    if (rank == 0) fputs(inspect_help, stdout);
    goto done;
  }
  for (; optind < argc; optind++) MA_TRY(opts_add_input(&o, argv[optind]));

  MA_TRY(job_input_open(comm, &o, &ji));
  if (rank == 0) describe(ji.in);
  if (clusters > ji.in->n)
    MA_TRY(ma_fail(MA_ERR_DATA, "%lld rows are fewer than the %lld clusters asked for", (long long)ji.in->n,
                   (long long)clusters));
  MA_TRY(job_input_load(comm, &o, "reading the input", NULL, NULL, &ji));
  log_phase_end();
  int64_t dropped = ji.dropped;
  if (rank == 0) {
    if (dropped) printf("valid: yes, after dropping %lld invalid rows (--drop-invalid)\n", (long long)dropped);
    else printf("valid: yes (%lld rows read and checked on %d ranks)\n", (long long)ji.in->n, nranks);
    fflush(stdout);
  }
  sum = summary_new("inspect");
  json_object_set_new(sum, "shards", json_integer(ji.in->nshards));
  json_object_set_new(sum, "dtype", json_string(ji.in->type == MA_F16 ? "float16" : "float32"));
  json_object_set_new(sum, "dropped", json_integer(dropped));
  json_object_set_new(sum, "valid", json_true());
  MA_TRY(summary_write(comm, sum, o.summary, ji.in->n, ji.in->dim));
done:
  if (st == MA_ERR_DATA && rank == 0) {
    printf("valid: no\n");
    fflush(stdout);
  }
  json_decref(sum);
  job_input_free(&ji);
  opts_free(&o);
  return st;
}
