/* Parallel, atomic HDF5 result files. */
#include "io/h5out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/h5util.h"
#include "mpi/comm.h"

/* Rows per collective write call are bounded like reads: far below 2 GiB per rank. */
#define H5OUT_PIECE_BYTES ((int64_t)64 << 20)

ma_status h5out_create(MPI_Comm comm, const char *path, h5out **out)
{
  ma_status st = MA_OK;
  int rank;
  long tag = (long)getpid();
  hid_t fapl = -1;
  h5out *o = NULL;
  *out = NULL;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Bcast(&tag, 1, MPI_LONG, 0, comm));
  o = calloc(1, sizeof *o);
  if (!o || !(o->path = strdup(path)) || !(o->tmp = atomic_tmp_name(path, tag))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(atomic_room(comm, path, 0));
  o->comm = comm;
  o->file = -1;
  MA_H5_TRY(fapl = h5_fapl_mpio(comm));
  o->file = H5Fcreate(o->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  if (o->file < 0) st = h5_fail(MA_ERR_RUNTIME, "cannot create %s", o->tmp);
  MA_TRY(mpi_agree(comm, st));
  *out = o;
  o = NULL;
done:
  h5_close(&fapl);
  if (o) {
    free(o->path);
    free(o->tmp);
    free(o);
  }
  return st;
}

/* Opens name for writing, creating it (and the groups above it) on first use. */
static hid_t open_or_create(hid_t file, const char *name, hid_t ftype, int rank, const hsize_t *dims, int chunk)
{
  if (H5Lexists(file, name, H5P_DEFAULT) > 0) return H5Dopen2(file, name, H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE), space = -1, d = -1;
  /* No modification times in object headers: a rerun writes the same bytes. */
  if (lcpl < 0 || dcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0 || H5Pset_obj_track_times(dcpl, 0) < 0)
    goto done;
  if (chunk && dims[0] > 0) {
    size_t row_bytes = H5Tget_size(ftype) * (rank == 2 ? (size_t)dims[1] : 1);
    hsize_t cd[2] = {(hsize_t)((1 << 20) / row_bytes), rank == 2 ? dims[1] : 1};
    if (cd[0] < 1) cd[0] = 1;
    if (cd[0] > dims[0]) cd[0] = dims[0];
    if (H5Pset_chunk(dcpl, rank, cd) < 0) goto done;
  }
  if ((space = H5Screate_simple(rank, dims, NULL)) < 0) goto done;
  d = H5Dcreate2(file, name, ftype, space, lcpl, dcpl, H5P_DEFAULT);
done:
  if (space >= 0) H5Sclose(space);
  if (lcpl >= 0) H5Pclose(lcpl);
  if (dcpl >= 0) H5Pclose(dcpl);
  return d;
}

ma_status h5out_write(h5out *o, const char *name, hid_t ftype, hid_t mem_type, int64_t global_rows, int64_t cols,
                      int64_t lo, int64_t count, const void *buf, int chunk)
{
  ma_status st = MA_OK;
  int rank = cols > 0 ? 2 : 1;
  hsize_t dims[2] = {(hsize_t)global_rows, (hsize_t)(cols > 0 ? cols : 1)};
  hid_t d = -1, fspace = -1, dxpl = -1;
  size_t row_bytes = H5Tget_size(mem_type) * (size_t)(cols > 0 ? cols : 1);
  int64_t piece = H5OUT_PIECE_BYTES / (int64_t)row_bytes, npieces, most;
  if (piece < 1) piece = 1;
  npieces = (count + piece - 1) / piece;
  MA_TRY(mpi_max_i64(o->comm, npieces, &most));
  MA_TRY(atomic_room(o->comm, o->path, (int64_t)(dims[0] * dims[1] * H5Tget_size(ftype))));
  if ((d = open_or_create(o->file, name, ftype, rank, dims, chunk)) < 0) {
    st = h5_fail(MA_ERR_RUNTIME, "%s: cannot create dataset %s", o->path, name);
    goto done;
  }
  MA_H5_TRY(fspace = H5Dget_space(d));
  MA_H5_TRY(dxpl = h5_dxpl_collective());
  for (int64_t p = 0; p < most; p++) {
    int64_t r0 = p * piece, r1 = r0 + piece < count ? r0 + piece : count, m = r1 > r0 ? r1 - r0 : 0;
    hsize_t start[2] = {(hsize_t)(lo + r0), 0}, cnt[2] = {(hsize_t)m, dims[1]};
    hsize_t mdims[2] = {(hsize_t)(m ? m : 1), dims[1]};
    hid_t mspace = H5Screate_simple(rank, mdims, NULL);
    MA_H5_TRY(mspace);
    herr_t e;
    if (m) e = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, cnt, NULL);
    else e = H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0 ? -1 : 0;
    if (e >= 0) e = H5Dwrite(d, mem_type, mspace, fspace, dxpl, m ? (const char *)buf + r0 * (int64_t)row_bytes : buf);
    H5Sclose(mspace);
    if (e < 0) {
      st = h5_fail(MA_ERR_RUNTIME, "%s: writing %s failed", o->path, name);
      goto done;
    }
  }
done:
  h5_close(&dxpl);
  h5_close(&fspace);
  h5_close(&d);
  return mpi_agree(o->comm, st);
}

/* Collective: the attribute's metadata is written by HDF5's collective calls, so the ranks agree on the
 * room before and on the outcome after. */
static ma_status write_attr(h5out *o, const char *obj, const char *name, hid_t type, const void *v)
{
  ma_status st = MA_OK;
  hid_t space = -1, a = -1, target = -1;
  MA_CALL(atomic_room(o->comm, o->path, 0));
  MA_H5_TRY(target = H5Oopen(o->file, obj, H5P_DEFAULT));
  MA_H5_TRY(space = H5Screate(H5S_SCALAR));
  if (H5Aexists(target, name) > 0) MA_H5_TRY(H5Adelete(target, name));
  MA_H5_TRY(a = H5Acreate2(target, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  MA_H5_TRY(H5Awrite(a, type, v));
done:
  h5_close(&a);
  h5_close(&space);
  if (target >= 0) H5Oclose(target);
  return mpi_agree(o->comm, st);
}

ma_status h5out_attr_i64(h5out *o, const char *obj, const char *name, int64_t v)
{
  return write_attr(o, obj, name, H5T_NATIVE_INT64, &v);
}

ma_status h5out_attr_f64(h5out *o, const char *obj, const char *name, double v)
{
  return write_attr(o, obj, name, H5T_NATIVE_DOUBLE, &v);
}

ma_status h5out_attr_str(h5out *o, const char *obj, const char *name, const char *v)
{
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t < 0) return h5_fail(MA_ERR_RUNTIME, "H5Tcopy");
  ma_status st = MA_OK;
  if (H5Tset_size(t, strlen(v) + 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
      H5Tset_cset(t, H5T_CSET_UTF8) < 0)
    st = h5_fail(MA_ERR_RUNTIME, "string attribute %s", name);
  else
    st = write_attr(o, obj, name, t, v);
  H5Tclose(t);
  return st;
}

static void h5out_free(h5out *o)
{
  free(o->path);
  free(o->tmp);
  free(o);
}

ma_status h5out_commit(h5out **po)
{
  h5out *o = *po;
  ma_status st = MA_OK;
  int rank;
  *po = NULL;
  MA_MPI_TRY(MPI_Comm_rank(o->comm, &rank));
  /* closing flushes the metadata HDF5 has cached */
  st = atomic_room(o->comm, o->path, 0);
  if (H5Fclose(o->file) < 0 && st == MA_OK) st = h5_fail(MA_ERR_RUNTIME, "%s: closing failed", o->tmp);
  o->file = -1;
  MA_TRY(mpi_agree(o->comm, st));
  if (rank == 0) {
    st = o->checkpoint ? atomic_rename(o->tmp, o->path) : atomic_defer(o->tmp, o->path);
    if (st != MA_OK) unlink(o->tmp);
  }
  st = mpi_agree(o->comm, st);
done:
  if (st != MA_OK && rank == 0) unlink(o->tmp);
  h5out_free(o);
  return st;
}

void h5out_abort(h5out **po)
{
  h5out *o = *po;
  if (!o) return;
  *po = NULL;
  int rank = 0;
  MPI_Comm_rank(o->comm, &rank);
  if (o->file >= 0) H5Fclose(o->file);
  MPI_Barrier(o->comm);
  if (rank == 0) unlink(o->tmp);
  h5out_free(o);
}
