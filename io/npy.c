/* NumPy .npy files: header parsing and checks, parallel body reads (see io/npy.h). */
#include "io/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mpi/comm.h"

/* numpy refuses headers above 10000 bytes unless told otherwise; a megabyte is beyond any real one. */
#define NPY_HEADER_MAX ((size_t)1 << 20)

int npy_magic(const unsigned char *buf, size_t n)
{
  return n >= 6 && !memcmp(buf, "\x93NUMPY", 6);
}

/* A small reader for the Python dict literal numpy writes: {'descr': '<f4', 'fortran_order': False,
 * 'shape': (100, 16), } */
typedef struct {
  const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static int eat(cursor *c, char ch)
{
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 1;
  }
  return 0;
}

/* A quoted string into buf (truncated to size - 1); 0 when there is none. */
static int string(cursor *c, char *buf, size_t size)
{
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return 0;
  char q = *c->p++;
  size_t n = 0;
  while (c->p < c->end && *c->p != q) {
    if (n + 1 < size) buf[n++] = *c->p;
    c->p++;
  }
  buf[n] = '\0';
  if (c->p >= c->end) return 0;
  c->p++;
  return 1;
}

static int word(cursor *c, const char *w)
{
  size_t n = strlen(w);
  skip_ws(c);
  if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, w, n)) {
    c->p += n;
    return 1;
  }
  return 0;
}

/* A tuple of non-negative integers, "(3, 4)", "(3,)" or "()"; *nd gets its length (at most 8 kept). */
static int tuple(cursor *c, int64_t *dims, int *nd)
{
  *nd = 0;
  if (!eat(c, '(')) return 0;
  for (;;) {
    if (eat(c, ')')) return 1;
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9') return 0;
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (v > (INT64_MAX - 9) / 10) return 0;
      v = v * 10 + (*c->p++ - '0');
    }
    if (c->p < c->end && *c->p == 'L') c->p++; /* written by Python 2 */
    if (*nd < 8) dims[*nd] = v;
    (*nd)++;
    if (!eat(c, ',')) return eat(c, ')');
  }
}

ma_status npy_parse(const char *path, const unsigned char *buf, size_t n, npy_header *h)
{
  memset(h, 0, sizeof *h);
  if (!npy_magic(buf, n) || n < 10) return ma_fail(MA_ERR_DATA, "%s: truncated .npy header", path);
  h->major = buf[6];
  h->minor = buf[7];
  size_t prelude, hlen;
  if (h->major == 1 && h->minor == 0) {
    prelude = 10;
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
  } else if ((h->major == 2 || h->major == 3) && h->minor == 0) {
    if (n < 12) return ma_fail(MA_ERR_DATA, "%s: truncated .npy header", path);
    prelude = 12;
    hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
  } else {
    return ma_fail(MA_ERR_DATA, "%s: .npy format version %d.%d; expected 1.0, 2.0 or 3.0", path, h->major, h->minor);
  }
  if (hlen > NPY_HEADER_MAX) return ma_fail(MA_ERR_DATA, "%s: .npy header of %zu bytes is not plausible", path, hlen);
  if (n < prelude + hlen) return ma_fail(MA_ERR_DATA, "%s: truncated .npy header", path);
  h->body = (int64_t)(prelude + hlen);

  cursor c = {(const char *)buf + prelude, (const char *)buf + prelude + hlen};
  char key[64], descr[64];
  int have_descr = 0, have_order = 0, have_shape = 0, fortran = 0, nd = 0;
  int64_t dims[8] = {0};
  if (!eat(&c, '{')) return ma_fail(MA_ERR_DATA, "%s: the .npy header is not a Python dict", path);
  while (!eat(&c, '}')) {
    if (!string(&c, key, sizeof key) || !eat(&c, ':'))
      return ma_fail(MA_ERR_DATA, "%s: the .npy header is not a Python dict", path);
    if (!strcmp(key, "descr")) {
      if (!string(&c, descr, sizeof descr))
        return ma_fail(MA_ERR_DATA, "%s: .npy dtype is structured; expected '<f2' (float16) or '<f4' (float32)", path);
      have_descr = 1;
    } else if (!strcmp(key, "fortran_order")) {
      if (word(&c, "True")) fortran = 1;
      else if (!word(&c, "False")) return ma_fail(MA_ERR_DATA, "%s: .npy fortran_order is not True or False", path);
      have_order = 1;
    } else if (!strcmp(key, "shape")) {
      if (!tuple(&c, dims, &nd)) return ma_fail(MA_ERR_DATA, "%s: .npy shape is not a tuple of integers", path);
      have_shape = 1;
    } else {
      return ma_fail(MA_ERR_DATA, "%s: .npy header has an unexpected key '%s'", path, key);
    }
    if (!eat(&c, ',')) {
      if (!eat(&c, '}')) return ma_fail(MA_ERR_DATA, "%s: the .npy header is not a Python dict", path);
      break;
    }
  }
  if (!have_descr || !have_order || !have_shape)
    return ma_fail(MA_ERR_DATA, "%s: .npy header lacks '%s'", path,
                   !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
  if (!strcmp(descr, "<f2")) h->esize = 2;
  else if (!strcmp(descr, "<f4")) h->esize = 4;
  else return ma_fail(MA_ERR_DATA, "%s: .npy dtype '%s'; expected '<f2' (float16) or '<f4' (float32)", path, descr);
  if (nd != 2) return ma_fail(MA_ERR_DATA, "%s: .npy array is %d-D; expected 2-D (rows x dimensions)", path, nd);
  if (fortran)
    return ma_fail(MA_ERR_DATA, "%s: .npy array is in Fortran order; expected C order (save np.ascontiguousarray(x))", path);
  h->rows = dims[0];
  h->cols = dims[1];
  return MA_OK;
}

int npy_is_npy(const char *path)
{
  unsigned char buf[6];
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  return npy_magic(buf, n);
}

ma_status npy_probe(const char *path, npy_header *h)
{
  ma_status st = MA_OK;
  unsigned char pre[12], *buf = NULL;
  struct stat sb;
  FILE *f = fopen(path, "rb");
  if (!f || fstat(fileno(f), &sb) != 0) {
    st = ma_fail(MA_ERR_DATA, "%s: cannot read: %s", path, strerror(errno));
    goto done;
  }
  size_t n = fread(pre, 1, sizeof pre, f), hlen = 0;
  if (n >= 10) hlen = pre[6] == 1 ? ((size_t)pre[8] | (size_t)pre[9] << 8) + 10
                                  : n == 12 ? ((size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
                                               (size_t)pre[11] << 24) + 12 : 0;
  if (hlen > NPY_HEADER_MAX + 12 || hlen < n) hlen = n; /* npy_parse says what is wrong */
  MA_ALLOC(buf, hlen + 1);
  memcpy(buf, pre, n);
  n += fread(buf + n, 1, hlen - n, f);
  MA_TRY(npy_parse(path, buf, n, h));
  if (h->rows > 0 && h->cols > INT64_MAX / h->esize / h->rows) {
    st = ma_fail(MA_ERR_DATA, "%s: .npy shape (%lld, %lld) is not plausible", path, (long long)h->rows, (long long)h->cols);
    goto done;
  }
  int64_t want = h->rows * h->cols * h->esize, have = (int64_t)sb.st_size - h->body;
  if (have < want)
    st = ma_fail(MA_ERR_DATA, "%s: truncated: the .npy header says %lld x %lld %s (%lld bytes) but the body holds %lld",
                 path, (long long)h->rows, (long long)h->cols, h->esize == 2 ? "float16" : "float32", (long long)want,
                 (long long)have);
  else if (have > want)
    st = ma_fail(MA_ERR_DATA, "%s: the .npy header says %lld x %lld %s (%lld bytes) but the body holds %lld: "
                 "the header does not match the data", path, (long long)h->rows, (long long)h->cols,
                 h->esize == 2 ? "float16" : "float32", (long long)want, (long long)have);
done:
  free(buf);
  if (f) fclose(f);
  return st;
}

ma_status npy_read_rows(MPI_Comm comm, const char *path, int64_t body, int64_t rowbytes, int64_t a, int64_t b,
                        int64_t piece_rows, void *out)
{
  ma_status st = MA_OK;
  MPI_File fh = MPI_FILE_NULL;
  int64_t npieces = (b - a + piece_rows - 1) / piece_rows, most, short_at = -1;
  MA_CALL(mpi_max_i64(comm, npieces, &most));
  MA_CALL(mpi_check_int(piece_rows * rowbytes, "bytes per .npy read"));
  int rc = MPI_File_open(comm, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &fh);
  if (rc != MPI_SUCCESS) return ma_fail(MA_ERR_RUNTIME, "%s: parallel open failed", path);
  for (int64_t p = 0; p < most; p++) {
    int64_t r0 = a + p * piece_rows, r1 = r0 + piece_rows < b ? r0 + piece_rows : b;
    int64_t m = r1 > r0 ? r1 - r0 : 0;
    MPI_Status status;
    int got = 0;
    char *dst = (char *)out + (m ? (r0 - a) * rowbytes : 0);
    MA_MPI_TRY(MPI_File_read_at_all(fh, (MPI_Offset)(body + (m ? r0 : 0) * rowbytes), dst, (int)(m * rowbytes),
                                    MPI_BYTE, &status));
    MA_MPI_TRY(MPI_Get_count(&status, MPI_BYTE, &got));
    if (got != (int)(m * rowbytes) && short_at < 0) short_at = r0;
  }
  if (short_at >= 0)
    st = ma_fail(MA_ERR_DATA, "%s: reading rows from %lld on came up short: the file changed or is truncated", path,
                 (long long)short_at);
done:
  if (fh != MPI_FILE_NULL) MPI_File_close(&fh);
  return st;
}
