/* Sharded embedding input: metadata validation on rank 0, then collective parallel reads. */
#include "io/h5in.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bigmem.h"
#include "core/log.h"
#include "io/h5util.h"
#include "io/npy.h"
#include "kernels/f16.h"
#include "kernels/rowops.h"
#include "mpi/comm.h"
#include "mpi/xchg.h"

/* Rows read by one collective call: bounded so that a transfer stays far below 2 GiB per rank and the
 * widening buffer stays small. */
#define H5IN_PIECE_BYTES ((int64_t)64 << 20)

ma_status h5in_split_spec(const char *spec, char **path, char **dataset)
{
  const char *cut = NULL;
  for (const char *p = spec; *p; p++)
    if (p[0] == ':' && p[1] == '/') cut = p;
  size_t plen = cut ? (size_t)(cut - spec) : strlen(spec);
  if (plen == 0) return ma_fail(MA_ERR_USAGE, "empty file name in input '%s'", spec);
  *path = strndup(spec, plen);
  *dataset = strdup(cut ? cut + 1 : "/embeddings");
  if (!*path || !*dataset) {
    free(*path);
    free(*dataset);
    *path = *dataset = NULL;
    return ma_fail(MA_ERR_RUNTIME, "out of memory");
  }
  return MA_OK;
}

/* "/a/b/embeddings" -> "/a/b/ids". */
static char *ids_beside(const char *dataset)
{
  const char *slash = strrchr(dataset, '/');
  size_t keep = slash ? (size_t)(slash - dataset) + 1 : 0;
  char *s = malloc(keep + 4);
  if (!s) return NULL;
  memcpy(s, dataset, keep);
  memcpy(s + keep, "ids", 4);
  return s;
}

/* Does every link on the way to name exist (H5Lexists fails on a missing intermediate group)? */
static int h5_path_exists(hid_t file, const char *name)
{
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", name);
  for (char *p = buf + 1; ; p++) {
    if (*p == '/' || *p == '\0') {
      char c = *p;
      *p = '\0';
      if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) return 0;
      if (c == '\0') return 1;
      *p = c;
    }
  }
}

static int is_ieee_half(hid_t t)
{
  size_t spos, epos, esize, mpos, msize;
  if (H5Tget_size(t) != 2 || H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) return 0;
  return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && H5Tget_ebias(t) == 15;
}

const char *h5in_label(const h5in_shard *s, char *buf, size_t size)
{
  if (s->npy) snprintf(buf, size, "%s", s->path);
  else snprintf(buf, size, "%s:%s", s->path, s->dataset);
  return buf;
}

/* The checks every shard's shape and type pass, HDF5 or .npy: rows, columns, and D and element type
 * equal to the first input's (which sets them). */
static ma_status check_shape(const char *where, int64_t rows, int64_t cols, ma_dtype t, int64_t *dim, ma_dtype *type,
                             int first)
{
  if (rows == 0) return ma_fail(MA_ERR_DATA, "%s has zero rows", where);
  if (cols == 0) return ma_fail(MA_ERR_DATA, "%s has zero columns", where);
  if (first) {
    *dim = cols;
    *type = t;
  } else if (cols != *dim) {
    return ma_fail(MA_ERR_DATA, "%s has %lld columns; the first input has %lld (all shards need the same D)", where,
                   (long long)cols, (long long)*dim);
  } else if (t != *type) {
    return ma_fail(MA_ERR_DATA, "%s is %s; the first input is %s (all shards need one element type)", where,
                   t == MA_F16 ? "float16" : "float32", *type == MA_F16 ? "float16" : "float32");
  }
  return MA_OK;
}

/* Validates a .npy shard's header and size (rank 0 only). */
static ma_status validate_npy(h5in_shard *s, int64_t *dim, ma_dtype *type, int first, int explicit_dataset)
{
  npy_header h;
  if (explicit_dataset)
    return ma_fail(MA_ERR_DATA, "%s is a .npy file, which holds one array: drop the :%s", s->path, s->dataset);
  MA_CALL(npy_probe(s->path, &h));
  s->npy = h.major * 10 + h.minor;
  s->body = h.body;
  MA_CALL(check_shape(s->path, h.rows, h.cols, h.esize == 2 ? MA_F16 : MA_F32, dim, type, first));
  s->rows = h.rows;
  return MA_OK;
}

/* Validates one shard's metadata with serial HDF5 or the .npy header (rank 0 only). */
static ma_status validate_shard(h5in_shard *s, int64_t *dim, ma_dtype *type, int first, int explicit_dataset)
{
  ma_status st = MA_OK;
  hid_t file = -1, dset = -1, space = -1, dtype = -1, dcpl = -1, ids = -1, ispace = -1, itype = -1;
  const char *f = s->path, *d = s->dataset;

  if (access(f, R_OK) != 0) return ma_fail(MA_ERR_DATA, "%s: cannot read: %s", f, strerror(errno));
  if (npy_is_npy(f)) return validate_npy(s, dim, type, first, explicit_dataset);
  htri_t is5 = H5Fis_hdf5(f);
  H5Eclear2(H5E_DEFAULT);
  if (is5 <= 0) return ma_fail(MA_ERR_DATA, "%s: not an HDF5 file (nor a .npy file)", f);
  file = H5Fopen(f, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) {
    st = h5_fail(MA_ERR_DATA, "%s: cannot open: the file is truncated or corrupt", f);
    goto done;
  }
  if (!h5_path_exists(file, d)) {
    H5Eclear2(H5E_DEFAULT);
    st = ma_fail(MA_ERR_DATA, "%s: no dataset %s", f, d);
    goto done;
  }
  H5O_info_t oinfo;
  if (H5Oget_info_by_name(file, d, &oinfo, H5P_DEFAULT) < 0 || oinfo.type != H5O_TYPE_DATASET) {
    st = ma_fail(MA_ERR_DATA, "%s: %s is not a dataset", f, d);
    goto done;
  }
  if ((dset = H5Dopen2(file, d, H5P_DEFAULT)) < 0) {
    st = h5_fail(MA_ERR_DATA, "%s: cannot open dataset %s", f, d);
    goto done;
  }
  MA_H5_TRY(space = H5Dget_space(dset));
  int ndims = H5Sget_simple_extent_ndims(space);
  if (ndims != 2) {
    st = ma_fail(MA_ERR_DATA, "%s:%s is %d-D; expected 2-D (rows x dimensions)", f, d, ndims);
    goto done;
  }
  hsize_t dims[2];
  MA_H5_TRY(H5Sget_simple_extent_dims(space, dims, NULL));
  MA_H5_TRY(dtype = H5Dget_type(dset));
  ma_dtype t;
  if (H5Tget_class(dtype) == H5T_FLOAT && H5Tget_size(dtype) == 4) t = MA_F32;
  else if (H5Tget_class(dtype) == H5T_FLOAT && is_ieee_half(dtype)) t = MA_F16;
  else {
    st = ma_fail(MA_ERR_DATA, "%s:%s has elements of %zu bytes (class %d); expected float16 or float32", f, d,
                 H5Tget_size(dtype), (int)H5Tget_class(dtype));
    goto done;
  }
  s->big_endian = H5Tget_order(dtype) == H5T_ORDER_BE;
  char where[2048];
  MA_TRY(check_shape(h5in_label(s, where, sizeof where), (int64_t)dims[0], (int64_t)dims[1], t, dim, type, first));
  s->rows = (int64_t)dims[0];
  MA_H5_TRY(dcpl = H5Dget_create_plist(dset));
  if (H5Pget_layout(dcpl) == H5D_CHUNKED) {
    hsize_t cd[2];
    if (H5Pget_chunk(dcpl, 2, cd) == 2) {
      s->chunk[0] = (int64_t)cd[0];
      s->chunk[1] = (int64_t)cd[1];
    }
  }

  char *idname = ids_beside(d);
  if (!idname) {
    st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    goto done;
  }
  if (h5_path_exists(file, idname)) {
    s->ids_dataset = idname;
    if ((ids = H5Dopen2(file, idname, H5P_DEFAULT)) < 0) {
      st = h5_fail(MA_ERR_DATA, "%s: cannot open %s", f, idname);
      goto done;
    }
    MA_H5_TRY(ispace = H5Dget_space(ids));
    MA_H5_TRY(itype = H5Dget_type(ids));
    hsize_t n = 0;
    int ind = H5Sget_simple_extent_ndims(ispace);
    if (ind == 1) H5Sget_simple_extent_dims(ispace, &n, NULL);
    if (H5Tget_class(itype) != H5T_INTEGER || ind != 1) {
      st = ma_fail(MA_ERR_DATA, "%s:%s must be a 1-D integer dataset", f, idname);
      goto done;
    }
    if ((int64_t)n != s->rows) {
      st = ma_fail(MA_ERR_DATA, "%s:%s has %llu entries but %s has %lld rows", f, idname, (unsigned long long)n,
                   d, (long long)s->rows);
      goto done;
    }
  } else {
    H5Eclear2(H5E_DEFAULT);
    free(idname);
  }
done:
  h5_close(&itype);
  h5_close(&ispace);
  h5_close(&ids);
  h5_close(&dcpl);
  h5_close(&dtype);
  h5_close(&space);
  h5_close(&dset);
  h5_close(&file);
  return st;
}

void h5in_free(h5in **pin)
{
  h5in *in = *pin;
  if (!in) return;
  for (int i = 0; i < in->nshards; i++) {
    free(in->shards[i].path);
    free(in->shards[i].dataset);
    free(in->shards[i].ids_dataset);
  }
  free(in->shards);
  free(in);
  *pin = NULL;
}

enum { META_ROWS, META_CHUNK0, META_CHUNK1, META_IDS, META_BE, META_NPY, META_BODY, META_FIELDS };

ma_status h5in_open(MPI_Comm comm, char *const *specs, int nspecs, h5in **out)
{
  ma_status st = MA_OK;
  int rank;
  int64_t *meta = NULL;
  h5in *in = NULL;
  *out = NULL;
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  if (nspecs < 1) {
    st = ma_fail(MA_ERR_USAGE, "no input: give -i PATH[:DATASET]");
    goto done;
  }
  MA_ALLOC(in, 1);
  MA_ALLOC(in->shards, nspecs);
  in->nshards = nspecs;
  for (int i = 0; i < nspecs; i++) MA_TRY(h5in_split_spec(specs[i], &in->shards[i].path, &in->shards[i].dataset));

  MA_ALLOC(meta, (int64_t)nspecs * META_FIELDS + 2);
  if (rank == 0) {
    for (int i = 0; i < nspecs && st == MA_OK; i++) {
      h5in_shard *s = &in->shards[i];
      st = validate_shard(s, &in->dim, &in->type, i == 0, strlen(s->path) < strlen(specs[i]));
      int64_t *m = meta + (int64_t)i * META_FIELDS;
      m[META_ROWS] = s->rows;
      m[META_CHUNK0] = s->chunk[0];
      m[META_CHUNK1] = s->chunk[1];
      m[META_IDS] = s->ids_dataset != NULL;
      m[META_BE] = s->big_endian;
      m[META_NPY] = s->npy;
      m[META_BODY] = s->body;
    }
    meta[(int64_t)nspecs * META_FIELDS] = in->dim;
    meta[(int64_t)nspecs * META_FIELDS + 1] = in->type;
  }
  MA_TRY(mpi_agree(comm, st));
  MA_MPI_TRY(MPI_Bcast(meta, nspecs * META_FIELDS + 2, MPI_INT64_T, 0, comm));
  in->dim = meta[(int64_t)nspecs * META_FIELDS];
  in->type = (ma_dtype)meta[(int64_t)nspecs * META_FIELDS + 1];
  for (int i = 0; i < nspecs; i++) {
    h5in_shard *s = &in->shards[i];
    const int64_t *m = meta + (int64_t)i * META_FIELDS;
    s->rows = m[META_ROWS];
    s->chunk[0] = m[META_CHUNK0];
    s->chunk[1] = m[META_CHUNK1];
    s->big_endian = (int)m[META_BE];
    s->npy = (int)m[META_NPY];
    s->body = m[META_BODY];
    s->row0 = in->n;
    in->n += s->rows;
    if (m[META_IDS] && !s->ids_dataset && !(s->ids_dataset = ids_beside(s->dataset))) {
      st = ma_fail(MA_ERR_RUNTIME, "out of memory");
      goto done;
    }
  }
  *out = in;
  in = NULL;
done:
  free(meta);
  h5in_free(&in);
  return st;
}

void h5in_locate(const h5in *in, int64_t g, int *shard, int64_t *row)
{
  int lo = 0, hi = in->nshards - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (in->shards[mid].row0 <= g) lo = mid;
    else hi = mid - 1;
  }
  *shard = lo;
  *row = g - in->shards[lo].row0;
}

int64_t h5in_row_bytes(const h5in *in)
{
  return in->dim * (in->type == MA_F16 ? 2 : 4) + (int64_t)sizeof(int64_t);
}

void h5in_rows_free(h5in_rows *r)
{
  free(r->data);
  free(r->ids);
  free(r->src);
  r->data = NULL;
  r->ids = NULL;
  r->src = NULL;
  r->count = 0;
}

/* Reads rows [a, b) of one shard (shard-local numbering; a == b: this rank only joins the collective
 * calls) into vec/ids, in pieces whose count every rank agrees on. */
static ma_status read_shard(MPI_Comm comm, const h5in *in, const h5in_shard *s, int64_t a, int64_t b,
                            void *vec, int64_t *ids)
{
  ma_status st = MA_OK;
  hid_t fapl = -1, dxpl = -1, file = -1, dset = -1, fspace = -1, mtype = -1, idset = -1, ifspace = -1;
  int64_t esize = in->type == MA_F16 ? 2 : 4, dim = in->dim;
  int64_t piece = H5IN_PIECE_BYTES / (dim * esize);
  if (piece < 1) piece = 1;
  int64_t npieces = (b - a + piece - 1) / piece, most;
  if (s->npy) {
    st = npy_read_rows(comm, s->path, s->body, dim * esize, a, b, piece, vec);
    for (int64_t r = a; r < b; r++) ids[r - a] = s->row0 + r;
    return st;
  }
  MA_TRY(mpi_max_i64(comm, npieces, &most));

  MA_H5_TRY(fapl = h5_fapl_mpio(comm));
  MA_H5_TRY(dxpl = h5_dxpl_collective());
  if ((file = H5Fopen(s->path, H5F_ACC_RDONLY, fapl)) < 0) {
    st = h5_fail(MA_ERR_RUNTIME, "%s: parallel open failed", s->path);
    goto done;
  }
  MA_H5_TRY(dset = H5Dopen2(file, s->dataset, H5P_DEFAULT));
  MA_H5_TRY(fspace = H5Dget_space(dset));
  if (in->type == MA_F16) {
    /* The file's own half type, little-endian: HDF5 copies the bytes and converts nothing. */
    hid_t ftype = H5Dget_type(dset);
    MA_H5_TRY(ftype);
    mtype = H5Tcopy(ftype);
    H5Tclose(ftype);
    MA_H5_TRY(mtype);
    MA_H5_TRY(H5Tset_order(mtype, H5T_ORDER_LE));
  } else {
    MA_H5_TRY(mtype = H5Tcopy(H5T_NATIVE_FLOAT));
  }
  if (s->ids_dataset) {
    MA_H5_TRY(idset = H5Dopen2(file, s->ids_dataset, H5P_DEFAULT));
    MA_H5_TRY(ifspace = H5Dget_space(idset));
  }
  for (int64_t p = 0; p < most; p++) {
    int64_t r0 = a + p * piece, r1 = r0 + piece < b ? r0 + piece : b;
    int64_t m = r1 > r0 ? r1 - r0 : 0;
    hsize_t start[2] = {(hsize_t)(m ? r0 : 0), 0}, count[2] = {(hsize_t)m, (hsize_t)dim};
    hsize_t mdims[2] = {(hsize_t)(m ? m : 1), (hsize_t)dim};
    hid_t mspace = H5Screate_simple(2, mdims, NULL);
    MA_H5_TRY(mspace);
    herr_t e;
    if (m) e = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    else e = H5Sselect_none(fspace) < 0 || H5Sselect_none(mspace) < 0 ? -1 : 0;
    if (e >= 0) e = H5Dread(dset, mtype, mspace, fspace, dxpl, (char *)vec + (m ? (r0 - a) * dim * esize : 0));
    H5Sclose(mspace);
    if (e < 0) {
      st = h5_fail(MA_ERR_DATA, "%s:%s: reading rows %lld..%lld failed", s->path, s->dataset, (long long)r0,
                   (long long)r1);
      goto done;
    }
    if (idset >= 0) {
      hsize_t istart = start[0], icount = (hsize_t)m, idims = (hsize_t)(m ? m : 1);
      hid_t ims = H5Screate_simple(1, &idims, NULL);
      MA_H5_TRY(ims);
      if (m) e = H5Sselect_hyperslab(ifspace, H5S_SELECT_SET, &istart, NULL, &icount, NULL);
      else e = H5Sselect_none(ifspace) < 0 || H5Sselect_none(ims) < 0 ? -1 : 0;
      if (e >= 0) e = H5Dread(idset, H5T_NATIVE_INT64, ims, ifspace, dxpl, ids + (m ? r0 - a : 0));
      H5Sclose(ims);
      if (e < 0) {
        st = h5_fail(MA_ERR_DATA, "%s:%s: reading ids failed", s->path, s->ids_dataset);
        goto done;
      }
    }
  }
  if (idset < 0)
    for (int64_t r = a; r < b; r++) ids[r - a] = s->row0 + r;
done:
  h5_close(&ifspace);
  h5_close(&idset);
  h5_close(&mtype);
  h5_close(&fspace);
  h5_close(&dset);
  h5_close(&file);
  h5_close(&dxpl);
  h5_close(&fapl);
  return st;
}

/* Normalises rows in place; a bad row either fails (naming it) or is marked in `bad`. */
static ma_status normalize_rows(const h5in *in, int64_t lo, h5in_rows *out, const h5in_read_opts *opts,
                                unsigned char *bad)
{
  ma_status st = MA_OK;
  int64_t dim = in->dim, step = 4096;
  float *wide = NULL;
  if (in->type == MA_F16) MA_ALLOC(wide, step * dim);
  for (int64_t r = 0; r < out->count;) {
    int64_t m = out->count - r < step ? out->count - r : step;
    float *x = in->type == MA_F16 ? wide : (float *)out->data + r * dim;
    if (in->type == MA_F16) f16_to_f32((const uint16_t *)out->data + r * dim, wide, m * dim);
    int64_t done_rows = 0;
    while (done_rows < m) {
      int kind = 0;
      int64_t b = rows_normalize(x + done_rows * dim, m - done_rows, dim, dim, &kind);
      if (b < 0) break;
      int64_t g = lo + r + done_rows + b;
      if (!opts || !opts->drop_invalid) {
        int sh;
        int64_t row;
        h5in_locate(in, g, &sh, &row);
        char where[2048];
        st = ma_fail(MA_ERR_DATA, "%s row %lld: %s (use --drop-invalid to skip such rows)",
                     h5in_label(&in->shards[sh], where, sizeof where), (long long)row,
                     kind == 1 ? "contains NaN or Inf" : "has zero norm");
        goto done;
      }
      bad[r + done_rows + b] = 1;
      done_rows += b + 1;
    }
    if (in->type == MA_F16) f32_to_f16(wide, (uint16_t *)out->data + r * dim, m * dim);
    r += m;
  }
done:
  free(wide);
  return st;
}

ma_status h5in_read(MPI_Comm comm, const h5in *in, int64_t lo, int64_t hi, const h5in_read_opts *opts,
                    h5in_rows *out)
{
  ma_status st = MA_OK;
  unsigned char *bad = NULL;
  int64_t esize = in->type == MA_F16 ? 2 : 4;
  memset(out, 0, sizeof *out);
  out->lo = lo;
  out->count = hi - lo;
  out->dim = in->dim;
  out->type = in->type;
  out->data = big_alloc((size_t)((hi - lo) * in->dim * esize + 1));
  out->ids = malloc((size_t)(hi - lo + 1) * sizeof *out->ids);
  bad = calloc((size_t)(hi - lo + 1), 1);
  if (!out->data || !out->ids || !bad)
    st = ma_fail(MA_ERR_RUNTIME, "out of memory reading %lld rows of %lld", (long long)(hi - lo), (long long)in->dim);
  MA_TRY(mpi_agree(comm, st));

  for (int i = 0; i < in->nshards; i++) {
    const h5in_shard *s = &in->shards[i];
    int64_t a = lo > s->row0 ? lo : s->row0, b = hi < s->row0 + s->rows ? hi : s->row0 + s->rows;
    if (b < a) b = a;
    char *vec = (char *)out->data + (a - lo) * in->dim * esize;
    st = read_shard(comm, in, s, a - s->row0, b - s->row0, b > a ? vec : out->data, out->ids + (a - lo));
    MA_TRY(mpi_agree(comm, st));
  }
  st = normalize_rows(in, lo, out, opts, bad);
  MA_TRY(mpi_agree(comm, st));

  if (opts && opts->drop_invalid) {
    int64_t k = 0, nbad = 0;
    for (int64_t r = 0; r < out->count; r++) nbad += bad[r];
    if (nbad && !(out->src = malloc((size_t)out->count * sizeof *out->src)))
      st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    MA_TRY(mpi_agree(comm, st));
    for (int64_t r = 0; r < out->count; r++) {
      if (bad[r]) continue;
      if (k != r) {
        memmove((char *)out->data + k * in->dim * esize, (char *)out->data + r * in->dim * esize,
                (size_t)(in->dim * esize));
        out->ids[k] = out->ids[r];
      }
      if (out->src) out->src[k] = lo + r;
      k++;
    }
    out->dropped = out->count - k;
    out->count = k;
  }
done:
  free(bad);
  if (st != MA_OK) h5in_rows_free(out);
  return st;
}

typedef struct {
  int64_t id, row;
} id_row;

static int cmp_id_row(const void *pa, const void *pb)
{
  const id_row *a = pa, *b = pb;
  if (a->id != b->id) return a->id < b->id ? -1 : 1;
  return (a->row > b->row) - (a->row < b->row);
}

static uint64_t id_hash(int64_t id)
{
  uint64_t z = (uint64_t)id + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/* Buckets this rank's (id, global row) by the id's owner rank. */
static ma_status bucket_ids(const h5in_rows *rows, int nranks, int64_t *counts, id_row **out)
{
  ma_status st = MA_OK;
  int64_t *pos = NULL;
  id_row *send = NULL;
  MA_ALLOC(pos, nranks + 1);
  MA_ALLOC(send, rows->count + 1);
  for (int64_t r = 0; r < rows->count; r++) counts[id_hash(rows->ids[r]) % (uint64_t)nranks]++;
  for (int q = 0; q < nranks; q++) pos[q + 1] = pos[q] + counts[q];
  for (int64_t r = 0; r < rows->count; r++) {
    int q = (int)(id_hash(rows->ids[r]) % (uint64_t)nranks);
    /* The global row is known only without dropped rows; with them, the id names the place. */
    send[pos[q]++] = (id_row){rows->ids[r], rows->dropped ? -1 : rows->lo + r};
  }
  *out = send;
  send = NULL;
done:
  free(pos);
  free(send);
  return st;
}

/* The first repeated id in a sorted list, as an error naming both places. */
static ma_status first_repeat(const h5in *in, const id_row *v, int64_t n)
{
  for (int64_t k = 1; k < n; k++) {
    if (v[k].id != v[k - 1].id) continue;
    if (v[k - 1].row < 0 || v[k].row < 0)
      return ma_fail(MA_ERR_DATA, "id %lld appears more than once in the inputs", (long long)v[k].id);
    int s1, s2;
    int64_t r1, r2;
    h5in_locate(in, v[k - 1].row, &s1, &r1);
    h5in_locate(in, v[k].row, &s2, &r2);
    const h5in_shard *a = &in->shards[s1], *b = &in->shards[s2];
    return ma_fail(MA_ERR_DATA, "duplicate id %lld: %s:%s row %lld and %s:%s row %lld", (long long)v[k].id,
                   a->path, a->ids_dataset ? a->ids_dataset : "(row number)", (long long)r1, b->path,
                   b->ids_dataset ? b->ids_dataset : "(row number)", (long long)r2);
  }
  return MA_OK;
}

ma_status h5in_check_unique_ids(MPI_Comm comm, const h5in *in, const h5in_rows *rows)
{
  ma_status st = MA_OK;
  int nranks;
  int64_t *counts = NULL, *rcounts = NULL, nrecv = 0;
  id_row *send = NULL, *recv = NULL;
  MA_MPI(MPI_Comm_size(comm, &nranks));
  counts = calloc((size_t)nranks, sizeof *counts);
  rcounts = calloc((size_t)nranks, sizeof *rcounts);
  st = counts && rcounts ? bucket_ids(rows, nranks, counts, &send) : ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(xchg_alltoallv(comm, send, counts, sizeof(id_row), (void **)&recv, rcounts, &nrecv));
  qsort(recv, (size_t)nrecv, sizeof *recv, cmp_id_row);
  st = mpi_agree(comm, first_repeat(in, recv, nrecv));
done:
  free(counts);
  free(rcounts);
  free(send);
  free(recv);
  return st;
}

ma_status h5in_read_values(MPI_Comm comm, const char *spec, int64_t n, int64_t lo, int64_t hi, const char *what,
                           double *out)
{
  ma_status st = MA_OK;
  char *path = NULL, *dset = NULL;
  hid_t fapl = -1, dxpl = -1, file = -1, d = -1, fs = -1, ms = -1;
  MA_CALL(h5in_split_spec(spec, &path, &dset));
  MA_H5_TRY(fapl = h5_fapl_mpio(comm));
  MA_H5_TRY(dxpl = h5_dxpl_collective());
  if (access(path, R_OK) != 0) st = ma_fail(MA_ERR_DATA, "%s %s: cannot read: %s", what, path, strerror(errno));
  else if ((file = H5Fopen(path, H5F_ACC_RDONLY, fapl)) < 0) st = h5_fail(MA_ERR_DATA, "%s %s: cannot open", what, path);
  else if ((d = H5Dopen2(file, dset, H5P_DEFAULT)) < 0) st = h5_fail(MA_ERR_DATA, "%s %s: no dataset %s", what, path, dset);
  MA_TRY(st);
  MA_H5_TRY(fs = H5Dget_space(d));
  hsize_t len = 0;
  int nd = H5Sget_simple_extent_ndims(fs);
  if (nd != 1 || H5Sget_simple_extent_dims(fs, &len, NULL) < 0 || (int64_t)len != n) {
    st = ma_fail(MA_ERR_DATA, "%s %s:%s has %lld entries in %d-D; it needs %lld in 1-D (one per input row)", what, path,
                 dset, (long long)(nd == 1 ? (int64_t)len : -1), nd, (long long)n);
    goto done;
  }
  hsize_t start = (hsize_t)lo, count = (hsize_t)(hi - lo), mlen = count ? count : 1;
  MA_H5_TRY(ms = H5Screate_simple(1, &mlen, NULL));
  if (count) MA_H5_TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL));
  else {
    MA_H5_TRY(H5Sselect_none(fs));
    MA_H5_TRY(H5Sselect_none(ms));
  }
  if (H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, dxpl, out) < 0)
    st = h5_fail(MA_ERR_DATA, "%s %s:%s: cannot read as numbers", what, path, dset);
done:
  h5_close(&ms);
  h5_close(&fs);
  h5_close(&d);
  h5_close(&file);
  h5_close(&dxpl);
  h5_close(&fapl);
  free(path);
  free(dset);
  return st;
}
