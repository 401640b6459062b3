/* Checked MPI calls, error agreement and the row split. */
#include "mpi/comm.h"

#include "core/signal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ma_status mpi_fail(int rc, const char *what)
{
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", rc);
  return ma_fail(MA_ERR_RUNTIME, "MPI error in %s: %s", what, text);
}

ma_status mpi_agree(MPI_Comm comm, ma_status local)
{
  int rank, size;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &size));
  int mine = local != MA_OK ? rank : size, first = size;
  MA_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) return MA_OK;

  /* The first failing rank's code and message reach every rank. */
  struct {
    int code;
    char msg[1020];
  } what;
  memset(&what, 0, sizeof what);
  if (rank == first) {
    what.code = (int)local;
    snprintf(what.msg, sizeof what.msg, "%s", ma_errmsg());
  }
  MA_MPI(MPI_Bcast(&what, (int)sizeof what, MPI_BYTE, first, comm));
  ma_err_set_message(what.msg);
  return (ma_status)what.code;
}

void shard_range(int64_t n, int nranks, int rank, int64_t *lo, int64_t *hi)
{
  int64_t base = n / nranks, extra = n % nranks;
  *lo = rank * base + (rank < extra ? rank : extra);
  *hi = *lo + base + (rank < extra ? 1 : 0);
}

int shard_owner(int64_t n, int nranks, int64_t row)
{
  int64_t base = n / nranks, extra = n % nranks;
  int64_t cut = extra * (base + 1); /* rows held by the ranks that have one extra */
  if (row < cut) return (int)(row / (base + 1));
  return (int)(extra + (row - cut) / base);
}

ma_status mpi_local_ranks(MPI_Comm comm, int *count)
{
  MPI_Comm node;
  MA_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int rc = MPI_Comm_size(node, count);
  MPI_Comm_free(&node);
  if (rc != MPI_SUCCESS) return mpi_fail(rc, "MPI_Comm_size");
  return MA_OK;
}

ma_status mpi_check_int(int64_t v, const char *what)
{
  if (v < 0 || v > INT_MAX)
    return ma_fail(MA_ERR_RUNTIME, "%s = %lld does not fit an MPI count", what, (long long)v);
  return MA_OK;
}

static ma_status reduce_i64(MPI_Comm comm, int64_t local, int64_t *global, MPI_Op op)
{
  MA_MPI(MPI_Allreduce(&local, global, 1, MPI_INT64_T, op, comm));
  return MA_OK;
}

ma_status mpi_sum_i64(MPI_Comm comm, int64_t local, int64_t *global) { return reduce_i64(comm, local, global, MPI_SUM); }
ma_status mpi_max_i64(MPI_Comm comm, int64_t local, int64_t *global) { return reduce_i64(comm, local, global, MPI_MAX); }
ma_status mpi_min_i64(MPI_Comm comm, int64_t local, int64_t *global) { return reduce_i64(comm, local, global, MPI_MIN); }

ma_status mpi_sum_i64_array(MPI_Comm comm, int64_t *buf, int64_t n)
{
  const int64_t piece = (int64_t)1 << 26;
  for (int64_t i = 0; i < n; i += piece) {
    int m = (int)(n - i < piece ? n - i : piece);
    MA_MPI(MPI_Allreduce(MPI_IN_PLACE, buf + i, m, MPI_INT64_T, MPI_SUM, comm));
  }
  return MA_OK;
}

ma_status mpi_allgather_records(MPI_Comm comm, const void *local, int64_t nlocal, size_t elem, void **all,
                                int64_t *nall)
{
  ma_status st = MA_OK;
  int nranks;
  int64_t mine = nlocal * (int64_t)elem, total = 0;
  int64_t *bytes = NULL;
  int *counts = NULL, *displs = NULL;
  char *buf = NULL;
  *all = NULL;
  MA_MPI(MPI_Comm_size(comm, &nranks));
  bytes = calloc((size_t)nranks, sizeof *bytes);
  counts = calloc((size_t)nranks, sizeof *counts);
  displs = calloc((size_t)nranks, sizeof *displs);
  if (!bytes || !counts || !displs) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  MA_MPI_TRY(MPI_Allgather(&mine, 1, MPI_INT64_T, bytes, 1, MPI_INT64_T, comm));
  for (int r = 0; r < nranks; r++) {
    if (total + bytes[r] > INT_MAX) {
      st = ma_fail(MA_ERR_RUNTIME, "gathering %lld bytes on every rank exceeds 2 GiB", (long long)(total + bytes[r]));
      goto done;
    }
    counts[r] = (int)bytes[r];
    displs[r] = (int)total;
    total += bytes[r];
  }
  if (!(buf = malloc((size_t)total + 1))) st = ma_fail(MA_ERR_RUNTIME, "out of memory gathering %lld bytes", (long long)total);
  MA_TRY(mpi_agree(comm, st));
  MA_MPI_TRY(MPI_Allgatherv(local, (int)mine, MPI_BYTE, buf, counts, displs, MPI_BYTE, comm));
  *all = buf;
  *nall = total / (int64_t)elem;
  buf = NULL;
done:
  free(buf);
  free(bytes);
  free(counts);
  free(displs);
  return st;
}

ma_status mpi_safe_point(MPI_Comm comm, const char *workdir)
{
  int mine = sig_which(), any = 0;
  MA_MPI(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, comm));
  if (!any) return MA_OK;
  return ma_fail(MA_ERR_INTERRUPTED, "interrupted by signal %d after saving a checkpoint in %s: rerun with the same "
                 "--workdir to resume", any, workdir ? workdir : "(no --workdir)");
}
