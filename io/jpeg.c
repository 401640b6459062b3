/* JPEG decoding and encoding with the TurboJPEG API (Debian libturbojpeg0-dev 2.1). */
#include "io/jpeg.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <turbojpeg.h>

struct jpeg_codec {
  tjhandle dec, enc;
  tjscalingfactor *factors; /* owned by the library */
  int nfactors;
  unsigned char *file; /* the compressed file */
  size_t file_cap;
  unsigned char *pix; /* decoded pixels (CMYK needs 4 bytes a pixel) */
  size_t pix_cap;
  unsigned char *rgb; /* RGB after a CMYK conversion */
  size_t rgb_cap;
};

const char *jpeg_defect_name(jpeg_defect d)
{
  switch (d) {
  case JPEG_OK: return "ok";
  case JPEG_UNREADABLE: return "unreadable";
  case JPEG_NOT_JPEG: return "not a JPEG";
  case JPEG_TOO_LARGE: return "too large";
  case JPEG_CORRUPT: return "corrupt";
  case JPEG_DAMAGED: return "damaged";
  }
  return "?";
}

ma_status jpeg_codec_new(jpeg_codec **out)
{
  jpeg_codec *c = calloc(1, sizeof *c);
  *out = NULL;
  if (!c) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  c->dec = tjInitDecompress();
  c->enc = tjInitCompress();
  c->factors = tjGetScalingFactors(&c->nfactors);
  if (!c->dec || !c->enc || !c->factors || c->nfactors < 1) {
    jpeg_codec_free(&c);
    return ma_fail(MA_ERR_RUNTIME, "cannot start the TurboJPEG codec: %s", tjGetErrorStr2(NULL));
  }
  *out = c;
  return MA_OK;
}

void jpeg_codec_free(jpeg_codec **pc)
{
  jpeg_codec *c = *pc;
  if (!c) return;
  if (c->dec) tjDestroy(c->dec);
  if (c->enc) tjDestroy(c->enc);
  free(c->file);
  free(c->pix);
  free(c->rgb);
  free(c);
  *pc = NULL;
}

/* Grows *buf to at least need bytes. */
static ma_status reserve(unsigned char **buf, size_t *cap, size_t need)
{
  if (need <= *cap) return MA_OK;
  unsigned char *grown = realloc(*buf, need);
  if (!grown) return ma_fail(MA_ERR_RUNTIME, "out of memory allocating %zu bytes for an image", need);
  *buf = grown;
  *cap = need;
  return MA_OK;
}

/* Reads the whole file into c->file; *defect says why not. */
static ma_status read_file(jpeg_codec *c, const char *path, const jpeg_limits *lim, size_t *size, jpeg_defect *defect,
                           char *detail, size_t len)
{
  struct stat sb;
  ma_status st = MA_OK;
  int fd = open(path, O_RDONLY);
  if (fd < 0 || fstat(fd, &sb) != 0) {
    *defect = JPEG_UNREADABLE;
    snprintf(detail, len, "cannot read: %s", strerror(errno));
  } else if (!S_ISREG(sb.st_mode)) {
    *defect = JPEG_UNREADABLE;
    snprintf(detail, len, "not a regular file");
  } else if (sb.st_size == 0) {
    *defect = JPEG_NOT_JPEG;
    snprintf(detail, len, "empty file");
  } else if ((int64_t)sb.st_size > lim->max_file_bytes) {
    *defect = JPEG_TOO_LARGE;
    snprintf(detail, len, "file of %lld bytes exceeds the limit of %lld", (long long)sb.st_size,
             (long long)lim->max_file_bytes);
  } else if ((st = reserve(&c->file, &c->file_cap, (size_t)sb.st_size)) == MA_OK) {
    size_t got = 0;
    int err = 0;
    while (got < (size_t)sb.st_size) {
      ssize_t r = read(fd, c->file + got, (size_t)sb.st_size - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) err = errno;
      if (r <= 0) break;
      got += (size_t)r;
    }
    if (got < (size_t)sb.st_size) {
      *defect = JPEG_UNREADABLE;
      snprintf(detail, len, "cannot read: %s", err ? strerror(err) : "the file shrank while it was read");
    }
    *size = got;
  }
  if (fd >= 0) close(fd);
  return st;
}

/* The smallest scaling factor <= 1 whose decoded sides are both >= min_side; 1/1 when none is. */
static tjscalingfactor pick_scale(const jpeg_codec *c, int w, int h, int min_side)
{
  tjscalingfactor best = {1, 1};
  for (int i = 0; i < c->nfactors; i++) {
    tjscalingfactor f = c->factors[i];
    if (f.num > f.denom) continue;
    if (TJSCALED(w, f) < min_side || TJSCALED(h, f) < min_side) continue;
    if ((int64_t)f.num * best.denom < (int64_t)best.num * f.denom) best = f;
  }
  return best;
}

ma_status jpeg_decode_file(jpeg_codec *c, const char *path, const jpeg_limits *lim, img_rgb *img, int *full_w,
                           int *full_h, jpeg_defect *defect, char *detail, size_t detail_len)
{
  size_t size = 0;
  int w = 0, h = 0, subsamp, colorspace;
  *defect = JPEG_OK;
  detail[0] = '\0';
  memset(img, 0, sizeof *img);
  MA_CALL(read_file(c, path, lim, &size, defect, detail, detail_len));
  if (*defect != JPEG_OK) return MA_OK;
  if (size < 3 || c->file[0] != 0xFF || c->file[1] != 0xD8 || c->file[2] != 0xFF) {
    *defect = JPEG_NOT_JPEG;
    snprintf(detail, detail_len, "no JPEG start-of-image marker (first bytes %02x %02x)", c->file[0],
             size > 1 ? c->file[1] : 0);
    return MA_OK;
  }
  if (tjDecompressHeader3(c->dec, c->file, (unsigned long)size, &w, &h, &subsamp, &colorspace) != 0) {
    *defect = JPEG_CORRUPT;
    snprintf(detail, detail_len, "bad header: %s", tjGetErrorStr2(c->dec));
    return MA_OK;
  }
  if (w < 1 || h < 1) { /* TurboJPEG 2.1 accepts a tables-only stream and leaves the size unset */
    *defect = JPEG_CORRUPT;
    snprintf(detail, detail_len, "no image frame in the data");
    return MA_OK;
  }
  tjscalingfactor f = pick_scale(c, w, h, lim->min_side);
  int sw = TJSCALED(w, f), sh = TJSCALED(h, f);
  int64_t pixels = (int64_t)sw * sh;
  if (pixels > lim->max_pixels) {
    *defect = JPEG_TOO_LARGE;
    snprintf(detail, detail_len, "%d x %d decodes to %d x %d at least, over the limit of %lld pixels", w, h, sw, sh,
             (long long)lim->max_pixels);
    return MA_OK;
  }
  int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  MA_CALL(reserve(&c->pix, &c->pix_cap, (size_t)pixels * (cmyk ? 4 : 3)));
  /* LIMITSCANS: a progressive file with hundreds of scans (a known denial of service) fails instead */
  if (tjDecompress2(c->dec, c->file, (unsigned long)size, c->pix, sw, 0, sh, cmyk ? TJPF_CMYK : TJPF_RGB,
                    TJFLAG_LIMITSCANS) != 0) {
    int warning = tjGetErrorCode(c->dec) == TJERR_WARNING;
    if (!warning || !lim->accept_warnings) {
      *defect = warning ? JPEG_DAMAGED : JPEG_CORRUPT;
      snprintf(detail, detail_len, "%s", tjGetErrorStr2(c->dec));
      return MA_OK;
    }
  }
  unsigned char *rgb = c->pix;
  if (cmyk) {
    MA_CALL(reserve(&c->rgb, &c->rgb_cap, (size_t)pixels * 3));
    img_cmyk_to_rgb(c->pix, pixels, c->rgb);
    rgb = c->rgb;
  }
  *img = (img_rgb){.w = sw, .h = sh, .px = rgb};
  if (full_w) *full_w = w;
  if (full_h) *full_h = h;
  return MA_OK;
}

ma_status jpeg_encode_file(jpeg_codec *c, const img_rgb *img, int quality, const char *path)
{
  unsigned char *buf = NULL;
  unsigned long size = 0;
  if (tjCompress2(c->enc, img->px, img->w, 0, img->h, TJPF_RGB, &buf, &size, TJSAMP_420, quality, 0) != 0) {
    tjFree(buf);
    return ma_fail(MA_ERR_RUNTIME, "%s: JPEG encoding failed: %s", path, tjGetErrorStr2(c->enc));
  }
  ma_status st = MA_OK;
  FILE *f = fopen(path, "wb");
  if (!f) st = ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno));
  else {
    size_t put = fwrite(buf, 1, size, f);
    if (fclose(f) != 0 || put != size) st = ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno));
  }
  tjFree(buf);
  return st;
}
