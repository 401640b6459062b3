/* Moving cluster members to the ranks that search them: one all-to-all per round of the search plan
 * (kernels/search_plan.h). Vectors travel in the input's element type (float16 stays float16). */
#ifndef MA_MPI_MEMBERS_H
#define MA_MPI_MEMBERS_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/search_plan.h"
#include "kernels/ip_tile.h"

/* The rows a rank received for one round, sorted by (block, id). The vectors stay in the records they
 * arrived in (permuted in place, not copied): row i starts at vec + i * ld elements. */
typedef struct members {
  int64_t n, dim, ld;
  ma_dtype type;
  void *vec;      /* row i at vec + i * ld elements; points into buf */
  void *buf;      /* the received records */
  int64_t *ids;   /* [n] */
  int64_t *pos;   /* [n] output positions (rows in input order over all ranks) */
  int64_t *block; /* [n] global block index */
} members;

/* Sends every local row (cluster assign[i]) to each rank whose tasks of `round` need its block, and
 * receives this rank's rows for that round. bytes_moved (may be NULL) gets the bytes this rank sent.
 * Collective on comm. */
ma_status members_exchange(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int64_t *pos,
                           const int32_t *assign, const search_plan *p, int round, members *out,
                           int64_t *bytes_moved);

/* The rows [*lo, *hi) of global block b in m. Not collective. */
void members_block(const members *m, int64_t b, int64_t *lo, int64_t *hi);

void members_free(members *m);

#endif
