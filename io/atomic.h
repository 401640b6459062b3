/* Files that appear whole, and results that appear together at the end of a run that succeeded.
 *
 * Every file memaudit writes goes first to a hidden temporary beside its target, `.NAME.tmp.PID`, and is
 * fsynced. A checkpoint is then renamed into place at once: it must outlive a failure. A result is
 * only registered (atomic_defer): main renames every registered result once the command has succeeded
 * on every rank (atomic_publish), or removes their temporaries when it failed (atomic_discard). So a
 * failed run leaves its output folders as it found them: no new result, no temporary, and no earlier
 * result of the same name replaced. */
#ifndef MA_IO_ATOMIC_H
#define MA_IO_ATOMIC_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* The temporary beside path: "<folder>/.<name>.tmp.<tag>" (tag: rank 0's pid, shared by all ranks);
 * malloc'd, NULL when out of memory. Not collective. */
char *atomic_tmp_name(const char *path, long tag);

/* fsyncs tmp, renames it to path and fsyncs path's folder. Not collective. */
ma_status atomic_rename(const char *tmp, const char *path);

/* fsyncs tmp and registers it to become path when the run succeeds; tmp is removed at discard. Not
 * collective (the rank that wrote the file registers it). */
ma_status atomic_defer(const char *tmp, const char *path);

/* Renames every registered result into place, in the order registered. Call once, after the command
 * succeeded on every rank. Collective on comm. */
ma_status atomic_publish(MPI_Comm comm);

/* Removes every registered temporary. Not collective. */
void atomic_discard(void);

/* Writes text to path now (temporary, fsync, rename): for checkpoints. Not collective. */
ma_status file_write_atomic(const char *path, const char *text, size_t len);

/* Writes text to a temporary and defers it as a result (atomic_defer). Not collective. */
ma_status file_write_result(const char *path, const char *text, size_t len);

/* Fails with MA_ERR_RUNTIME ("no space left on device") unless the file system holding path has
 * `bytes` free, plus a margin for the file format's own structures. Rank 0 looks; the others learn its
 * verdict. Called before a collective write: a write that fails on one rank inside HDF5's collective
 * calls leaves the others waiting there forever, so the space is agreed on before the call. Collective
 * on comm. */
ma_status atomic_room(MPI_Comm comm, const char *path, int64_t bytes);

#endif
