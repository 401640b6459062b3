/* Exact k-nearest-neighbour search of sharded queries over a sharded training set.
 *
 * Training rows stay on the rank that read them. Every rank's queries are cut into blocks; block by
 * block (rank 0's blocks first, then rank 1's, ...), the owner broadcasts the block (in its own element
 * type, so float16 stays float16 on the wire), every rank searches it against its training rows with
 * the exact top-k kernel (kernels/topk_exact.h), and one MPI_Reduce with a user-defined operation
 * merges the per-rank lists (topk_merge: most similar first, ties by lower id) and sums the threshold
 * counts onto the owner. Similarities are exact, merging is selection under a total order and counts
 * are integers, so the result is the same bytes at any rank count. Memory per rank: its training rows,
 * its queries and their lists, and one block (knn_memory). */
#ifndef MA_MPI_KNN_H
#define MA_MPI_KNN_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"

/* Queries per broadcast block by default: big enough that each rank's GEMM per block runs long
 * against the broadcast and the reduction, small enough to stay a few MiB. */
enum { KNN_BLOCK_DEFAULT = 2048 };

/* This rank's training rows: rows.rows rows of d elements, with their ids (distinct over all ranks). */
typedef struct knn_train {
  ma_rows rows;
  const int64_t *ids;
  int64_t d;
} knn_train;

typedef struct knn_params {
  int k;            /* list length, >= 1 */
  float threshold;  /* count training items with similarity >= threshold */
  int64_t block;    /* queries per block; 0: KNN_BLOCK_DEFAULT */
  int screen;       /* 1: candidates by the int8 screening (kernels/quant.h); the same lists and counts */
  int64_t *rescored; /* out (NULL: not wanted): += the exact inner products computed, over all ranks */
} knn_params;

/* For each of this rank's queries (q->rows rows of train->d elements): ids[i*k ..] and sims[i*k ..] the
 * k most similar training items over all ranks, most similar first, ties by lower id, padded with
 * (-1, -INFINITY) when the training set holds fewer than k items; count[i] the training items with
 * similarity >= threshold. Logs progress with an ETA. Collective on comm. */
ma_status knn_search(MPI_Comm comm, const knn_train *train, const ma_rows *q, const knn_params *p, int64_t *ids,
                     float *sims, int64_t *count);

/* For each of this rank's queries, sims[i] = the exact similarity of query i to the training item whose
 * id is pair_ids[i], computed on whichever rank holds it; -INFINITY when no rank does. *missing = the
 * first local query whose item no rank holds, or -1. block as in knn_params. Collective on comm. */
ma_status knn_pair_similarity(MPI_Comm comm, const knn_train *train, const ma_rows *q, const int64_t *pair_ids,
                              int64_t block, float *sims, int64_t *missing);

/* Bytes knn_search and knn_pair_similarity allocate on a rank beyond the rows and the output arrays,
 * for train_rows local training rows. Not collective. */
int64_t knn_memory(int64_t train_rows, int64_t d, int k, int64_t block);

#endif
