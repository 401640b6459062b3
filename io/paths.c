/* Output paths against inputs (see io/paths.h). */
#include "io/paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5in.h"
#include "mpi/comm.h"

/* Makes room for one more element in the array *v of *n (capacity *cap); 0 when out of memory. */
static int grow(paths *p, void **v, int n, int *cap, size_t elem)
{
  if (p->st != MA_OK) return 0;
  if (n < *cap) return 1;
  int more = *cap ? 2 * *cap : 16;
  void *grown = realloc(*v, (size_t)more * elem);
  if (!grown) {
    p->st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    return 0;
  }
  *v = grown;
  *cap = more;
  return 1;
}

void paths_add_in(paths *p, const char *option, const char *path)
{
  if (path && grow(p, (void **)&p->in, p->nin, &p->cap_in, sizeof *p->in)) p->in[p->nin++] = (paths_in){option, path};
}

void paths_add_spec(paths *p, const char *option, const char *spec)
{
  char *path = NULL, *dataset = NULL;
  if (!spec || p->st != MA_OK) return;
  if ((p->st = h5in_split_spec(spec, &path, &dataset)) != MA_OK) return;
  free(dataset);
  if (!grow(p, (void **)&p->owned, p->nowned, &p->cap_owned, sizeof *p->owned)) {
    free(path);
    return;
  }
  p->owned[p->nowned++] = path;
  paths_add_in(p, option, path);
}

void paths_add_out(paths *p, const char *option, const char *path, paths_kind kind)
{
  if (path && grow(p, (void **)&p->out, p->nout, &p->cap_out, sizeof *p->out))
    p->out[p->nout++] = (paths_out){option, path, kind};
}

void paths_free(paths *p)
{
  for (int i = 0; i < p->nowned; i++) free(p->owned[i]);
  free(p->owned);
  free(p->in);
  free(p->out);
  memset(p, 0, sizeof *p);
}

/* The folder part of path ("." when it has none) into buf. */
static void folder_of(const char *path, char *buf, size_t size)
{
  const char *slash = strrchr(path, '/');
  if (!slash) snprintf(buf, size, ".");
  else if (slash == path) snprintf(buf, size, "/");
  else snprintf(buf, size, "%.*s", (int)(slash - path), path);
}

/* The absolute path path would have, its folder resolved (symlinks included) and its last part as
 * written; "" when the folder does not resolve. */
static void resolved(const char *path, char *buf, size_t size)
{
  char folder[PATH_MAX], real[PATH_MAX];
  folder_of(path, folder, sizeof folder);
  const char *slash = strrchr(path, '/'), *last = slash ? slash + 1 : path;
  if (!realpath(folder, real)) {
    buf[0] = '\0';
    return;
  }
  snprintf(buf, size, "%s/%s", strcmp(real, "/") ? real : "", last);
}

/* A file's identity: its device and inode when it exists. */
typedef struct {
  int exists;
  dev_t dev;
  ino_t ino;
} ident;

static ident ident_of(const char *path)
{
  struct stat st;
  if (stat(path, &st) != 0) return (ident){0, 0, 0};
  return (ident){1, st.st_dev, st.st_ino};
}

/* Whether a and b (identities ia, ib) name one file: one inode when both exist, one resolved path
 * when neither does. */
static int same_file(const char *a, ident ia, const char *b, ident ib)
{
  if (ia.exists && ib.exists) return ia.dev == ib.dev && ia.ino == ib.ino;
  if (ia.exists != ib.exists) return 0;
  char ra[PATH_MAX + 1], rb[PATH_MAX + 1];
  resolved(a, ra, sizeof ra);
  resolved(b, rb, sizeof rb);
  return ra[0] && !strcmp(ra, rb);
}

/* Whether the existing file `path` lies inside the existing folder `dir`. */
static int inside(const char *path, const char *dir)
{
  char rp[PATH_MAX], rd[PATH_MAX];
  if (!realpath(path, rp) || !realpath(dir, rd)) return 0;
  size_t n = strlen(rd);
  return !strncmp(rp, rd, n) && (rp[n] == '/' || rd[n - 1] == '/');
}

static ma_status check_folder(const paths_out *o)
{
  struct stat st;
  char folder[PATH_MAX];
  if (o->kind == PATHS_WORKDIR) {
    if (stat(o->path, &st) == 0 && !S_ISDIR(st.st_mode))
      return ma_fail(MA_ERR_USAGE, "%s %s exists and is not a directory", o->option, o->path);
    return MA_OK;
  }
  folder_of(o->path, folder, sizeof folder);
  if (stat(folder, &st) != 0)
    return ma_fail(MA_ERR_USAGE, "%s %s: folder %s: %s", o->option, o->path, folder, strerror(errno));
  if (!S_ISDIR(st.st_mode)) return ma_fail(MA_ERR_USAGE, "%s %s: %s is not a directory", o->option, o->path, folder);
  if (stat(o->path, &st) == 0 && (o->kind == PATHS_FILE) == !!S_ISDIR(st.st_mode))
    return ma_fail(MA_ERR_USAGE, "%s %s %s", o->option, o->path,
                   o->kind == PATHS_FILE ? "is a directory, not a file" : "exists and is not a directory");
  return MA_OK;
}

/* Each path is stat'ed once: embed's inputs can be millions of images. */
static ma_status check_all(const paths *p)
{
  ma_status st = MA_OK;
  ident *in_id = NULL, *out_id = NULL;
  MA_ALLOC(in_id, p->nin);
  MA_ALLOC(out_id, p->nout);
  for (int j = 0; j < p->nin; j++) in_id[j] = ident_of(p->in[j].path);
  for (int i = 0; i < p->nout; i++) out_id[i] = ident_of(p->out[i].path);
  for (int i = 0; i < p->nout; i++) {
    const paths_out *o = &p->out[i];
    for (int j = 0; j < p->nin; j++) {
      const paths_in *in = &p->in[j];
      if (same_file(o->path, out_id[i], in->path, in_id[j]))
        MA_TRY(ma_fail(MA_ERR_USAGE, "%s %s is the input %s %s: an output may not overwrite an input", o->option,
                       o->path, in->option, in->path));
      if (o->kind == PATHS_FOLDER && inside(in->path, o->path))
        MA_TRY(ma_fail(MA_ERR_USAGE, "%s %s holds the input %s %s, and is replaced whole: write it elsewhere",
                       o->option, o->path, in->option, in->path));
    }
    for (int j = 0; j < i; j++)
      if (same_file(o->path, out_id[i], p->out[j].path, out_id[j]))
        MA_TRY(ma_fail(MA_ERR_USAGE, "%s %s and %s %s are one file: give each output its own", p->out[j].option,
                       p->out[j].path, o->option, o->path));
    MA_TRY(check_folder(o));
  }
done:
  free(in_id);
  free(out_id);
  return st;
}

ma_status paths_check(MPI_Comm comm, paths *p)
{
  int rank;
  ma_status st = MA_OK;
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  st = p->st;
  if (st == MA_OK && rank == 0) st = check_all(p);
done:
  paths_free(p);
  return mpi_agree(comm, st);
}
