/* dedup --removed-csv: one line per removed item, for a pipeline to act on (filter the metadata beside
 * the embeddings by file and row). */
#ifndef MA_IO_REMOVED_H
#define MA_IO_REMOVED_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "io/h5in.h"

/* A removed item: its id and global input row, its representative's, and their similarity (NaN when
 * no found pair joins them, as with --keep one-per-group). */
typedef struct removed_row {
  int64_t id, row, rep, rep_row;
  float sim;
} removed_row;

/* Writes the header line `id,file,row,representative,representative_file,representative_row,similarity`
 * and every rank's rows in rank order (each rank's in its row order) to path, atomically (a result,
 * published at the end of the run). Files are the shard paths as given, quoted when they hold a comma,
 * a quote or a line break; rows count inside the file; the similarity has 9 significant digits (enough
 * to read the same float back) and is empty when NaN. The bytes do not depend on the rank count.
 * Collective on comm. */
ma_status removed_csv_write(MPI_Comm comm, const char *path, const h5in *in, const removed_row *rows, int64_t n);

#endif
