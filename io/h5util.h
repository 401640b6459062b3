/* HDF5 plumbing: checked calls whose failure carries HDF5's own reason, and property lists for
 * parallel access the standard way (MPI-IO driver, collective metadata, collective transfers). */
#ifndef MA_IO_H5UTIL_H
#define MA_IO_H5UTIL_H

#include <hdf5.h>
#include <mpi.h>

#include "core/status.h"

/* Checks an HDF5 call returning herr_t or hid_t; on failure records what failed with HDF5's innermost
 * reason and returns MA_ERR_RUNTIME. */
#define MA_H5(call)                                   \
  do {                                                \
    if ((call) < 0) return h5_fail(MA_ERR_RUNTIME, "%s", #call); \
  } while (0)

/* The same for functions with a `st` status and a `done:` label. */
#define MA_H5_TRY(call)                                  \
  do {                                                   \
    if ((call) < 0) {                                    \
      st = h5_fail(MA_ERR_RUNTIME, "%s", #call);         \
      goto done;                                         \
    }                                                    \
  } while (0)

/* Turns off HDF5's printing of its error stack: failures become our one-line message. Not collective. */
void h5_quiet(void);

/* Records "<fmt ...> (HDF5: <innermost reason>)" and returns code. Not collective. */
ma_status h5_fail(ma_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The innermost reason on HDF5's error stack, or "" (copied into buf). Not collective. */
void h5_reason(char *buf, size_t len);

/* File access list for the MPI-IO driver on comm with collective metadata reads and writes.
 * Not collective (the open that uses it is). */
hid_t h5_fapl_mpio(MPI_Comm comm);

/* Transfer list for collective MPI-IO reads and writes. Not collective. */
hid_t h5_dxpl_collective(void);

/* Closes id when it is valid, and sets it to -1. Not collective unless the object's close is. */
void h5_close(hid_t *id);

#endif

#ifndef MA_IO_H5UTIL_EXTRA
#define MA_IO_H5UTIL_EXTRA
/* IEEE half as h5py and numpy write it (little-endian); close it after use. Not collective. */
hid_t h5_half_type(void);

/* Reads a scalar numeric attribute of obj as int64 / double (MA_ERR_DATA when absent). Not collective. */
ma_status h5_attr_i64(hid_t obj, const char *name, int64_t *v);
ma_status h5_attr_f64(hid_t obj, const char *name, double *v);
#endif
