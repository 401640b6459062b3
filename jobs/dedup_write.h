/* What dedup writes besides its decisions (SPEC.md's layouts). */
#ifndef MA_JOBS_DEDUP_WRITE_H
#define MA_JOBS_DEDUP_WRITE_H

#include <hdf5.h>
#include <jansson.h>
#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "io/h5out.h"
#include "jobs/recall.h"
#include "mpi/pairs.h"

/* Rows [at, at + count) of the compound dataset `name` of `total` rows, from buf in type(0)'s memory
 * layout, stored as type(1) (type(file) makes the HDF5 type; the caller's). Collective on o's
 * communicator. */
ma_status dedup_write_compound(h5out *o, const char *name, hid_t (*type)(int), int64_t total, int64_t at,
                               int64_t count, const void *buf);

/* /pairs: every rank's pairs of ps, in rank order, as {a int64, b int64, sim float32, clustering int16};
 * *total = the pairs over all ranks. Collective on comm. */
ma_status dedup_write_pairs(MPI_Comm comm, h5out *o, const pairset *ps, int64_t *total);

/* The --keep-list file: the ids of the kept rows, one per line, in row order over the ranks. Collective
 * on comm. */
ma_status dedup_write_keep_list(MPI_Comm comm, const char *path, const int64_t *ids, const uint8_t *keep,
                                int64_t n);

/* The summary's "recall" array: one object per clustering count. Not collective. */
json_t *dedup_recall_json(const recall_row *rows, int R);

#endif
