/* All-to-all exchange of variable-sized records, with 64-bit counts. */
#ifndef MA_MPI_XCHG_H
#define MA_MPI_XCHG_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Sends sendcounts[r] records of `elem` bytes each to rank r, taken from `send` in rank order (the
 * records for rank 0 first, then rank 1, ...). Allocates *recv (free() it) holding what every rank
 * sent here, in source-rank order; recvcounts[r] (caller's array of nranks) says how many came from r.
 * When every rank's buffers fit int byte offsets this is one MPI_Alltoallv; otherwise it runs in
 * rounds of MPI_Alltoallw with byte-addressed datatypes, at most xchg_round_bytes per pair a round.
 * Collective on comm. */
ma_status xchg_alltoallv(MPI_Comm comm, const void *send, const int64_t *sendcounts, size_t elem,
                         void **recv, int64_t *recvcounts, int64_t *recv_total);

/* Bytes one pair of ranks moves per round on the large path, and the size below which one
 * MPI_Alltoallv is used (tests lower both to exercise the rounds). Not collective. */
extern int64_t xchg_round_bytes;
extern int64_t xchg_single_call_bytes;

#endif
