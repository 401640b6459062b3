/* The CSV of removed items (see io/removed.h). */
#include "io/removed.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/textout.h"
#include "mpi/comm.h"

static const char header[] = "id,file,row,representative,representative_file,representative_row,similarity\n";

/* A file name as a CSV field: quoted, its quotes doubled, when it holds a comma, quote or line break. */
static size_t field(char *out, const char *s)
{
  if (!strpbrk(s, ",\"\r\n")) {
    size_t n = strlen(s);
    memcpy(out, s, n);
    return n;
  }
  size_t n = 0;
  out[n++] = '"';
  for (; *s; s++) {
    if (*s == '"') out[n++] = '"';
    out[n++] = *s;
  }
  out[n++] = '"';
  return n;
}

/* Appends "file,row" of global input row g. */
static size_t place(char *out, const h5in *in, int64_t g)
{
  int sh;
  int64_t row;
  h5in_locate(in, g, &sh, &row);
  size_t n = field(out, in->shards[sh].path);
  return n + (size_t)sprintf(out + n, ",%lld", (long long)row);
}

ma_status removed_csv_write(MPI_Comm comm, const char *path, const h5in *in, const removed_row *rows, int64_t n)
{
  ma_status st = MA_OK;
  int rank;
  size_t longest = 0, len = 0;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  for (int i = 0; i < in->nshards; i++)
    if (strlen(in->shards[i].path) > longest) longest = strlen(in->shards[i].path);
  /* a file field is at most twice its name plus two quotes; the numbers at most 20 characters each */
  size_t per_line = 2 * (2 * longest + 2) + 4 * 21 + 24 + 8;
  char *text = malloc(sizeof header + (size_t)n * per_line);
  if (!text) st = ma_fail(MA_ERR_RUNTIME, "out of memory writing %s", path);
  MA_TRY(mpi_agree(comm, st));
  if (rank == 0) {
    memcpy(text, header, sizeof header - 1);
    len = sizeof header - 1;
  }
  for (int64_t i = 0; i < n; i++) {
    const removed_row *r = &rows[i];
    len += (size_t)sprintf(text + len, "%lld,", (long long)r->id);
    len += place(text + len, in, r->row);
    len += (size_t)sprintf(text + len, ",%lld,", (long long)r->rep);
    len += place(text + len, in, r->rep_row);
    if (isnan(r->sim)) len += (size_t)sprintf(text + len, ",\n");
    else len += (size_t)sprintf(text + len, ",%.9g\n", (double)r->sim);
  }
  st = text_write_parallel(comm, path, text, len);
done:
  free(text);
  return st;
}
