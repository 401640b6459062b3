/* Parallel atomic text output. */
#include "io/textout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpi/comm.h"

ma_status text_write_parallel(MPI_Comm comm, const char *path, const char *text, size_t len)
{
  ma_status st = MA_OK;
  int rank;
  long tag = (long)getpid();
  char tmp[4096];
  MPI_File f;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Bcast(&tag, 1, MPI_LONG, 0, comm));
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, tag);
  int64_t mine = (int64_t)len, at = 0;
  MA_MPI(MPI_Exscan(&mine, &at, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) at = 0;
  int rc = MPI_File_open(comm, tmp, MPI_MODE_CREATE | MPI_MODE_WRONLY, MPI_INFO_NULL, &f);
  if (rc != MPI_SUCCESS) return mpi_agree(comm, ma_fail(MA_ERR_RUNTIME, "cannot write %s", path));
  /* In pieces that fit an int count. */
  const size_t piece = (size_t)1 << 30;
  int64_t pieces = (int64_t)((len + piece - 1) / piece), most;
  st = mpi_max_i64(comm, pieces, &most);
  for (int64_t k = 0; st == MA_OK && k < most; k++) {
    size_t off = (size_t)k * piece, n = off < len ? (len - off < piece ? len - off : piece) : 0;
    rc = MPI_File_write_at_all(f, (MPI_Offset)(at + (int64_t)off), text + (n ? off : 0), (int)n, MPI_CHAR,
                               MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) st = mpi_fail(rc, "MPI_File_write_at_all");
  }
  if (st == MA_OK && (rc = MPI_File_sync(f)) != MPI_SUCCESS) st = mpi_fail(rc, "MPI_File_sync");
  MPI_File_close(&f);
  st = mpi_agree(comm, st);
  if (rank == 0) {
    if (st == MA_OK && rename(tmp, path) != 0) st = ma_fail(MA_ERR_RUNTIME, "cannot rename %s: %s", tmp, strerror(errno));
    if (st != MA_OK) unlink(tmp);
  }
  return mpi_agree(comm, st);
}
