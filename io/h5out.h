/* Result files written in parallel and atomically: every rank writes its rows of each dataset with
 * collective transfers into a temporary file beside the target; commit fsyncs it and hands it to
 * io/atomic.h (renamed when the run succeeds; a checkpoint at once), abort removes it, so a result
 * appears whole or not at all. Before each collective call the ranks agree that the file system has
 * room (atomic_room), and after it on the outcome, so that a full disk ends the run on every rank. */
#ifndef MA_IO_H5OUT_H
#define MA_IO_H5OUT_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

typedef struct h5out {
  MPI_Comm comm;
  hid_t file;
  char *path; /* where the result goes */
  char *tmp;  /* where it is written first */
  int checkpoint; /* renamed into place at commit, not at the end of the run (set by ckpt_create) */
} h5out;

/* Creates the temporary file. Collective on comm. */
ma_status h5out_create(MPI_Comm comm, const char *path, h5out **out);

/* Writes rows [lo, lo + count) of a dataset of global_rows rows (cols columns; cols == 0 makes it 1-D)
 * with element type ftype in the file, from buf in mem_type. Intermediate groups are created. The
 * dataset is chunked by about 1 MiB when chunk is set. Every rank calls it, with count 0 if it holds
 * nothing. Collective on the file's comm. */
ma_status h5out_write(h5out *o, const char *name, hid_t ftype, hid_t mem_type, int64_t global_rows, int64_t cols,
                      int64_t lo, int64_t count, const void *buf, int chunk);

/* Root or object attributes (obj "/" for the root), the same value on every rank. Collective. */
ma_status h5out_attr_i64(h5out *o, const char *obj, const char *name, int64_t v);
ma_status h5out_attr_f64(h5out *o, const char *obj, const char *name, double v);
ma_status h5out_attr_str(h5out *o, const char *obj, const char *name, const char *v);

/* Closes and fsyncs; a checkpoint is renamed into place now, a result when the run succeeds
 * (atomic_publish); frees *o. Collective. */
ma_status h5out_commit(h5out **o);

/* Closes and removes the temporary file; frees *o. Safe on NULL. Collective. */
void h5out_abort(h5out **o);

#endif
