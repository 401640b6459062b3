/* Contact sheets: image paths by id, thumbnails, one JPEG per page. */
#include "io/sheet.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5in.h"
#include "io/h5util.h"
#include "io/jpeg.h"
#include "kernels/image.h"

enum { SCAN_ROWS = 1 << 20 };

static int cmp_i64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static int64_t find_id(const sheet_paths *p, int64_t id)
{
  int64_t lo = 0, hi = p->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (p->ids[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < p->n && p->ids[lo] == id ? lo : -1;
}

const char *sheet_paths_get(const sheet_paths *p, int64_t id)
{
  int64_t i = find_id(p, id);
  return i < 0 ? NULL : p->paths[i];
}

void sheet_paths_free(sheet_paths *p)
{
  for (int64_t i = 0; p->paths && i < p->n; i++) free(p->paths[i]);
  free(p->paths);
  free(p->ids);
  *p = (sheet_paths){0};
}

/* The one file being scanned: its path dataset, the ids beside it, and a memory type for a string. */
typedef struct paths_file {
  const char *file, *dataset;
  hid_t f, d, ids, mtype;
  int vlen;
  size_t fixed_size;
  int64_t rows;
} paths_file;

static void paths_file_close(paths_file *pf)
{
  h5_close(&pf->mtype);
  h5_close(&pf->ids);
  h5_close(&pf->d);
  h5_close(&pf->f);
}

static int64_t dset_rows(hid_t d, int *rank)
{
  hsize_t dims[2] = {0, 0};
  hid_t s = H5Dget_space(d);
  *rank = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
  if (*rank == 1) H5Sget_simple_extent_dims(s, dims, NULL);
  if (s >= 0) H5Sclose(s);
  return (int64_t)dims[0];
}

static ma_status paths_file_open(paths_file *pf)
{
  int rank;
  hid_t t = -1;
  ma_status st = MA_OK;
  pf->f = pf->d = pf->ids = pf->mtype = -1;
  if ((pf->f = H5Fopen(pf->file, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
    return h5_fail(MA_ERR_DATA, "cannot open the image paths file %s", pf->file);
  if (H5Lexists(pf->f, pf->dataset, H5P_DEFAULT) <= 0 || (pf->d = H5Dopen2(pf->f, pf->dataset, H5P_DEFAULT)) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return ma_fail(MA_ERR_DATA, "%s: no dataset %s (image paths: a string per row, as embed writes)", pf->file,
                   pf->dataset);
  }
  pf->rows = dset_rows(pf->d, &rank);
  if ((t = H5Dget_type(pf->d)) < 0) return h5_fail(MA_ERR_DATA, "%s:%s: cannot read its type", pf->file, pf->dataset);
  if (rank != 1 || H5Tget_class(t) != H5T_STRING) {
    st = ma_fail(MA_ERR_DATA, "%s:%s is not a 1-D dataset of strings (image paths)", pf->file, pf->dataset);
    goto done;
  }
  pf->vlen = H5Tis_variable_str(t) > 0;
  pf->fixed_size = H5Tget_size(t);
  MA_H5_TRY(pf->mtype = H5Tcopy(H5T_C_S1));
  MA_H5_TRY(H5Tset_size(pf->mtype, pf->vlen ? H5T_VARIABLE : pf->fixed_size + 1));
  MA_H5_TRY(H5Tset_cset(pf->mtype, H5Tget_cset(t)));
  if (!pf->vlen) MA_H5_TRY(H5Tset_strpad(pf->mtype, H5T_STR_NULLTERM));

  /* "/a/paths" -> "/a/ids" */
  const char *slash = strrchr(pf->dataset, '/');
  char ids_name[1024];
  snprintf(ids_name, sizeof ids_name, "%.*sids", slash ? (int)(slash - pf->dataset) + 1 : 0, pf->dataset);
  if (H5Lexists(pf->f, ids_name, H5P_DEFAULT) > 0 && (pf->ids = H5Dopen2(pf->f, ids_name, H5P_DEFAULT)) >= 0) {
    hid_t it = H5Dget_type(pf->ids);
    int ok = it >= 0 && H5Tget_class(it) == H5T_INTEGER;
    if (it >= 0) H5Tclose(it);
    if (!ok || dset_rows(pf->ids, &rank) != pf->rows || rank != 1)
      st = ma_fail(MA_ERR_DATA, "%s:%s must be 1-D integers, one per entry of %s (%lld)", pf->file, ids_name,
                   pf->dataset, (long long)pf->rows);
  }
  H5Eclear2(H5E_DEFAULT);
done:
  h5_close(&t);
  return st;
}

static ma_status read_rows(const paths_file *pf, hid_t d, const char *name, hid_t mtype, int64_t lo, int64_t count,
                           void *buf)
{
  hsize_t start = (hsize_t)lo, cnt = (hsize_t)count;
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(1, &cnt, NULL);
  herr_t e = fs < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &cnt, NULL);
  if (e >= 0) e = H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return e < 0 ? h5_fail(MA_ERR_DATA, "%s:%s: cannot read rows %lld..%lld", pf->file, name, (long long)lo,
                         (long long)(lo + count - 1))
               : MA_OK;
}

/* The path at row, made relative to root; NULL in *out when the entry is empty. */
static ma_status read_path(const paths_file *pf, int64_t row, const char *root, char **out)
{
  ma_status st = MA_OK;
  char *fixed = NULL, *vl = NULL;
  const char *s;
  *out = NULL;
  if (pf->vlen) {
    MA_TRY(read_rows(pf, pf->d, pf->dataset, pf->mtype, row, 1, &vl));
    s = vl ? vl : "";
  } else {
    MA_ALLOC(fixed, pf->fixed_size + 2);
    MA_TRY(read_rows(pf, pf->d, pf->dataset, pf->mtype, row, 1, fixed));
    s = fixed;
  }
  if (s[0]) {
    size_t lr = root && s[0] != '/' ? strlen(root) : 0, ls = strlen(s);
    MA_ALLOC(*out, lr + ls + 2);
    if (lr) snprintf(*out, lr + ls + 2, "%s/%s", root, s);
    else memcpy(*out, s, ls);
  }
done:
  if (pf->vlen && vl) {
    hsize_t one = 1;
    hid_t ms = H5Screate_simple(1, &one, NULL);
    H5Dvlen_reclaim(pf->mtype, ms, H5P_DEFAULT, &vl);
    H5Sclose(ms);
  }
  free(fixed);
  return st;
}

/* Gives every asked-for id listed in this file its path. *row0 counts rows across files. */
static ma_status scan_file(paths_file *pf, const char *root, sheet_paths *p, int64_t *row0)
{
  ma_status st = MA_OK;
  int64_t *ids = NULL;
  MA_ALLOC(ids, pf->rows < SCAN_ROWS ? pf->rows + 1 : SCAN_ROWS);
  for (int64_t lo = 0; lo < pf->rows && p->found < p->n; lo += SCAN_ROWS) {
    int64_t count = pf->rows - lo < SCAN_ROWS ? pf->rows - lo : SCAN_ROWS;
    if (pf->ids >= 0) {
      MA_TRY(read_rows(pf, pf->ids, "ids", H5T_NATIVE_INT64, lo, count, ids));
    } else {
      for (int64_t j = 0; j < count; j++) ids[j] = *row0 + lo + j;
    }
    for (int64_t j = 0; j < count; j++) {
      int64_t i = find_id(p, ids[j]);
      if (i < 0 || p->paths[i]) continue;
      MA_TRY(read_path(pf, lo + j, root, &p->paths[i]));
      p->found += p->paths[i] != NULL;
    }
  }
  *row0 += pf->rows;
done:
  free(ids);
  return st;
}

ma_status sheet_paths_lookup(char *const *specs, int nspecs, const char *root, const int64_t *ids, int64_t nids,
                             sheet_paths *out)
{
  ma_status st = MA_OK;
  int64_t row0 = 0;
  *out = (sheet_paths){0};
  MA_ALLOC(out->ids, nids);
  if (nids) memcpy(out->ids, ids, (size_t)nids * sizeof *ids);
  qsort(out->ids, (size_t)nids, sizeof *ids, cmp_i64);
  for (int64_t i = 0; i < nids; i++)
    if (out->n == 0 || out->ids[i] != out->ids[out->n - 1]) out->ids[out->n++] = out->ids[i];
  MA_ALLOC(out->paths, out->n);
  for (int i = 0; i < nspecs && out->found < out->n; i++) {
    char *file = NULL, *dataset = NULL;
    MA_TRY(h5in_split_spec(specs[i], &file, &dataset));
    paths_file pf = {.file = file, .dataset = strstr(specs[i], ":/") ? dataset : "/paths"};
    st = paths_file_open(&pf);
    if (st == MA_OK) st = scan_file(&pf, root, out, &row0);
    paths_file_close(&pf);
    free(file);
    free(dataset);
    if (st != MA_OK) goto done;
  }
done:
  if (st != MA_OK) sheet_paths_free(out);
  return st;
}

const char *sheet_tile_state_name(sheet_tile_state s)
{
  switch (s) {
  case SHEET_PICTURE: return "";
  case SHEET_NO_PATH: return "no image path";
  case SHEET_MISSING: return "file missing";
  case SHEET_UNDECODABLE: return "not a readable JPEG";
  }
  return "";
}

struct sheet {
  int cols, rows, px;
  img_rgb img;
  jpeg_codec *codec;
};

ma_status sheet_new(int cols, int rows, int px, sheet **out)
{
  ma_status st = MA_OK;
  sheet *s = NULL;
  *out = NULL;
  MA_ALLOC(s, 1);
  s->cols = cols;
  s->rows = rows;
  s->px = px;
  MA_TRY(img_alloc(&s->img, cols * px, rows * px));
  img_fill(&s->img, (img_colour){246, 246, 244});
  MA_TRY(jpeg_codec_new(&s->codec));
  *out = s;
  s = NULL;
done:
  sheet_free(&s);
  return st;
}

void sheet_free(sheet **s)
{
  if (!*s) return;
  img_free(&(*s)->img);
  jpeg_codec_free(&(*s)->codec);
  free(*s);
  *s = NULL;
}

static uint8_t *tile_px(sheet *s, int col, int row, int x, int y)
{
  return s->img.px + (((size_t)row * s->px + (size_t)y) * (size_t)s->img.w + (size_t)col * s->px + (size_t)x) * 3;
}

/* Grey with a darker cross: clearly "no picture here", unlike the dark letterbox of a real one. */
static void placeholder(sheet *s, int col, int row)
{
  int n = s->px;
  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++) {
      int line = abs(x - y) <= 1 || abs(x + y - (n - 1)) <= 1;
      uint8_t v = line ? 112 : 150, *p = tile_px(s, col, row, x, y);
      p[0] = p[1] = p[2] = v;
    }
}

ma_status sheet_put(sheet *s, int col, int row, const char *path, sheet_tile_state *state)
{
  ma_status st = MA_OK;
  img_rgb src, small = {0};
  jpeg_defect defect = JPEG_OK;
  char detail[256];
  if (!path) {
    *state = SHEET_NO_PATH;
    placeholder(s, col, row);
    return MA_OK;
  }
  jpeg_limits lim = {.min_side = s->px, .max_file_bytes = (int64_t)256 << 20, .max_pixels = (int64_t)64 << 20,
                     .accept_warnings = 1};
  MA_CALL(jpeg_decode_file(s->codec, path, &lim, &src, NULL, NULL, &defect, detail, sizeof detail));
  if (defect != JPEG_OK) {
    *state = defect == JPEG_UNREADABLE ? SHEET_MISSING : SHEET_UNDECODABLE;
    placeholder(s, col, row);
    /* A fresh decoder: libjpeg-turbo 2.1's, once it failed on a header, fails the next file too. */
    jpeg_codec_free(&s->codec);
    return jpeg_codec_new(&s->codec);
  }
  int n = s->px, tw = n, th = n;
  if (src.w >= src.h) th = (int)(((int64_t)src.h * n + src.w / 2) / src.w);
  else tw = (int)(((int64_t)src.w * n + src.h / 2) / src.h);
  tw = tw < 1 ? 1 : tw;
  th = th < 1 ? 1 : th;
  MA_TRY(img_resize_area(&src, tw, th, &small));
  int x0 = (n - tw) / 2, y0 = (n - th) / 2;
  for (int y = 0; y < n; y++) {
    uint8_t *p = tile_px(s, col, row, 0, y);
    for (int x = 0; x < n; x++, p += 3) {
      if (y >= y0 && y < y0 + th && x >= x0 && x < x0 + tw)
        memcpy(p, small.px + ((size_t)(y - y0) * tw + (x - x0)) * 3, 3);
      else
        p[0] = p[1] = p[2] = 40;
    }
  }
  *state = SHEET_PICTURE;
done:
  img_free(&small);
  return st;
}

ma_status sheet_write(sheet *s, const char *path) { return jpeg_encode_file(s->codec, &s->img, 85, path); }
