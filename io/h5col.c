/* Reading a per-row integer column beside the embeddings: metadata checked on rank 0, then one
 * collective read per shard. */
#include "io/h5col.h"

#include <stdio.h>

#include "io/h5util.h"
#include "mpi/comm.h"

/* Checks that shard s has name as a 1-D integer dataset of s->rows entries (rank 0, serial HDF5). */
static ma_status check_column(const h5in_shard *s, const char *name)
{
  ma_status st = MA_OK;
  hid_t file = -1, dset = -1, space = -1, type = -1;
  hsize_t n = 0;
  if (s->npy) return ma_fail(MA_ERR_DATA, "%s is a .npy file: it holds no dataset %s", s->path, name);
  if ((file = H5Fopen(s->path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
    st = h5_fail(MA_ERR_DATA, "%s: cannot open", s->path);
    goto done;
  }
  if (name[0] != '/' || H5Lexists(file, name, H5P_DEFAULT) <= 0 || (dset = H5Dopen2(file, name, H5P_DEFAULT)) < 0) {
    H5Eclear2(H5E_DEFAULT);
    st = ma_fail(MA_ERR_DATA, "%s: no dataset %s", s->path, name);
    goto done;
  }
  MA_H5_TRY(space = H5Dget_space(dset));
  MA_H5_TRY(type = H5Dget_type(dset));
  int nd = H5Sget_simple_extent_ndims(space);
  if (nd == 1) MA_H5_TRY(H5Sget_simple_extent_dims(space, &n, NULL));
  if (nd != 1 || H5Tget_class(type) != H5T_INTEGER)
    st = ma_fail(MA_ERR_DATA, "%s:%s must be a 1-D integer dataset", s->path, name);
  else if ((int64_t)n != s->rows)
    st = ma_fail(MA_ERR_DATA, "%s:%s has %llu entries but %s has %lld rows", s->path, name, (unsigned long long)n,
                 s->dataset, (long long)s->rows);
done:
  h5_close(&type);
  h5_close(&space);
  h5_close(&dset);
  h5_close(&file);
  return st;
}

/* Reads entries [a, b) of one shard's column into out (a == b: joins the collective read only). */
static ma_status read_part(MPI_Comm comm, const h5in_shard *s, const char *name, int64_t a, int64_t b, int64_t *out)
{
  ma_status st = MA_OK;
  hid_t fapl = -1, dxpl = -1, file = -1, dset = -1, fspace = -1, mspace = -1;
  int64_t m = b - a;
  hsize_t start = (hsize_t)a, count = (hsize_t)m, mdim = (hsize_t)(m ? m : 1);
  MA_H5_TRY(fapl = h5_fapl_mpio(comm));
  MA_H5_TRY(dxpl = h5_dxpl_collective());
  if ((file = H5Fopen(s->path, H5F_ACC_RDONLY, fapl)) < 0) {
    st = h5_fail(MA_ERR_RUNTIME, "%s: parallel open failed", s->path);
    goto done;
  }
  MA_H5_TRY(dset = H5Dopen2(file, name, H5P_DEFAULT));
  MA_H5_TRY(fspace = H5Dget_space(dset));
  MA_H5_TRY(mspace = H5Screate_simple(1, &mdim, NULL));
  if (m) MA_H5_TRY(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL));
  else MA_H5_TRY(H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0 ? -1 : 0);
  if (H5Dread(dset, H5T_NATIVE_INT64, mspace, fspace, dxpl, out) < 0)
    st = h5_fail(MA_ERR_DATA, "%s:%s: reading entries %lld..%lld failed", s->path, name, (long long)a, (long long)b);
done:
  h5_close(&mspace);
  h5_close(&fspace);
  h5_close(&dset);
  h5_close(&file);
  h5_close(&dxpl);
  h5_close(&fapl);
  return st;
}

ma_status h5col_read_i64(MPI_Comm comm, const h5in *in, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
  int rank;
  ma_status st = MA_OK;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0)
    for (int i = 0; i < in->nshards && st == MA_OK; i++) st = check_column(&in->shards[i], name);
  MA_CALL(mpi_agree(comm, st));
  for (int i = 0; i < in->nshards; i++) {
    const h5in_shard *s = &in->shards[i];
    int64_t a = lo > s->row0 ? lo : s->row0, b = hi < s->row0 + s->rows ? hi : s->row0 + s->rows;
    if (b < a) b = a;
    MA_CALL(mpi_agree(comm, read_part(comm, s, name, a - s->row0, b - s->row0, b > a ? out + (a - lo) : out)));
  }
  return MA_OK;
}
