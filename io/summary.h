/* The JSON summary of a run (SPEC.md): common keys added here, command keys by the job. */
#ifndef MA_IO_SUMMARY_H
#define MA_IO_SUMMARY_H

#include <jansson.h>
#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* A summary object with "command", "version", "isa" (the CPU path in use) and "blas_core" (OpenBLAS's
 * core) set. Not collective. */
json_t *summary_new(const char *command);

/* Adds n, dim, ranks, seconds, phases and peak_rss_bytes (the largest peak resident set of any rank, from
 * getrusage), and writes it atomically to path from rank 0 (nothing when
 * path is NULL). Collective on comm. */
ma_status summary_write(MPI_Comm comm, json_t *s, const char *path, int64_t n, int64_t dim);

#endif
