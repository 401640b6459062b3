/* What dedup writes besides its decisions: /pairs, a compound dataset of any type, the --keep-list text
 * file and the summary's recall rows (SPEC.md's layouts). */
#include "jobs/dedup_write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "io/textout.h"
#include "mpi/comm.h"

/* /pairs as SPEC.md lays it out: {a int64, b int64, sim float32, clustering int16}, packed. */
typedef struct {
  int64_t a, b;
  float sim;
  int16_t clustering;
} pair_out;

static hid_t pair_type(int file)
{
  hid_t t = H5Tcreate(H5T_COMPOUND, file ? 22 : sizeof(pair_out));
  if (t < 0) return t;
  H5Tinsert(t, "a", file ? 0 : offsetof(pair_out, a), file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  H5Tinsert(t, "b", file ? 8 : offsetof(pair_out, b), file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  H5Tinsert(t, "sim", file ? 16 : offsetof(pair_out, sim), file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
  H5Tinsert(t, "clustering", file ? 20 : offsetof(pair_out, clustering), file ? H5T_STD_I16LE : H5T_NATIVE_INT16);
  return t;
}

ma_status dedup_write_compound(h5out *o, const char *name, hid_t (*type)(int), int64_t total, int64_t at,
                               int64_t count, const void *buf)
{
  hid_t ft = type(1), mt = type(0);
  ma_status st = ft < 0 || mt < 0 ? ma_fail(MA_ERR_RUNTIME, "cannot make the type of %s", name)
                                  : h5out_write(o, name, ft, mt, total, 0, at, count, buf, 1);
  if (ft >= 0) H5Tclose(ft);
  if (mt >= 0) H5Tclose(mt);
  return st;
}

ma_status dedup_write_pairs(MPI_Comm comm, h5out *o, const pairset *ps, int64_t *total)
{
  ma_status st = MA_OK;
  int64_t at = 0;
  int rank;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  pair_out *buf = malloc((size_t)(ps->n + 1) * sizeof *buf);
  if (!buf) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t i = 0; st == MA_OK && i < ps->n; i++) buf[i] = (pair_out){ps->v[i].a, ps->v[i].b, ps->v[i].sim, ps->v[i].clustering};
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_sum_i64(comm, ps->n, total));
  MA_MPI_TRY(MPI_Exscan(&ps->n, &at, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) at = 0;
  MA_TRY(dedup_write_compound(o, "/pairs", pair_type, *total, at, ps->n, buf));
done:
  free(buf);
  return st;
}

ma_status dedup_write_keep_list(MPI_Comm comm, const char *path, const int64_t *ids, const uint8_t *keep,
                                int64_t n)
{
  size_t cap = (size_t)n * 21 + 1, len = 0;
  char *text = malloc(cap);
  ma_status st = text ? MA_OK : ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t i = 0; st == MA_OK && i < n; i++)
    if (keep[i]) len += (size_t)snprintf(text + len, cap - len, "%lld\n", (long long)ids[i]);
  st = mpi_agree(comm, st);
  if (st == MA_OK) st = text_write_parallel(comm, path, text, len);
  free(text);
  return st;
}

json_t *dedup_recall_json(const recall_row *rows, int R)
{
  json_t *a = json_array();
  for (int r = 0; r < R; r++) {
    json_t *o = json_object();
    json_object_set_new(o, "clusterings", json_integer(rows[r].clusterings));
    json_object_set_new(o, "recall", isnan(rows[r].recall) ? json_null() : json_real(rows[r].recall));
    json_object_set_new(o, "ci_low", json_real(rows[r].ci_low));
    json_object_set_new(o, "ci_high", json_real(rows[r].ci_high));
    json_object_set_new(o, "true_pairs", json_integer(rows[r].true_pairs));
    json_array_append_new(a, o);
  }
  return a;
}
