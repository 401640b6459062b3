/* The --workdir checkpoint store. */
#include "io/ckpt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/h5in.h"
#include "io/h5util.h"
#include "mpi/comm.h"

static uint64_t fnv1a(const char *s)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static ma_status mkdir_p(const char *dir)
{
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ma_fail(MA_ERR_RUNTIME, "cannot create %s: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ma_fail(MA_ERR_RUNTIME, "cannot create %s: %s", buf, strerror(errno));
  return MA_OK;
}

/* Rank 0: creates dir and its config, or checks that the config there is this one. */
static ma_status check_config(const char *dir, const char *config)
{
  char path[4200], want[64];
  MA_CALL(mkdir_p(dir));
  snprintf(path, sizeof path, "%s/config", dir);
  snprintf(want, sizeof want, "hash %016llx\n", (unsigned long long)fnv1a(config));
  FILE *f = fopen(path, "r");
  if (!f) {
    size_t len = strlen(want) + strlen(config);
    char *text = malloc(len + 1);
    if (!text) return ma_fail(MA_ERR_RUNTIME, "out of memory");
    snprintf(text, len + 1, "%s%s", want, config);
    ma_status st = file_write_atomic(path, text, len);
    free(text);
    return st;
  }
  char have[64] = "";
  if (!fgets(have, sizeof have, f)) have[0] = '\0';
  fclose(f);
  if (strcmp(have, want) != 0)
    return ma_fail(MA_ERR_USAGE, "--workdir %s holds a run with another configuration (inputs or options differ; see "
                   "%s): use another --workdir, or remove it to start over", dir, path);
  return MA_OK;
}

ma_status ckpt_open(MPI_Comm comm, const char *dir, const char *config, ckpt **out)
{
  int rank;
  ma_status st = MA_OK;
  *out = NULL;
  if (!dir) return MA_OK;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) st = check_config(dir, config);
  MA_CALL(mpi_agree(comm, st));
  ckpt *c = calloc(1, sizeof *c);
  if (!c || !(c->dir = strdup(dir))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  if (st != MA_OK) free(c);
  MA_CALL(mpi_agree(comm, st));
  c->comm = comm;
  *out = c;
  return MA_OK;
}

void ckpt_free(ckpt **c)
{
  if (!*c) return;
  free((*c)->dir);
  free(*c);
  *c = NULL;
}

ma_status ckpt_describe_inputs(char *const *specs, int n, char **text)
{
  size_t cap = 256, len = 0;
  char *s = malloc(cap);
  if (!s) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  s[0] = '\0';
  for (int i = 0; i < n; i++) {
    char *path, *dset;
    MA_CALL(h5in_split_spec(specs[i], &path, &dset));
    struct stat sb;
    long long size = -1, mtime = -1;
    if (stat(path, &sb) == 0) {
      size = (long long)sb.st_size;
      mtime = (long long)sb.st_mtime;
    }
    size_t need = strlen(path) + strlen(dset) + 96;
    if (len + need >= cap) {
      while (len + need >= cap) cap *= 2;
      char *grown = realloc(s, cap);
      if (!grown) {
        free(s);
        free(path);
        free(dset);
        return ma_fail(MA_ERR_RUNTIME, "out of memory");
      }
      s = grown;
    }
    len += (size_t)snprintf(s + len, cap - len, "input %s:%s size %lld mtime %lld\n", path, dset, size, mtime);
    free(path);
    free(dset);
  }
  *text = s;
  return MA_OK;
}

static void phase_path(const ckpt *c, const char *name, char *buf, size_t len)
{
  snprintf(buf, len, "%s/%s.h5", c->dir, name);
}

ma_status ckpt_has(const ckpt *c, const char *name, int *has)
{
  *has = 0;
  if (!c) return MA_OK;
  int rank;
  char path[4200];
  MA_MPI(MPI_Comm_rank(c->comm, &rank));
  phase_path(c, name, path, sizeof path);
  if (rank == 0) *has = access(path, R_OK) == 0;
  MA_MPI(MPI_Bcast(has, 1, MPI_INT, 0, c->comm));
  return MA_OK;
}

ma_status ckpt_create(const ckpt *c, const char *name, h5out **o)
{
  char path[4200];
  phase_path(c, name, path, sizeof path);
  MA_CALL(h5out_create(c->comm, path, o));
  (*o)->checkpoint = 1;
  return MA_OK;
}

/* Opens phase `name` and dataset `dset` for parallel reading. */
static ma_status open_dataset(const ckpt *c, const char *name, const char *dset, hid_t *file, hid_t *d)
{
  ma_status st = MA_OK;
  char path[4200];
  hid_t fapl = -1;
  phase_path(c, name, path, sizeof path);
  *file = *d = -1;
  MA_H5_TRY(fapl = h5_fapl_mpio(c->comm));
  if ((*file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) st = h5_fail(MA_ERR_RUNTIME, "checkpoint %s: cannot open", path);
  else if ((*d = H5Dopen2(*file, dset, H5P_DEFAULT)) < 0) st = h5_fail(MA_ERR_RUNTIME, "checkpoint %s: no %s", path, dset);
done:
  h5_close(&fapl);
  return st;
}

ma_status ckpt_read(const ckpt *c, const char *name, const char *dset, hid_t mem_type, int64_t lo, int64_t count,
                    int64_t cols, void *buf)
{
  ma_status st = MA_OK;
  hid_t file = -1, d = -1, fs = -1, ms = -1, dxpl = -1;
  int rank = cols > 0 ? 2 : 1;
  MA_TRY(open_dataset(c, name, dset, &file, &d));
  MA_H5_TRY(fs = H5Dget_space(d));
  MA_H5_TRY(dxpl = h5_dxpl_collective());
  hsize_t start[2] = {(hsize_t)lo, 0}, cnt[2] = {(hsize_t)count, (hsize_t)(cols > 0 ? cols : 1)};
  hsize_t mdim[2] = {(hsize_t)(count ? count : 1), cnt[1]};
  MA_H5_TRY(ms = H5Screate_simple(rank, mdim, NULL));
  if (count) MA_H5_TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL));
  else {
    MA_H5_TRY(H5Sselect_none(fs));
    MA_H5_TRY(H5Sselect_none(ms));
  }
  if (H5Dread(d, mem_type, ms, fs, dxpl, buf) < 0) st = h5_fail(MA_ERR_RUNTIME, "checkpoint %s: reading %s failed", name, dset);
done:
  h5_close(&dxpl);
  h5_close(&ms);
  h5_close(&fs);
  h5_close(&d);
  h5_close(&file);
  return mpi_agree(c->comm, st);
}

ma_status ckpt_rows(const ckpt *c, const char *name, const char *dset, int64_t *rows)
{
  ma_status st = MA_OK;
  hid_t file = -1, d = -1, fs = -1;
  hsize_t dims[2] = {0, 0};
  MA_TRY(open_dataset(c, name, dset, &file, &d));
  MA_H5_TRY(fs = H5Dget_space(d));
  MA_H5_TRY(H5Sget_simple_extent_dims(fs, dims, NULL));
  *rows = (int64_t)dims[0];
done:
  h5_close(&fs);
  h5_close(&d);
  h5_close(&file);
  return mpi_agree(c->comm, st);
}

ma_status ckpt_attr(const ckpt *c, const char *name, const char *obj, const char *attr, double *v)
{
  ma_status st = MA_OK;
  char path[4200];
  hid_t fapl = -1, file = -1, o = -1;
  phase_path(c, name, path, sizeof path);
  MA_H5_TRY(fapl = h5_fapl_mpio(c->comm));
  if ((file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) st = h5_fail(MA_ERR_RUNTIME, "checkpoint %s: cannot open", path);
  else if ((o = H5Oopen(file, obj, H5P_DEFAULT)) < 0) st = h5_fail(MA_ERR_RUNTIME, "checkpoint %s: no %s", path, obj);
  else st = h5_attr_f64(o, attr, v);
done:
  if (o >= 0) H5Oclose(o);
  h5_close(&file);
  h5_close(&fapl);
  return mpi_agree(c->comm, st);
}
