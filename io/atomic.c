/* Atomic files and deferred results (see io/atomic.h). */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mpi/comm.h"

/* The results registered so far (this process). */
static struct pending {
  char *tmp, *path;
} *pending;
static int npending, cap_pending;

char *atomic_tmp_name(const char *path, long tag)
{
  char *dup = strdup(path), *dup2 = strdup(path);
  char *res = NULL;
  if (dup && dup2) {
    const char *dir = dirname(dup), *base = basename(dup2);
    size_t len = strlen(dir) + strlen(base) + 64;
    if ((res = malloc(len))) snprintf(res, len, "%s/.%s.tmp.%ld", dir, base, tag);
  }
  free(dup);
  free(dup2);
  return res;
}

static ma_status fsync_path(const char *path, int dir)
{
  int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return ma_fail(MA_ERR_RUNTIME, "%s: %s", path, strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0 && !(dir && errno == EINVAL)) return ma_fail(MA_ERR_RUNTIME, "fsync %s: %s", path, strerror(errno));
  return MA_OK;
}

/* Renames tmp (already fsynced) to path and fsyncs the folder. */
static ma_status rename_synced(const char *tmp, const char *path)
{
  if (rename(tmp, path) != 0) return ma_fail(MA_ERR_RUNTIME, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  char *dup = strdup(path);
  if (!dup) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  ma_status st = fsync_path(dirname(dup), 1);
  free(dup);
  return st;
}

ma_status atomic_rename(const char *tmp, const char *path)
{
  MA_CALL(fsync_path(tmp, 0));
  return rename_synced(tmp, path);
}

ma_status atomic_defer(const char *tmp, const char *path)
{
  MA_CALL(fsync_path(tmp, 0));
  if (npending == cap_pending) {
    int cap = cap_pending ? 2 * cap_pending : 8;
    struct pending *grown = realloc(pending, (size_t)cap * sizeof *grown);
    if (!grown) return ma_fail(MA_ERR_RUNTIME, "out of memory");
    pending = grown;
    cap_pending = cap;
  }
  char *t = strdup(tmp), *p = strdup(path);
  if (!t || !p) {
    free(t);
    free(p);
    return ma_fail(MA_ERR_RUNTIME, "out of memory");
  }
  pending[npending++] = (struct pending){t, p};
  return MA_OK;
}

static void forget(void)
{
  for (int i = 0; i < npending; i++) {
    free(pending[i].tmp);
    free(pending[i].path);
  }
  free(pending);
  pending = NULL;
  npending = cap_pending = 0;
}

ma_status atomic_publish(MPI_Comm comm)
{
  ma_status st = MA_OK;
  int i = 0;
  for (; i < npending && st == MA_OK; i++) st = rename_synced(pending[i].tmp, pending[i].path);
  for (; i < npending; i++) unlink(pending[i].tmp); /* past a failed rename: never half a set */
  forget();
  return mpi_agree(comm, st);
}

void atomic_discard(void)
{
  for (int i = 0; i < npending; i++) unlink(pending[i].tmp);
  forget();
}

/* Writes text to a new temporary beside path; *tmp is malloc'd. */
static ma_status write_tmp(const char *path, const char *text, size_t len, char **tmp)
{
  if (!(*tmp = atomic_tmp_name(path, (long)getpid()))) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  FILE *f = fopen(*tmp, "w");
  if (!f) return ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno));
  size_t put = fwrite(text, 1, len, f);
  int err = put == len ? 0 : errno;
  if (fflush(f) != 0 && !err) err = errno;
  if (fclose(f) != 0 && !err) err = errno;
  if (put != len || err) {
    unlink(*tmp);
    return ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(err ? err : EIO));
  }
  return MA_OK;
}

/* Writes text to a temporary beside path, then hands it to finish (atomic_rename or atomic_defer). */
static ma_status write_then(const char *path, const char *text, size_t len, ma_status (*finish)(const char *, const char *))
{
  char *tmp = NULL;
  ma_status st = write_tmp(path, text, len, &tmp);
  if (st == MA_OK && (st = finish(tmp, path)) != MA_OK) unlink(tmp);
  free(tmp);
  return st;
}

ma_status file_write_atomic(const char *path, const char *text, size_t len)
{
  return write_then(path, text, len, atomic_rename);
}

ma_status file_write_result(const char *path, const char *text, size_t len)
{
  return write_then(path, text, len, atomic_defer);
}

ma_status atomic_room(MPI_Comm comm, const char *path, int64_t bytes)
{
  int rank;
  ma_status st = MA_OK;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char *dup = strdup(path);
    struct statvfs fs;
    /* HDF5's object headers, chunk index and free-space tracking: measured at a few KiB per dataset;
     * 1/64 of the data covers chunk B-trees with room to spare */
    double need = (double)bytes + (double)bytes / 64 + 256.0 * 1024;
    if (!dup) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    else if (statvfs(dirname(dup), &fs) == 0 && (double)fs.f_bavail * (double)fs.f_frsize < need)
      st = ma_fail(MA_ERR_RUNTIME, "%s: no space left on device (%.0f KiB to write, %.0f KiB free)", path,
                   ceil(need / 1024), floor((double)fs.f_bavail * (double)fs.f_frsize / 1024));
    free(dup);
  }
  return mpi_agree(comm, st);
}
