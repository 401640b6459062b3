/* A per-row column stored beside sharded embeddings: a 1-D integer dataset with one entry per row in
 * every shard file (e.g. the /source_ids that synth --like writes), read for the same rows as the
 * vectors. */
#ifndef MA_IO_H5COL_H
#define MA_IO_H5COL_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "io/h5in.h"

/* out[0 .. hi - lo) = entries [lo, hi) (global rows of in, which may span shards) of the dataset `name`
 * of every shard file, as int64. Fails with MA_ERR_DATA, naming file and dataset, when a shard lacks it
 * or it is not a 1-D integer dataset with one entry per row. A rank with lo == hi joins every collective
 * read. Collective on comm. */
ma_status h5col_read_i64(MPI_Comm comm, const h5in *in, const char *name, int64_t lo, int64_t hi, int64_t *out);

#endif
