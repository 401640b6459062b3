/* Sharded embedding input: one or more HDF5 files, each one 2-D float16/float32 dataset, or NumPy .npy
 * files (io/npy.h), in any mix, read in parallel so that each rank holds a contiguous range of the
 * global rows (which may span shards). */
#ifndef MA_IO_H5IN_H
#define MA_IO_H5IN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "kernels/ip_tile.h"

typedef struct h5in_shard {
  char *path;        /* file */
  char *dataset;     /* e.g. "/embeddings" */
  char *ids_dataset; /* "/ids" beside it, or NULL when the shard has none */
  int64_t rows;      /* rows in this shard */
  int64_t row0;      /* global index of its first row */
  int64_t chunk[2];  /* chunk shape, {0, 0} when contiguous */
  int big_endian;
  int npy;      /* a .npy file: its format version times ten (10, 20, 30); 0 for HDF5 */
  int64_t body; /* .npy: byte offset of the first element */
} h5in_shard;

typedef struct h5in {
  int nshards;
  h5in_shard *shards;
  int64_t n, dim; /* total rows, columns */
  ma_dtype type;  /* element type of every shard */
} h5in;

/* This rank's rows: count rows of dim elements of `type`, L2-normalised, with their global ids. */
typedef struct h5in_rows {
  int64_t lo, count, dim;
  ma_dtype type;
  void *data;
  int64_t *ids;
  int64_t dropped; /* invalid rows skipped under drop_invalid (on this rank) */
  int64_t *src;    /* the global input row of each row when some were dropped here; NULL: lo + row */
} h5in_rows;

/* The global input row (h5in_locate gives its file and row) of this rank's row r. Not collective. */
static inline int64_t h5in_rows_source(const h5in_rows *rows, int64_t r)
{
  return rows->src ? rows->src[r] : rows->lo + r;
}

typedef struct h5in_read_opts {
  int drop_invalid; /* skip NaN/Inf/zero-norm rows instead of failing */
  int verbose_progress;
} h5in_read_opts;

/* "PATH:DATASET" for an HDF5 shard, "PATH" for a .npy one, into buf (returned), for messages. Not
 * collective. */
const char *h5in_label(const h5in_shard *s, char *buf, size_t size);

/* Splits "PATH[:DATASET]" (DATASET starts with '/', default "/embeddings"). Allocates both. Not collective. */
ma_status h5in_split_spec(const char *spec, char **path, char **dataset);

/* Validates every shard's metadata (on rank 0, before anything is allocated for the data) and shares
 * it: a file is .npy when it begins with the .npy magic, else HDF5; missing or unreadable file,
 * neither HDF5 nor .npy, a .npy header that is not a 2-D C-order '<f2'/'<f4' array or does not match
 * the file's size, truncated, missing dataset, not 2-D, element type, D that
 * differs between shards, zero rows, /ids of the wrong length or type. Failures are MA_ERR_DATA and
 * name the file and dataset. Collective on comm. */
ma_status h5in_open(MPI_Comm comm, char *const *specs, int nspecs, h5in **out);
void h5in_free(h5in **in);

/* Reads global rows [lo, hi) into out (rows may span shards; a rank with lo == hi still joins every
 * collective read), normalises them, and checks for NaN/Inf and zero norm, naming file, dataset and row
 * of the first bad one. Collective on comm. */
ma_status h5in_read(MPI_Comm comm, const h5in *in, int64_t lo, int64_t hi, const h5in_read_opts *opts,
                    h5in_rows *out);
void h5in_rows_free(h5in_rows *r);

/* Fails with MA_ERR_DATA when two rows anywhere share an id, naming both places. Ids are hashed to
 * owner ranks with one all-to-all, so no rank sees more than its share. Collective on comm. */
ma_status h5in_check_unique_ids(MPI_Comm comm, const h5in *in, const h5in_rows *rows);

/* The shard holding global row g and the row inside it. Not collective. */
void h5in_locate(const h5in *in, int64_t g, int *shard, int64_t *row);

/* Bytes one row takes in memory once read (vector and id). Not collective. */
int64_t h5in_row_bytes(const h5in *in);

#endif

#ifndef MA_IO_H5IN_VALUES
#define MA_IO_H5IN_VALUES
/* Reads rows [lo, hi) of a 1-D numeric dataset of exactly n entries ("PATH:DATASET") as double, with a
 * collective transfer; what names the option in messages. Collective on comm. */
ma_status h5in_read_values(MPI_Comm comm, const char *spec, int64_t n, int64_t lo, int64_t hi, const char *what,
                           double *out);
#endif
