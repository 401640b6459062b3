/* MPI plumbing: checked calls, the collective error agreement, how rows are split over ranks. */
#ifndef MA_MPI_COMM_H
#define MA_MPI_COMM_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* Checks an MPI call; on failure records "MPI error in CALL: ..." and returns MA_ERR_RUNTIME. */
#define MA_MPI(call)                                                  \
  do {                                                                \
    int ma_mpi_rc_ = (call);                                          \
    if (ma_mpi_rc_ != MPI_SUCCESS) return mpi_fail(ma_mpi_rc_, #call); \
  } while (0)

/* The same for functions with a `done:` cleanup label and a `st` status. */
#define MA_MPI_TRY(call)                                     \
  do {                                                       \
    int ma_mpi_rc_ = (call);                                 \
    if (ma_mpi_rc_ != MPI_SUCCESS) {                         \
      st = mpi_fail(ma_mpi_rc_, #call);                      \
      goto done;                                             \
    }                                                        \
  } while (0)

/* Records an MPI error code with the call's text. Not collective. */
ma_status mpi_fail(int rc, const char *what);

/* The ranks agree on failure: returns, on every rank, the status of the lowest-numbered rank whose
 * `local` is not MA_OK (MA_OK when none), and gives every rank that rank's message, so rank 0 can
 * print it. Call it before each collective phase. Collective on comm. */
ma_status mpi_agree(MPI_Comm comm, ma_status local);

/* Rows [*lo, *hi) of n that rank `rank` of `nranks` holds: contiguous, sizes differ by at most one,
 * lower ranks get the extra rows. Not collective. */
void shard_range(int64_t n, int nranks, int rank, int64_t *lo, int64_t *hi);

/* The rank that holds global row `row` under shard_range. Not collective. */
int shard_owner(int64_t n, int nranks, int64_t row);

/* How many ranks of comm share this node. Collective on comm. */
ma_status mpi_local_ranks(MPI_Comm comm, int *count);

/* A safe point: when any rank has seen SIGUSR1 or SIGTERM (core/signal.h), every rank returns
 * MA_ERR_INTERRUPTED with a message naming how to resume from `workdir`. Call it right after a
 * checkpoint. Collective on comm. */
ma_status mpi_safe_point(MPI_Comm comm, const char *workdir);

/* Fails with MA_ERR_RUNTIME when v does not fit an int (for MPI counts). Not collective. */
ma_status mpi_check_int(int64_t v, const char *what);

/* Sum / max / min of an int64 over comm, result on every rank. Collective on comm. */
ma_status mpi_sum_i64(MPI_Comm comm, int64_t local, int64_t *global);
ma_status mpi_max_i64(MPI_Comm comm, int64_t local, int64_t *global);
ma_status mpi_min_i64(MPI_Comm comm, int64_t local, int64_t *global);

#endif

#ifndef MA_MPI_COMM_ARRAYS
#define MA_MPI_COMM_ARRAYS
/* Element-wise sum of buf[0..n) over comm, in place, in pieces that fit int counts. Integer sums are
 * exact, so the result is the same whatever the rank count. Collective on comm. */
ma_status mpi_sum_i64_array(MPI_Comm comm, int64_t *buf, int64_t n);

/* Gathers every rank's nlocal records of `elem` bytes onto every rank, in rank order. Allocates *all
 * (free() it). Collective on comm. */
ma_status mpi_allgather_records(MPI_Comm comm, const void *local, int64_t nlocal, size_t elem, void **all,
                                int64_t *nall);
#endif
