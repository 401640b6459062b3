/* The output paths of a run, checked against its inputs before any work.
 *
 * SPEC: no output may be an input (exit 2, nothing touched), and a missing output folder is exit 2
 * before any work. "The same file" is decided by identity, not by spelling: the same device and inode
 * for files that exist (hard links, symlinks, `./x` and `x` alike), the same resolved path for files
 * that do not exist yet (two outputs bound for one file). */
#ifndef MA_IO_PATHS_H
#define MA_IO_PATHS_H

#include <mpi.h>

#include "core/status.h"

typedef enum {
  PATHS_FILE,    /* a file written whole; its folder must exist */
  PATHS_WORKDIR, /* a folder made if missing, with its parents (checkpoints); must not be a file */
  PATHS_FOLDER   /* a folder written whole, replacing what was there; its parent must exist and no
                    input may lie inside it */
} paths_kind;

typedef struct {
  const char *option; /* "-o", "--summary", ... as the user wrote it, for the message */
  const char *path;
  paths_kind kind;
} paths_out;

typedef struct {
  const char *option;
  const char *path; /* a file name: a PATH[:DATASET] spec must be split first (paths_add_spec) */
} paths_in;

/* A run's inputs and outputs. */
typedef struct {
  paths_in *in;
  int nin, cap_in;
  char **owned; /* path strings this list allocated (split specs) */
  int nowned, cap_owned;
  paths_out *out;
  int nout, cap_out;
  ma_status st; /* the first failure of an add (out of memory, a bad spec), reported by paths_check */
} paths;

/* Adds an input file / an input spec PATH[:DATASET] (the path part) / an output. NULL paths are
 * skipped, so optional options can be added unconditionally; a failure is kept for paths_check. Not
 * collective. */
void paths_add_in(paths *p, const char *option, const char *path);
void paths_add_spec(paths *p, const char *option, const char *spec);
void paths_add_out(paths *p, const char *option, const char *path, paths_kind kind);

/* Checks every output against every input and every other output, and that the folders outputs go
 * into exist: MA_ERR_USAGE with one line naming both paths otherwise (or an add's failure). Rank 0 looks at the file system,
 * the others learn its verdict. Frees the list. Collective on comm. */
ma_status paths_check(MPI_Comm comm, paths *p);

/* Frees the list (paths_check does it). Not collective. */
void paths_free(paths *p);

#endif
