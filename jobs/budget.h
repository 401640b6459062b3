/* The per-rank memory budget: what --mem-per-rank says, or what Slurm granted the task, or the
 * node's physical memory divided by the ranks on it. Jobs check their needs against it before they
 * allocate, so a run that cannot fit says so at once instead of being killed an hour in. */
#ifndef MA_JOBS_BUDGET_H
#define MA_JOBS_BUDGET_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* *bytes = requested when > 0, else the default above; *source says which. Collective on comm. */
ma_status budget_resolve(MPI_Comm comm, int64_t requested, int64_t *bytes, const char **source);

/* MA_ERR_DATA when need > budget, naming what needs it. Not collective (ranks decide alike when they
 * pass the same largest need: use the max over ranks). */
ma_status budget_check(int64_t budget, int64_t need, const char *what);

/* "1.5 GiB". Not collective. */
const char *budget_human(int64_t bytes, char *buf, int len);

#endif
