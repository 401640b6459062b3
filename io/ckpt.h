/* The work directory of --workdir: a run's configuration and its finished phases, so that a rerun
 * (after a time limit, a preemption or a lost node) skips what is done.
 *
 * DIR/config holds the configuration as text (inputs with their sizes and modification times, and
 * every option that changes results) with its FNV-1a hash; a rerun whose configuration differs is
 * refused rather than mixing results. Each finished phase is one HDF5 file, DIR/<name>.h5, written
 * atomically with io/h5out.h, holding global arrays (not per-rank pieces), so the rank count may
 * differ between the interrupted run and the rerun. */
#ifndef MA_IO_CKPT_H
#define MA_IO_CKPT_H

#include <hdf5.h>
#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "io/h5out.h"

typedef struct ckpt {
  MPI_Comm comm;
  char *dir;
} ckpt;

/* Opens (creating) dir for a run described by config; *out is NULL when dir is NULL (no --workdir).
 * A dir whose config differs fails with MA_ERR_USAGE. Collective on comm. */
ma_status ckpt_open(MPI_Comm comm, const char *dir, const char *config, ckpt **out);
void ckpt_free(ckpt **c);

/* "input PATH size BYTES mtime SECONDS" lines for the config, from rank 0's stat(). Not collective. */
ma_status ckpt_describe_inputs(char *const *specs, int n, char **text);

/* Whether phase `name` is saved (false when c is NULL). Collective on comm. */
ma_status ckpt_has(const ckpt *c, const char *name, int *has);

/* Starts saving phase `name` (commit the h5out to finish it atomically). Collective. */
ma_status ckpt_create(const ckpt *c, const char *name, h5out **o);

/* Reads rows [lo, lo + count) of dataset `dset` (1-D, or 2-D with cols columns) of phase `name` into
 * buf as mem_type; count may be 0 on some ranks. Collective on comm. */
ma_status ckpt_read(const ckpt *c, const char *name, const char *dset, hid_t mem_type, int64_t lo, int64_t count,
                    int64_t cols, void *buf);

/* The number of rows of dataset dset, and a scalar numeric attribute of object obj. Collective. */
ma_status ckpt_rows(const ckpt *c, const char *name, const char *dset, int64_t *rows);
ma_status ckpt_attr(const ckpt *c, const char *name, const char *obj, const char *attr, double *v);

#endif
