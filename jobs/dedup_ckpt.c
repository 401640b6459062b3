/* dedup's checkpoints. */
#include "jobs/dedup_ckpt.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"

static void name_of(char *buf, size_t len, const char *what, int r) { snprintf(buf, len, "%s-%d", what, r); }

/* A saved pair: every field of dd_pair, packed. */
static hid_t pair_type(int file)
{
  hid_t t = H5Tcreate(H5T_COMPOUND, file ? 38 : sizeof(dd_pair));
  if (t < 0) return t;
  H5Tinsert(t, "a", file ? 0 : offsetof(dd_pair, a), file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  H5Tinsert(t, "b", file ? 8 : offsetof(dd_pair, b), file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  H5Tinsert(t, "pa", file ? 16 : offsetof(dd_pair, pa), file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  H5Tinsert(t, "pb", file ? 24 : offsetof(dd_pair, pb), file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  H5Tinsert(t, "sim", file ? 32 : offsetof(dd_pair, sim), file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
  H5Tinsert(t, "clustering", file ? 36 : offsetof(dd_pair, clustering), file ? H5T_STD_I16LE : H5T_NATIVE_INT16);
  return t;
}

static const char *stat_names[] = {"pairs_found", "pairs_union", "search_flops", "kmeans_flops",
                                   "work_ratio", "rounds", "bytes_moved"};

ma_status dckpt_save_pairs(const ckpt *c, int r, const pairset *ps, const dedup_phase_stats *st)
{
  char name[64];
  h5out *o = NULL;
  int rank;
  int64_t total, at = 0;
  MA_MPI(MPI_Comm_rank(c->comm, &rank));
  MA_CALL(mpi_sum_i64(c->comm, ps->n, &total));
  MA_MPI(MPI_Exscan(&ps->n, &at, 1, MPI_INT64_T, MPI_SUM, c->comm));
  if (rank == 0) at = 0;
  name_of(name, sizeof name, "pairs", r);
  MA_CALL(ckpt_create(c, name, &o));
  hid_t ft = pair_type(1), mt = pair_type(0);
  ma_status s = ft < 0 || mt < 0 ? ma_fail(MA_ERR_RUNTIME, "cannot make the pair type")
                                 : h5out_write(o, "/pairs", ft, mt, total, 0, at, ps->n, ps->v, 1);
  const double *v = &st->pairs_found;
  for (int i = 0; s == MA_OK && i < 7; i++) s = h5out_attr_f64(o, "/", stat_names[i], v[i]);
  if (ft >= 0) H5Tclose(ft);
  if (mt >= 0) H5Tclose(mt);
  if (s != MA_OK) {
    h5out_abort(&o);
    return s;
  }
  return h5out_commit(&o);
}

ma_status dckpt_load_pairs(const ckpt *c, int r, pairset *ps)
{
  char name[64];
  int rank, nranks;
  int64_t total, lo, hi;
  pairbuf b = {0};
  MA_MPI(MPI_Comm_rank(c->comm, &rank));
  MA_MPI(MPI_Comm_size(c->comm, &nranks));
  name_of(name, sizeof name, "pairs", r);
  MA_CALL(ckpt_rows(c, name, "/pairs", &total));
  shard_range(total, nranks, rank, &lo, &hi);
  b.v = malloc((size_t)(hi - lo + 1) * sizeof *b.v);
  b.n = b.cap = hi - lo;
  MA_CALL(mpi_agree(c->comm, b.v ? MA_OK : ma_fail(MA_ERR_RUNTIME, "out of memory")));
  hid_t mt = pair_type(0);
  ma_status st = ckpt_read(c, name, "/pairs", mt, lo, hi - lo, 0, b.v);
  H5Tclose(mt);
  if (st != MA_OK) {
    pairbuf_free(&b);
    return st;
  }
  ps->n = 0;
  return pairset_merge(c->comm, ps, &b);
}

ma_status dckpt_load_stats(const ckpt *c, int r, dedup_phase_stats *st)
{
  char name[64];
  double *v = &st->pairs_found;
  name_of(name, sizeof name, "pairs", r);
  for (int i = 0; i < 7; i++) MA_CALL(ckpt_attr(c, name, "/", stat_names[i], &v[i]));
  return MA_OK;
}

hid_t dckpt_recall_type(int file)
{
  hid_t t = H5Tcreate(H5T_COMPOUND, file ? 36 : sizeof(recall_row));
  if (t < 0) return t;
  H5Tinsert(t, "clusterings", file ? 0 : offsetof(recall_row, clusterings), file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
  H5Tinsert(t, "recall", file ? 4 : offsetof(recall_row, recall), file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "ci_low", file ? 12 : offsetof(recall_row, ci_low), file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "ci_high", file ? 20 : offsetof(recall_row, ci_high), file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
  H5Tinsert(t, "true_pairs", file ? 28 : offsetof(recall_row, true_pairs), file ? H5T_STD_I64LE : H5T_NATIVE_INT64);
  return t;
}

ma_status dckpt_save_recall(const ckpt *c, const recall_row *rows, int R, int64_t sampled)
{
  h5out *o = NULL;
  int rank;
  MA_MPI(MPI_Comm_rank(c->comm, &rank));
  MA_CALL(ckpt_create(c, "recall", &o));
  hid_t ft = dckpt_recall_type(1), mt = dckpt_recall_type(0);
  ma_status st = h5out_write(o, "/recall", ft, mt, R, 0, 0, rank == 0 ? R : 0, rows, 0);
  if (st == MA_OK) st = h5out_attr_i64(o, "/", "sample", sampled);
  H5Tclose(ft);
  H5Tclose(mt);
  if (st != MA_OK) {
    h5out_abort(&o);
    return st;
  }
  return h5out_commit(&o);
}

ma_status dckpt_load_recall(const ckpt *c, recall_row *rows, int R, int64_t *sampled)
{
  double v;
  hid_t mt = dckpt_recall_type(0);
  ma_status st = ckpt_read(c, "recall", "/recall", mt, 0, R, 0, rows);
  H5Tclose(mt);
  MA_CALL(st);
  MA_CALL(ckpt_attr(c, "recall", "/", "sample", &v));
  *sampled = (int64_t)v;
  return MA_OK;
}
