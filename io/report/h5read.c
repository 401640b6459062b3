/* Reading a result for the report (see io/report/h5read.h). */
#include "io/report/h5read.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "io/h5util.h"
#include "io/html.h"
#include "io/report/charts.h"
#include "io/report/h5read.h"
#include "io/report/hist.h"
#include "io/report/idmap.h"
#include "io/report/section.h"
#include "io/sheet.h"
#include "io/svg.h"

/* ---- reading the result ---- */

int rp_has(hid_t f, const char *name)
{
  int yes = H5Lexists(f, name, H5P_DEFAULT) > 0;
  H5Eclear2(H5E_DEFAULT);
  return yes;
}

/* Opens name as a dataset of `rank` dimensions whose first is rows (when rows >= 0). Optional and
 * absent: *d = -1. */
ma_status rp_open_dset(const report *r, const char *name, int rank, int64_t rows, int optional, hid_t *d,
                           int64_t dims[2])
{
  hsize_t hd[2] = {0, 0};
  *d = -1;
  if (!rp_has(r->f, name)) return optional ? MA_OK : ma_fail(MA_ERR_DATA, "%s: no dataset %s", r->file, name);
  if ((*d = H5Dopen2(r->f, name, H5P_DEFAULT)) < 0) return h5_fail(MA_ERR_DATA, "%s: cannot open %s", r->file, name);
  hid_t s = H5Dget_space(*d);
  int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
  if (nd == rank) H5Sget_simple_extent_dims(s, hd, NULL);
  if (s >= 0) H5Sclose(s);
  if (nd != rank) return ma_fail(MA_ERR_DATA, "%s:%s is not %d-D", r->file, name, rank);
  dims[0] = (int64_t)hd[0];
  dims[1] = (int64_t)hd[1];
  if (rows >= 0 && dims[0] != rows)
    return ma_fail(MA_ERR_DATA, "%s:%s has %lld rows, not %lld like the rest of the result", r->file, name,
                   (long long)dims[0], (long long)rows);
  return MA_OK;
}

/* Rows [lo, lo + count) of a 1-D dataset, or of columns [c0, c0 + nc) of a 2-D one (nc > 0). */
ma_status rp_read_part(const report *r, hid_t d, const char *name, hid_t mtype, int64_t lo, int64_t count,
                           int64_t c0, int64_t nc, void *buf)
{
  if (count == 0) return MA_OK;
  int rank = nc > 0 ? 2 : 1;
  hsize_t start[2] = {(hsize_t)lo, (hsize_t)c0}, cnt[2] = {(hsize_t)count, (hsize_t)nc};
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, cnt, NULL);
  herr_t e = fs < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
  if (e >= 0) e = H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (e < 0)
    return h5_fail(MA_ERR_DATA, "%s:%s: cannot read rows %lld..%lld", r->file, name, (long long)lo,
                   (long long)(lo + count - 1));
  return MA_OK;
}

/* A root (or object) attribute as text, "" when absent. */
void rp_attr_text(hid_t obj, const char *name, char *buf, size_t len)
{
  buf[0] = '\0';
  if (H5Aexists(obj, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return;
  }
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1, m = -1;
  if (t < 0) goto done;
  if (H5Tget_class(t) == H5T_STRING) {
    m = H5Tcopy(H5T_C_S1);
    H5Tset_cset(m, H5Tget_cset(t));
    if (H5Tis_variable_str(t) > 0) {
      char *s = NULL;
      if (H5Tset_size(m, H5T_VARIABLE) >= 0 && H5Aread(a, m, &s) >= 0 && s) {
        snprintf(buf, len, "%s", s);
        H5free_memory(s);
      }
    } else {
      size_t n = H5Tget_size(t);
      char *s = calloc(n + 2, 1);
      if (s && H5Tset_size(m, n + 1) >= 0 && H5Tset_strpad(m, H5T_STR_NULLTERM) >= 0 && H5Aread(a, m, s) >= 0)
        snprintf(buf, len, "%s", s);
      free(s);
    }
  } else if (H5Tget_class(t) == H5T_INTEGER) {
    long long v;
    if (H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0) snprintf(buf, len, "%lld", v);
  } else if (H5Tget_class(t) == H5T_FLOAT) {
    double v;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) snprintf(buf, len, "%.9g", v);
  }
done:
  h5_close(&m);
  h5_close(&t);
  h5_close(&a);
  H5Eclear2(H5E_DEFAULT);
}

ma_status rp_attr_num(const report *r, const char *name, double *v)
{
  if (h5_attr_f64(r->f, name, v) != MA_OK) {
    ma_err_clear();
    return ma_fail(MA_ERR_DATA, "%s: the root attribute %s is missing or not a number", r->file, name);
  }
  return MA_OK;
}

