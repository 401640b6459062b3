/* Reading the input: the common first phase of the commands. */
#include "jobs/input.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "jobs/budget.h"
#include "mpi/comm.h"

ma_status job_input_open(MPI_Comm comm, const ma_opts *o, job_input *ji)
{
  memset(ji, 0, sizeof *ji);
  log_phase_begin("read");
  return h5in_open(comm, o->inputs, o->ninputs, &ji->in);
}

ma_status job_input_read(MPI_Comm comm, const ma_opts *o, const char *what, job_need_fn need, const void *ctx,
                         job_input *ji)
{
  MA_CALL(job_input_open(comm, o, ji));
  return job_input_load(comm, o, what, need, ctx, ji);
}

ma_status job_input_load(MPI_Comm comm, const ma_opts *o, const char *what, job_need_fn need, const void *ctx,
                         job_input *ji)
{
  int rank, nranks;
  const char *source;
  int64_t lo, hi, most;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &nranks));
  MA_CALL(budget_resolve(comm, o->mem_per_rank, &ji->budget, &source));
  shard_range(ji->in->n, nranks, rank, &lo, &hi);
  most = (ji->in->n + nranks - 1) / nranks;
  int64_t bytes = most * (h5in_row_bytes(ji->in) + 1) + (need ? need(ji->in, most, ctx) : 0);
  char a[32], b[32];
  log_info("%lld rows x %lld %s in %d shard%s; %s needs about %s per rank of %s (%s)", (long long)ji->in->n,
           (long long)ji->in->dim, ji->in->type == MA_F16 ? "float16" : "float32", ji->in->nshards,
           ji->in->nshards == 1 ? "" : "s", what, budget_human(bytes, a, sizeof a),
           budget_human(ji->budget, b, sizeof b), source);
  MA_CALL(budget_check(ji->budget, bytes, what));
  h5in_read_opts ropts = {.drop_invalid = o->drop_invalid};
  MA_CALL(h5in_read(comm, ji->in, lo, hi, &ropts, &ji->rows));
  MA_CALL(h5in_check_unique_ids(comm, ji->in, &ji->rows));
  MA_CALL(mpi_sum_i64(comm, ji->rows.dropped, &ji->dropped));
  MA_MPI(MPI_Exscan(&ji->rows.count, &ji->offset, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) ji->offset = 0;
  ji->n = ji->in->n - ji->dropped;
  if (ji->dropped) log_info("dropped %lld invalid rows (--drop-invalid)", (long long)ji->dropped);
  return MA_OK;
}

void job_input_drop_vectors(job_input *ji)
{
  free(ji->rows.data);
  ji->rows.data = NULL;
}

void job_input_free(job_input *ji)
{
  h5in_rows_free(&ji->rows);
  h5in_free(&ji->in);
}

char *job_command_line(const char *command, int argc, char **argv)
{
  size_t len = strlen("memaudit ") + strlen(command) + 1;
  for (int i = 1; i < argc; i++) len += strlen(argv[i]) + 1;
  char *s = malloc(len);
  if (!s) return NULL;
  strcpy(s, "memaudit ");
  strcat(s, command);
  for (int i = 1; i < argc; i++) {
    strcat(s, " ");
    strcat(s, argv[i]);
  }
  return s;
}
