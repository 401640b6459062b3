/* String datasets in result files: fixed-length UTF-8, so that every rank writes its rows collectively
 * like numbers (parallel HDF5 cannot write variable-length data collectively). h5py reads them as bytes;
 * `dataset.asstr()[...]` gives str. */
#ifndef MA_IO_H5STRINGS_H
#define MA_IO_H5STRINGS_H

#include <stdint.h>

#include "core/status.h"
#include "io/h5out.h"

/* Writes strs[0..count) as rows [lo, lo + count) of the 1-D dataset name of global_rows strings. The
 * width is the longest string over all ranks in bytes (at least 1; shorter ones are padded with NULs),
 * returned in *width when it is not NULL. Every rank calls it, with count 0 if it holds none. Collective
 * on the file's comm. */
ma_status h5out_write_strings(h5out *o, const char *name, int64_t global_rows, int64_t lo, int64_t count,
                              const char *const *strs, int64_t *width);

#endif
