/* All-to-all exchange with counts beyond INT_MAX. */
#include "mpi/xchg.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "mpi/comm.h"

int64_t xchg_round_bytes = (int64_t)1 << 30;
int64_t xchg_single_call_bytes = INT_MAX;

/* One round of the large path: each pair moves bytes [done, done + round) of what it has for the other. */
static ma_status xchg_round(MPI_Comm comm, int nranks, const char *send, const int64_t *sbytes,
                            const int64_t *sdisp, char *recv, const int64_t *rbytes, const int64_t *rdisp,
                            int64_t done, MPI_Datatype *stypes, MPI_Datatype *rtypes, int *ones, int *zeros)
{
  ma_status st = MA_OK;
  int nbuilt = 0;
  for (int r = 0; r < nranks; r++) {
    int64_t slen = sbytes[r] > done ? sbytes[r] - done : 0, rlen = rbytes[r] > done ? rbytes[r] - done : 0;
    if (slen > xchg_round_bytes) slen = xchg_round_bytes;
    if (rlen > xchg_round_bytes) rlen = xchg_round_bytes;
    int sl = (int)slen, rl = (int)rlen;
    MPI_Aint sa, ra;
    MA_MPI_TRY(MPI_Get_address(send + sdisp[r] + (slen ? done : 0), &sa));
    MA_MPI_TRY(MPI_Get_address(recv + rdisp[r] + (rlen ? done : 0), &ra));
    MA_MPI_TRY(MPI_Type_create_hindexed(1, &sl, &sa, MPI_BYTE, &stypes[r]));
    MA_MPI_TRY(MPI_Type_create_hindexed(1, &rl, &ra, MPI_BYTE, &rtypes[r]));
    nbuilt = r + 1;
    MA_MPI_TRY(MPI_Type_commit(&stypes[r]));
    MA_MPI_TRY(MPI_Type_commit(&rtypes[r]));
    ones[r] = 1;
    zeros[r] = 0;
  }
  MA_MPI_TRY(MPI_Alltoallw(MPI_BOTTOM, ones, zeros, stypes, MPI_BOTTOM, ones, zeros, rtypes, comm));
done:
  for (int r = 0; r < nbuilt; r++) {
    MPI_Type_free(&stypes[r]);
    MPI_Type_free(&rtypes[r]);
  }
  return st;
}

ma_status xchg_alltoallv(MPI_Comm comm, const void *send, const int64_t *sendcounts, size_t elem,
                         void **recv, int64_t *recvcounts, int64_t *recv_total)
{
  ma_status st = MA_OK;
  int nranks;
  int64_t *sbytes = NULL, *rbytes = NULL, *sdisp = NULL, *rdisp = NULL;
  int *ic = NULL;
  MPI_Datatype *types = NULL;
  char *rbuf = NULL;
  *recv = NULL;
  MA_MPI_TRY(MPI_Comm_size(comm, &nranks));
  MA_MPI_TRY(MPI_Alltoall(sendcounts, 1, MPI_INT64_T, recvcounts, 1, MPI_INT64_T, comm));

  sbytes = calloc((size_t)nranks, sizeof *sbytes);
  rbytes = calloc((size_t)nranks, sizeof *rbytes);
  sdisp = calloc((size_t)nranks + 1, sizeof *sdisp);
  rdisp = calloc((size_t)nranks + 1, sizeof *rdisp);
  ic = calloc((size_t)nranks * 4, sizeof *ic);
  types = calloc((size_t)nranks * 2, sizeof *types);
  if (!sbytes || !rbytes || !sdisp || !rdisp || !ic || !types) {
    st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    goto agree;
  }
  for (int r = 0; r < nranks; r++) {
    sbytes[r] = sendcounts[r] * (int64_t)elem;
    rbytes[r] = recvcounts[r] * (int64_t)elem;
    sdisp[r + 1] = sdisp[r] + sbytes[r];
    rdisp[r + 1] = rdisp[r] + rbytes[r];
  }
  *recv_total = rdisp[nranks] / (int64_t)elem;
  if (!(rbuf = big_alloc((size_t)rdisp[nranks] + 1)))
    st = ma_fail(MA_ERR_RUNTIME, "out of memory receiving %lld bytes", (long long)rdisp[nranks]);
agree:
  /* A rank that could not allocate must not leave the others waiting in the exchange. */
  MA_TRY(mpi_agree(comm, st));

  int64_t mine = sdisp[nranks] > rdisp[nranks] ? sdisp[nranks] : rdisp[nranks], largest;
  MA_TRY(mpi_max_i64(comm, mine, &largest));
  if (largest <= xchg_single_call_bytes) {
    for (int r = 0; r < nranks; r++) {
      ic[r] = (int)sbytes[r];
      ic[nranks + r] = (int)sdisp[r];
      ic[2 * nranks + r] = (int)rbytes[r];
      ic[3 * nranks + r] = (int)rdisp[r];
    }
    MA_MPI_TRY(MPI_Alltoallv(send, ic, ic + nranks, MPI_BYTE, rbuf, ic + 2 * nranks, ic + 3 * nranks,
                             MPI_BYTE, comm));
  } else {
    int64_t most = 0, rounds_max;
    for (int r = 0; r < nranks; r++) {
      if (sbytes[r] > most) most = sbytes[r];
      if (rbytes[r] > most) most = rbytes[r];
    }
    MA_TRY(mpi_max_i64(comm, (most + xchg_round_bytes - 1) / xchg_round_bytes, &rounds_max));
    for (int64_t k = 0; k < rounds_max; k++)
      MA_TRY(xchg_round(comm, nranks, send, sbytes, sdisp, rbuf, rbytes, rdisp, k * xchg_round_bytes,
                        types, types + nranks, ic, ic + nranks));
  }
  *recv = rbuf;
  rbuf = NULL;
done:
  free(rbuf);
  free(sbytes);
  free(rbytes);
  free(sdisp);
  free(rdisp);
  free(ic);
  free(types);
  return st;
}
