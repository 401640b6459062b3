/* The intra-cluster search of one clustering: plan the tasks, then round by round move the members
 * to the ranks that search them and run the tiled GEMM with the >= threshold handler. */
#ifndef MA_JOBS_DEDUP_SEARCH_H
#define MA_JOBS_DEDUP_SEARCH_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"
#include "mpi/pairs.h"

typedef struct dedup_search_stats {
  int rounds;
  int64_t tasks, split_clusters;
  double work_max, work_mean; /* comparisons per rank */
  double flops;               /* 2 * D * comparisons, all ranks */
  int64_t bytes_moved;        /* all ranks */
  double seconds;             /* the slowest rank's time in the search kernels (exchange excluded) */
  double exchange_seconds;    /* wall time of the member exchanges, the slowest rank's */
  double gflops;              /* the slowest rank's rate in them, per rank (compare with one core's SGEMM) */
  int64_t rescored;           /* candidate pairs whose exact inner product was computed, all ranks */
} dedup_search_stats;

/* Appends to out every pair (a < b) of items in one cluster with similarity >= threshold, tagged with
 * clustering r, but pairs of two kept items: rows at output positions >= kept_from (dedup --against;
 * INT64_MAX: none), which are never compared with each other. assign[i] is local row i's cluster,
 * sizes[c] the global size of cluster c; a round moves at most round_rows rows to a rank. screen: 1 to
 * find candidates with the int8 screening (kernels/quant.h) instead of SGEMM; the pairs are the same.
 * Collective on comm. */
ma_status dedup_search(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int64_t *pos,
                       const int32_t *assign, const int64_t *sizes, int64_t k, int64_t kept_from, int64_t round_rows,
                       float threshold, int screen, int r, pairbuf *out, dedup_search_stats *stats);

#endif
