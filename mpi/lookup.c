/* Values at output positions from their owners (see mpi/lookup.h). */
#include "mpi/lookup.h"

#include <stdlib.h>

#include "mpi/comm.h"
#include "mpi/components.h"
#include "mpi/xchg.h"

/* A query (the asker's index, the position) and the answer that replaces the position. */
typedef struct {
  int64_t index, value;
} query;

ma_status lookup_at(MPI_Comm comm, const int64_t *offsets, const int64_t *table, const int64_t *pos, int64_t n,
                    int64_t *out)
{
  ma_status st = MA_OK;
  int nranks, rank;
  int64_t *counts = NULL, *place = NULL, *rcounts = NULL, nrecv = 0, nback = 0;
  query *send = NULL, *recv = NULL, *back = NULL;
  MA_MPI(MPI_Comm_size(comm, &nranks));
  MA_MPI(MPI_Comm_rank(comm, &rank));
  counts = calloc((size_t)nranks, sizeof *counts);
  rcounts = calloc((size_t)nranks, sizeof *rcounts);
  place = calloc((size_t)nranks + 1, sizeof *place);
  send = malloc((size_t)(n + 1) * sizeof *send);
  if (!counts || !rcounts || !place || !send) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t i = 0; st == MA_OK && i < n; i++) counts[comp_row_owner(offsets, nranks, pos[i])]++;
  for (int q = 0; st == MA_OK && q < nranks; q++) place[q + 1] = place[q] + counts[q];
  for (int64_t i = 0; st == MA_OK && i < n; i++)
    send[place[comp_row_owner(offsets, nranks, pos[i])]++] = (query){i, pos[i]};
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(xchg_alltoallv(comm, send, counts, sizeof *send, (void **)&recv, rcounts, &nrecv));
  for (int64_t k = 0; k < nrecv; k++) recv[k].value = table[recv[k].value - offsets[rank]];
  /* the answers go back the way the queries came */
  MA_TRY(xchg_alltoallv(comm, recv, rcounts, sizeof *recv, (void **)&back, counts, &nback));
  for (int64_t k = 0; k < nback; k++) out[back[k].index] = back[k].value;
done:
  free(counts);
  free(rcounts);
  free(place);
  free(send);
  free(recv);
  free(back);
  return st;
}
