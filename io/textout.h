/* A text file written by all ranks at once (MPI-IO, each rank its bytes in rank order), atomically:
 * a temporary file beside the target, renamed into place when the run succeeds (io/atomic.h). */
#ifndef MA_IO_TEXTOUT_H
#define MA_IO_TEXTOUT_H

#include <mpi.h>
#include <stddef.h>

#include "core/status.h"

/* Concatenates every rank's text in rank order into path. Collective on comm. */
ma_status text_write_parallel(MPI_Comm comm, const char *path, const char *text, size_t len);

#endif
