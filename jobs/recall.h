/* The dedup job's estimate of its own recall: S items drawn by seed are searched exactly against all N
 * items; their true pairs (>= the primary threshold) are looked up among the pairs the clusterings found,
 * giving the recall after 1, 2, ..., R clusterings with a 95% interval. */
#ifndef MA_JOBS_RECALL_H
#define MA_JOBS_RECALL_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"
#include "mpi/pairs.h"

/* One row of /recall (its HDF5 compound type mirrors this struct). */
typedef struct recall_row {
  int32_t clusterings;
  double recall, ci_low, ci_high;
  int64_t true_pairs;
} recall_row;

/* rows[r] = the recall after clusterings 0..r, for r < R. The sample is drawn from the first `drawable`
 * local rows (all of them, or with dedup --against the new items, so that the estimate covers the
 * pairs that involve new items); it is searched against every row, with the int8 screening when screen
 * is 1 (the same pairs). *sampled gets the sample's size, *rescored the candidate pairs whose exact
 * inner product was computed (all ranks). Collective. */
ma_status recall_estimate(MPI_Comm comm, const ma_rows *local, int64_t drawable, const int64_t *ids,
                          const pairset *ps, int64_t sample, uint64_t seed, float threshold, int screen, int R,
                          recall_row *rows, int64_t *sampled, int64_t *rescored);

#endif
