/* HDF5 error capture and parallel property lists. */
#include "io/h5util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

typedef struct {
  char *buf;
  size_t len;
} reason_ctx;

static herr_t reason_walk(unsigned n, const H5E_error2_t *e, void *data)
{
  reason_ctx *ctx = data;
  /* Walking upward, the first entry is the innermost: the cause rather than the API call. */
  if (n == 0 && e->desc) snprintf(ctx->buf, ctx->len, "%s", e->desc);
  return 0;
}

void h5_reason(char *buf, size_t len)
{
  reason_ctx ctx = {buf, len};
  buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, reason_walk, &ctx);
}

ma_status h5_fail(ma_status code, const char *fmt, ...)
{
  char what[512], why[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  h5_reason(why, sizeof why);
  H5Eclear2(H5E_DEFAULT);
  if (why[0]) return ma_fail(code, "%s (HDF5: %s)", what, why);
  return ma_fail(code, "%s", what);
}

hid_t h5_fapl_mpio(MPI_Comm comm)
{
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0) return fapl;
  if (H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 || H5Pset_all_coll_metadata_ops(fapl, 1) < 0 ||
      H5Pset_coll_metadata_write(fapl, 1) < 0) {
    H5Pclose(fapl);
    return -1;
  }
  return fapl;
}

hid_t h5_dxpl_collective(void)
{
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (dxpl < 0) return dxpl;
  if (H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
    H5Pclose(dxpl);
    return -1;
  }
  return dxpl;
}

void h5_close(hid_t *id)
{
  if (*id < 0) return;
  switch (H5Iget_type(*id)) {
  case H5I_FILE: H5Fclose(*id); break;
  case H5I_GROUP: H5Gclose(*id); break;
  case H5I_DATASET: H5Dclose(*id); break;
  case H5I_DATASPACE: H5Sclose(*id); break;
  case H5I_DATATYPE: H5Tclose(*id); break;
  case H5I_ATTR: H5Aclose(*id); break;
  case H5I_GENPROP_LST: H5Pclose(*id); break;
  default: break;
  }
  *id = -1;
}

hid_t h5_half_type(void)
{
  hid_t t = H5Tcopy(H5T_IEEE_F32LE);
  if (t < 0) return t;
  if (H5Tset_fields(t, 15, 10, 5, 0, 10) < 0 || H5Tset_size(t, 2) < 0 || H5Tset_ebias(t, 15) < 0) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

static ma_status attr_read(hid_t obj, const char *name, hid_t mtype, void *v)
{
  if (H5Aexists(obj, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return ma_fail(MA_ERR_DATA, "attribute %s is missing", name);
  }
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  if (a < 0) return h5_fail(MA_ERR_DATA, "cannot open attribute %s", name);
  herr_t e = H5Aread(a, mtype, v);
  H5Aclose(a);
  if (e < 0) return h5_fail(MA_ERR_DATA, "cannot read attribute %s", name);
  return MA_OK;
}

ma_status h5_attr_i64(hid_t obj, const char *name, int64_t *v) { return attr_read(obj, name, H5T_NATIVE_INT64, v); }
ma_status h5_attr_f64(hid_t obj, const char *name, double *v) { return attr_read(obj, name, H5T_NATIVE_DOUBLE, v); }
