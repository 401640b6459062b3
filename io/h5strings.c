/* Fixed-length UTF-8 string datasets, written collectively. */
#include "io/h5strings.h"

#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "mpi/comm.h"

ma_status h5out_write_strings(h5out *o, const char *name, int64_t global_rows, int64_t lo, int64_t count,
                              const char *const *strs, int64_t *width)
{
  ma_status st = MA_OK;
  char *packed = NULL;
  hid_t type = -1;
  int64_t longest = 1, w;
  for (int64_t i = 0; i < count; i++) {
    int64_t len = (int64_t)strlen(strs[i]);
    if (len > longest) longest = len;
  }
  MA_TRY(mpi_max_i64(o->comm, longest, &w));
  packed = calloc((size_t)(count * w + 1), 1);
  if (!packed) st = ma_fail(MA_ERR_RUNTIME, "out of memory packing %s", name);
  if (st == MA_OK && ((type = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(type, (size_t)w) < 0 ||
                      H5Tset_strpad(type, H5T_STR_NULLPAD) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0))
    st = h5_fail(MA_ERR_RUNTIME, "%s: cannot make a string type of %lld bytes", name, (long long)w);
  MA_TRY(mpi_agree(o->comm, st));
  for (int64_t i = 0; i < count; i++) memcpy(packed + i * w, strs[i], strlen(strs[i]));
  MA_TRY(h5out_write(o, name, type, type, global_rows, 0, lo, count, packed, 1));
  if (width) *width = w;
done:
  h5_close(&type);
  free(packed);
  return st;
}
