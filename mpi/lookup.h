/* Values held at output positions, fetched from the ranks that hold them. */
#ifndef MA_MPI_LOOKUP_H
#define MA_MPI_LOOKUP_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* For each of this rank's n queries pos[i] (an output position; offsets[nranks + 1] gives each rank's
 * range), out[i] gets table[pos[i] - offsets[q]] from the rank q that holds it (table: that rank's
 * value per local row). Two all-to-alls, whatever n. Collective on comm. */
ma_status lookup_at(MPI_Comm comm, const int64_t *offsets, const int64_t *table, const int64_t *pos, int64_t n,
                    int64_t *out);

#endif
