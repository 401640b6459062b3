/* Parallel atomic text output. */
#include "io/textout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic.h"
#include "mpi/comm.h"

/* "cannot write PATH: <MPI-IO's reason>" (ENOSPC reads "No space left on device"). */
static ma_status write_fail(int rc, const char *path)
{
  char reason[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, reason, &len) != MPI_SUCCESS) snprintf(reason, sizeof reason, "MPI-IO error %d", rc);
  return ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, reason);
}

ma_status text_write_parallel(MPI_Comm comm, const char *path, const char *text, size_t len)
{
  ma_status st = MA_OK;
  int rank;
  long tag = (long)getpid();
  MPI_File f;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Bcast(&tag, 1, MPI_LONG, 0, comm));
  int64_t mine = (int64_t)len, at = 0, total;
  MA_MPI(MPI_Exscan(&mine, &at, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) at = 0;
  MA_CALL(mpi_sum_i64(comm, mine, &total));
  char *tmp = atomic_tmp_name(path, tag);
  MA_CALL(mpi_agree(comm, tmp ? MA_OK : ma_fail(MA_ERR_RUNTIME, "out of memory")));
  MA_TRY(atomic_room(comm, path, total));
  int rc = MPI_File_open(comm, tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &f);
  MA_TRY(mpi_agree(comm, rc == MPI_SUCCESS ? MA_OK : write_fail(rc, path)));
  /* In pieces that fit an int count, the ranks agreeing after each: the next is collective too. */
  const size_t piece = (size_t)1 << 30;
  int64_t pieces = (int64_t)((len + piece - 1) / piece), most;
  st = mpi_max_i64(comm, pieces, &most);
  for (int64_t k = 0; st == MA_OK && k < most; k++) {
    size_t off = (size_t)k * piece, n = off < len ? (len - off < piece ? len - off : piece) : 0;
    rc = MPI_File_write_at_all(f, (MPI_Offset)(at + (int64_t)off), text + (n ? off : 0), (int)n, MPI_CHAR,
                               MPI_STATUS_IGNORE);
    st = mpi_agree(comm, rc == MPI_SUCCESS ? MA_OK : write_fail(rc, path));
  }
  if (st == MA_OK) {
    rc = MPI_File_sync(f);
    st = mpi_agree(comm, rc == MPI_SUCCESS ? MA_OK : write_fail(rc, path));
  }
  MPI_File_close(&f);
  MA_TRY(st);
  if (rank == 0 && (st = atomic_defer(tmp, path)) != MA_OK) unlink(tmp);
  st = mpi_agree(comm, st);
done:
  if (st != MA_OK && rank == 0) unlink(tmp);
  free(tmp);
  return st;
}
