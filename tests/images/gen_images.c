/* ma_gen_images: JPEG test images with known near-duplicate structure, for `memaudit embed`'s tests,
 * its invariance measurement and the demo, without shipping image data.
 *
 *   ma_gen_images -o DIR [--scenes S] [--hours H] [--size PX] [--distortions LIST] [--seed N]
 *
 * Scenes come in four families, by scene number mod 4: clock faces (one design per scene, drawn at H
 * hours: a family of near-duplicates that differ in what they show), random shape scenes, smooth
 * gradients, and pages of stroke "text". Each drawn image (an "original", saved at quality 90) is
 * decoded again, as a copy would be made from a published file, and distorted: re-encoded at quality
 * 30-50, resized to 1/2 and to 2x, cropped by 0-10% on each side, brightened (x1.2), darkened (x0.8),
 * watermarked (a text block or logo over 4-5% of the area). Writes DIR/img-NNNNNN.jpg, DIR/images.list
 * (one path a line, for embed --images @LIST) and DIR/truth.csv (index, path, family, scene, variant,
 * distortion, source index, parameters). Every image is a pure function of the seed and its place. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"
#include "io/jpeg.h"
#include "kernels/image.h"
#include "kernels/rng.h"

static const char usage[] =
    "usage: ma_gen_images -o DIR [options]\n\n"
    "Writes JPEG test images with known near-duplicate structure: DIR/img-NNNNNN.jpg, DIR/images.list and\n"
    "DIR/truth.csv (index,path,family,scene,variant,distortion,source,param).\n\n"
    "  -o, --output DIR        where to write (created if missing)\n"
    "      --scenes S          scenes (default 40): families clock, shapes, gradient, strokes by S mod 4\n"
    "      --hours H           hours drawn per clock design (default 12)\n"
    "      --size PX           typical width of an original (default 320; each scene varies it by +-20%)\n"
    "      --distortions LIST  comma-separated subset of reencode,half,double,crop,brighten,darken,\n"
    "                          watermark; 'all' (default) or 'none'\n"
    "      --seed N            every random choice follows from it (default 1)\n";

enum { FAMILY_CLOCK, FAMILY_SHAPES, FAMILY_GRADIENT, FAMILY_STROKES, FAMILIES };
static const char *const family_names[FAMILIES] = {"clock", "shapes", "gradient", "strokes"};

enum { D_REENCODE, D_HALF, D_DOUBLE, D_CROP, D_BRIGHTEN, D_DARKEN, D_WATERMARK, DISTORTIONS };
static const char *const distortion_names[DISTORTIONS] = {"reencode", "half",   "double",   "crop",
                                                          "brighten", "darken", "watermark"};

enum { ORIGINAL_QUALITY = 90, COPY_QUALITY = 85 };

/* Draws keyed by (seed, what, scene, variant): each use has its own sequence. */
enum { DRAW_SCENE = 1, DRAW_SIZE = 2, DRAW_DISTORT = 3, DRAW_GLYPHS = 4 };

typedef struct draws {
  uint64_t key, n;
} draws;

static draws draws_for(uint64_t seed, int what, int64_t scene, int64_t variant)
{
  return (draws){rng_hash(seed, (uint64_t)what, (uint64_t)scene * 4096 + (uint64_t)variant), 0};
}

static double uni(draws *d, double lo, double hi) { return lo + (hi - lo) * rng_uniform(d->key, 0, d->n++); }
static int below(draws *d, int n) { return (int)rng_below(d->key, 0, d->n++, n); }

static img_colour colour(draws *d, int lo, int hi)
{
  return (img_colour){(uint8_t)uni(d, lo, hi), (uint8_t)uni(d, lo, hi), (uint8_t)uni(d, lo, hi)};
}

/* A background: a linear gradient between two colours at a random angle. */
static void background(img_rgb *im, draws *d, int lo, int hi)
{
  double a = uni(d, 0, 2 * M_PI), cx = im->w / 2.0, cy = im->h / 2.0, r = hypot(im->w, im->h) / 2;
  img_colour c0 = colour(d, lo, hi), c1 = colour(d, lo, hi);
  img_linear_gradient(im, cx - r * cos(a), cy - r * sin(a), cx + r * cos(a), cy + r * sin(a), c0, c1);
}

/* A clock: everything but the hour hand follows the design; the hour hand shows `hour`. */
static void paint_clock(img_rgb *im, draws *d, int hour)
{
  double m = im->w < im->h ? im->w : im->h;
  background(im, d, 40, 200);
  double cx = im->w * uni(d, 0.35, 0.65), cy = im->h * uni(d, 0.35, 0.65), r = m * uni(d, 0.28, 0.42);
  int square = uni(d, 0, 1) < 0.3;
  img_colour face = colour(d, 170, 255), ink = colour(d, 0, 90), accent = colour(d, 60, 230);
  double rim = r * uni(d, 0.05, 0.12);
  if (square) {
    img_draw_rect(im, cx - r - rim, cy - r - rim, cx + r + rim, cy + r + rim, ink, 1);
    img_draw_rect(im, cx - r, cy - r, cx + r, cy + r, face, 1);
  } else {
    img_draw_disc(im, cx, cy, r, face, 1);
    img_draw_ring(im, cx, cy, r + rim / 2, rim, ink, 1);
  }
  double tick = r * uni(d, 0.08, 0.18), tick_w = r * uni(d, 0.025, 0.05);
  for (int t = 0; t < 12; t++) {
    double a = t * M_PI / 6, len = t % 3 == 0 ? 1.6 * tick : tick, r0 = r * 0.92 - len;
    img_draw_segment(im, cx + r0 * sin(a), cy - r0 * cos(a), cx + r * 0.92 * sin(a), cy - r * 0.92 * cos(a), tick_w,
                     ink, 1);
  }
  if (uni(d, 0, 1) < 0.5) img_draw_disc(im, cx, cy - r * 0.45, r * uni(d, 0.06, 0.12), accent, 1);
  double minute_len = r * uni(d, 0.7, 0.85), hour_len = r * uni(d, 0.45, 0.58);
  double minute_w = r * uni(d, 0.03, 0.06), hour_w = r * uni(d, 0.07, 0.11);
  double a = hour * M_PI / 6;
  img_draw_segment(im, cx, cy, cx, cy - minute_len, minute_w, ink, 1);
  img_draw_segment(im, cx, cy, cx + hour_len * sin(a), cy - hour_len * cos(a), hour_w, ink, 1);
  img_draw_disc(im, cx, cy, hour_w * 0.9, accent, 1);
}

static void paint_shapes(img_rgb *im, draws *d)
{
  double m = im->w < im->h ? im->w : im->h;
  background(im, d, 0, 256);
  int n = 3 + below(d, 6);
  for (int i = 0; i < n; i++) {
    img_colour c = colour(d, 0, 256);
    double x = im->w * uni(d, 0.05, 0.95), y = im->h * uni(d, 0.05, 0.95), s = m * uni(d, 0.08, 0.3);
    switch (below(d, 5)) {
    case 0: img_draw_disc(im, x, y, s, c, 1); break;
    case 1: img_draw_rect(im, x - s, y - s * uni(d, 0.4, 1), x + s, y + s * uni(d, 0.4, 1), c, 1); break;
    case 2: img_draw_ring(im, x, y, s, s * uni(d, 0.15, 0.4), c, 1); break;
    case 3: {
      double a = uni(d, 0, 2 * M_PI);
      img_draw_segment(im, x - s * cos(a), y - s * sin(a), x + s * cos(a), y + s * sin(a), s * uni(d, 0.15, 0.4), c, 1);
      break;
    }
    default: {
      double px[3], py[3];
      for (int k = 0; k < 3; k++) {
        double a = uni(d, 0, 2 * M_PI);
        px[k] = x + s * 1.3 * cos(a);
        py[k] = y + s * 1.3 * sin(a);
      }
      img_draw_triangle(im, px, py, c, 1);
    }
    }
  }
}

static void paint_gradient(img_rgb *im, draws *d)
{
  double diag = hypot(im->w, im->h);
  background(im, d, 0, 256);
  int n = 1 + below(d, 3);
  for (int i = 0; i < n; i++) {
    img_colour c = colour(d, 0, 256);
    img_radial_glow(im, im->w * uni(d, 0, 1), im->h * uni(d, 0, 1), diag * uni(d, 0.25, 0.7), c, uni(d, 0.5, 0.95));
  }
}

/* One glyph: 2-4 strokes between points of a 3 x 4 lattice in the cell. */
static void glyph(img_rgb *im, draws *d, double x, double y, double gw, double gh, double pen, img_colour ink, double alpha)
{
  int strokes = 2 + below(d, 3);
  for (int s = 0; s < strokes; s++) {
    int a = below(d, 12), b = below(d, 12);
    img_draw_segment(im, x + gw * (a % 3) / 2, y + gh * (a / 3) / 3, x + gw * (b % 3) / 2, y + gh * (b / 3) / 3, pen, ink,
                     alpha);
  }
}

/* Lines of words in [x0, x1) x [y0, y1), glyph height gh, line pitch gh * spacing. */
static void text_block(img_rgb *im, draws *d, double x0, double y0, double x1, double y1, double gh, double spacing,
                       img_colour ink, double alpha)
{
  double gw = gh * 0.55, pen = gh * 0.12 > 0.8 ? gh * 0.12 : 0.8;
  for (double y = y0; y + gh <= y1; y += gh * spacing) {
    if (uni(d, 0, 1) < 0.12) continue; /* a paragraph break */
    double x = x0 + (uni(d, 0, 1) < 0.2 ? gw * 3 : 0), end = x1 - (x1 - x0) * uni(d, 0, 0.25);
    while (x + gw <= end) {
      int letters = 2 + below(d, 8);
      for (int k = 0; k < letters && x + gw <= end; k++, x += gw * 1.25) glyph(im, d, x, y, gw, gh, pen, ink, alpha);
      x += gw * 1.2;
    }
  }
}

static void paint_strokes(img_rgb *im, draws *d)
{
  img_colour paper = colour(d, 215, 256), ink = colour(d, 0, 80);
  img_fill(im, paper);
  double gh = im->h * uni(d, 0.03, 0.06), top = im->h * uni(d, 0.04, 0.12), left = im->w * uni(d, 0.05, 0.15);
  double right = im->w * (1 - uni(d, 0.05, 0.15)), bottom = im->h * (1 - uni(d, 0.04, 0.12));
  if (uni(d, 0, 1) < 0.6) { /* a heading */
    text_block(im, d, left, top, left + (right - left) * uni(d, 0.3, 0.9), top + gh * 2.2, gh * 2, 1.5, ink, 1);
    top += gh * 3.5;
  }
  text_block(im, d, left, top, right, bottom, gh, uni(d, 1.4, 2.2), ink, 1);
  if (uni(d, 0, 1) < 0.5) { /* a figure over part of the page */
    double fw = (right - left) * uni(d, 0.3, 0.6), fh = (bottom - top) * uni(d, 0.2, 0.4);
    double fx = left + (right - left - fw) * uni(d, 0, 1), fy = top + (bottom - top - fh) * uni(d, 0, 1);
    img_draw_rect(im, fx, fy, fx + fw, fy + fh, colour(d, 30, 230), 1);
    img_draw_disc(im, fx + fw * uni(d, 0.2, 0.8), fy + fh * uni(d, 0.2, 0.8), fh * uni(d, 0.15, 0.4), colour(d, 0, 256), 1);
  }
}

/* A watermark over 4-5% of the area in a random corner: a translucent box with a line of stroke text,
 * or an opaque ring-and-bar logo. */
static void watermark(img_rgb *im, draws *d, char *param, size_t len)
{
  double area = im->w * (double)im->h * uni(d, 0.04, 0.05), bw = im->w * uni(d, 0.25, 0.4), bh = area / bw;
  if (bh > im->h * 0.5) bh = im->h * 0.5;
  int corner = below(d, 4);
  double mx = im->w * 0.02, my = im->h * 0.02;
  double x0 = corner & 1 ? im->w - mx - bw : mx, y0 = corner & 2 ? im->h - my - bh : my;
  img_colour white = {255, 255, 255}, dark = {20, 20, 20};
  if (uni(d, 0, 1) < 0.5) {
    img_draw_rect(im, x0, y0, x0 + bw, y0 + bh, white, 0.6);
    double gh = bh * 0.5;
    text_block(im, d, x0 + bw * 0.05, y0 + (bh - gh) / 2, x0 + bw * 0.95, y0 + (bh + gh) / 2 + 1, gh, 10, dark, 1);
    snprintf(param, len, "text %.0fx%.0f at %.0f;%.0f", bw, bh, x0, y0);
  } else {
    double r = bh * 0.45;
    img_draw_ring(im, x0 + r + 1, y0 + bh / 2, r * 0.8, r * 0.3, white, 0.9);
    img_draw_rect(im, x0 + 2.4 * r, y0 + bh * 0.3, x0 + bw, y0 + bh * 0.7, white, 0.9);
    snprintf(param, len, "logo %.0fx%.0f at %.0f;%.0f", bw, bh, x0, y0);
  }
}

/* The distorted copy k of the decoded original src, into dst (allocated); *quality is the JPEG
 * quality to save it at. */
static ma_status distort(const img_rgb *src, int k, draws *d, img_rgb *dst, int *quality, char *param, size_t len)
{
  *quality = COPY_QUALITY;
  param[0] = '\0';
  switch (k) {
  case D_REENCODE:
    *quality = 30 + below(d, 21);
    snprintf(param, len, "quality %d", *quality);
    return img_crop(src, 0, 0, src->w, src->h, dst);
  case D_HALF: return img_resize_area(src, (src->w + 1) / 2, (src->h + 1) / 2, dst);
  case D_DOUBLE: return img_resize_area(src, src->w * 2, src->h * 2, dst);
  case D_CROP: {
    double l = uni(d, 0, 0.1), t = uni(d, 0, 0.1), r = uni(d, 0, 0.1), b = uni(d, 0, 0.1);
    int x0 = (int)lround(l * src->w), y0 = (int)lround(t * src->h);
    int w = src->w - x0 - (int)lround(r * src->w), h = src->h - y0 - (int)lround(b * src->h);
    snprintf(param, len, "left %.3f top %.3f right %.3f bottom %.3f", l, t, r, b);
    return img_crop(src, x0, y0, w, h, dst);
  }
  case D_BRIGHTEN:
  case D_DARKEN:
    MA_CALL(img_crop(src, 0, 0, src->w, src->h, dst));
    img_scale_brightness(dst, k == D_BRIGHTEN ? 1.2 : 0.8);
    snprintf(param, len, "factor %.1f", k == D_BRIGHTEN ? 1.2 : 0.8);
    return MA_OK;
  default:
    MA_CALL(img_crop(src, 0, 0, src->w, src->h, dst));
    watermark(dst, d, param, len);
    return MA_OK;
  }
}

typedef struct gen_cfg {
  const char *dir;
  int64_t scenes, hours, size;
  uint64_t seed;
  int use[DISTORTIONS];
} gen_cfg;

typedef struct gen_out {
  jpeg_codec *codec;
  FILE *list, *truth;
  int64_t next;
} gen_out;

static ma_status save(gen_out *o, const gen_cfg *c, const img_rgb *im, int quality, int family, int64_t scene,
                      int64_t variant, const char *distortion, int64_t source, const char *param)
{
  char path[4200];
  snprintf(path, sizeof path, "%s/img-%06lld.jpg", c->dir, (long long)o->next);
  MA_CALL(jpeg_encode_file(o->codec, im, quality, path));
  if (fprintf(o->list, "%s\n", path) < 0 ||
      fprintf(o->truth, "%lld,%s,%s,%lld,%lld,%s,%lld,%s\n", (long long)o->next, path, family_names[family],
              (long long)scene, (long long)variant, distortion, (long long)source, param) < 0)
    return ma_fail(MA_ERR_RUNTIME, "cannot write the list or truth file in %s: %s", c->dir, strerror(errno));
  o->next++;
  return MA_OK;
}

/* One original (scene, variant) and its distorted copies. */
static ma_status make_original(gen_out *o, const gen_cfg *c, int64_t scene, int64_t variant)
{
  ma_status st = MA_OK;
  img_rgb im = {0}, copy = {0}, decoded;
  int family = (int)(scene % FAMILIES), quality;
  char path[4200], param[160], why[256];
  draws size = draws_for(c->seed, DRAW_SIZE, scene, 0), look = draws_for(c->seed, DRAW_SCENE, scene, 0);
  int w = (int)lround((double)c->size * uni(&size, 0.8, 1.2)), h = (int)lround(w * uni(&size, 0.7, 1.3));
  MA_TRY(img_alloc(&im, w, h));
  switch (family) {
  case FAMILY_CLOCK: paint_clock(&im, &look, (int)variant); break;
  case FAMILY_SHAPES: paint_shapes(&im, &look); break;
  case FAMILY_GRADIENT: paint_gradient(&im, &look); break;
  default: paint_strokes(&im, &look); break;
  }
  int64_t source = o->next;
  snprintf(path, sizeof path, "%s/img-%06lld.jpg", c->dir, (long long)source);
  MA_TRY(save(o, c, &im, ORIGINAL_QUALITY, family, scene, variant, "original", source, ""));
  /* copies are made from the published file, as they are in the wild */
  jpeg_limits full = {.min_side = 1 << 30, .max_file_bytes = INT64_MAX, .max_pixels = INT64_MAX};
  jpeg_defect defect;
  MA_TRY(jpeg_decode_file(o->codec, path, &full, &decoded, NULL, NULL, &defect, why, sizeof why));
  if (defect != JPEG_OK) MA_TRY(ma_fail(MA_ERR_RUNTIME, "%s: cannot decode what was just written: %s", path, why));
  img_free(&im);
  MA_TRY(img_crop(&decoded, 0, 0, decoded.w, decoded.h, &im)); /* own the pixels: the codec reuses its buffer */
  for (int k = 0; k < DISTORTIONS; k++) {
    if (!c->use[k]) continue;
    draws dd = draws_for(c->seed, DRAW_DISTORT, scene, variant * DISTORTIONS + k);
    MA_TRY(distort(&im, k, &dd, &copy, &quality, param, sizeof param));
    MA_TRY(save(o, c, &copy, quality, family, scene, variant, distortion_names[k], source, param));
    img_free(&copy);
  }
done:
  img_free(&copy);
  img_free(&im);
  return st;
}

static ma_status parse_distortions(const char *s, int *use)
{
  int all = !strcmp(s, "all");
  for (int k = 0; k < DISTORTIONS; k++) use[k] = all;
  if (all || !strcmp(s, "none")) return MA_OK;
  char *copy = strdup(s), *save = NULL;
  if (!copy) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  ma_status st = MA_OK;
  for (char *t = strtok_r(copy, ",", &save); t && st == MA_OK; t = strtok_r(NULL, ",", &save)) {
    int k = 0;
    while (k < DISTORTIONS && strcmp(t, distortion_names[k]) != 0) k++;
    if (k == DISTORTIONS) st = ma_fail(MA_ERR_USAGE, "--distortions: unknown distortion '%s'", t);
    else use[k] = 1;
  }
  free(copy);
  return st;
}

static ma_status parse_int(const char *s, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    return ma_fail(MA_ERR_USAGE, "%s takes a whole number from %lld to %lld, not '%s'", name, (long long)lo,
                   (long long)hi, s);
  *out = v;
  return MA_OK;
}

static ma_status parse(int argc, char **argv, gen_cfg *c, int *help)
{
  enum { O_SCENES = 1000, O_HOURS, O_SIZE, O_DIST, O_SEED };
  static const struct option longopts[] = {{"output", required_argument, 0, 'o'},   {"scenes", required_argument, 0, O_SCENES},
                                           {"hours", required_argument, 0, O_HOURS}, {"size", required_argument, 0, O_SIZE},
                                           {"distortions", required_argument, 0, O_DIST},
                                           {"seed", required_argument, 0, O_SEED},   {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
  int64_t v;
  int opt;
  *c = (gen_cfg){.scenes = 40, .hours = 12, .size = 320, .seed = 1};
  MA_CALL(parse_distortions("all", c->use));
  opterr = 0;
  while ((opt = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'o': c->dir = optarg; break;
    case O_SCENES: MA_CALL(parse_int(optarg, "--scenes", 1, 1 << 20, &c->scenes)); break;
    case O_HOURS: MA_CALL(parse_int(optarg, "--hours", 1, 12, &c->hours)); break;
    case O_SIZE: MA_CALL(parse_int(optarg, "--size", 16, 16384, &c->size)); break;
    case O_DIST: MA_CALL(parse_distortions(optarg, c->use)); break;
    case O_SEED: MA_CALL(parse_int(optarg, "--seed", 0, INT64_MAX, &v)); c->seed = (uint64_t)v; break;
    case 'h': *help = 1; return MA_OK;
    default: return ma_fail(MA_ERR_USAGE, "unknown option or missing value: %s (see --help)", argv[optind - 1]);
    }
  }
  if (optind < argc) return ma_fail(MA_ERR_USAGE, "unexpected argument '%s'", argv[optind]);
  if (!c->dir) return ma_fail(MA_ERR_USAGE, "needs -o DIR");
  return MA_OK;
}

static ma_status run(const gen_cfg *c)
{
  ma_status st = MA_OK;
  gen_out o = {0};
  char path[4200];
  if (mkdir(c->dir, 0777) != 0 && errno != EEXIST) return ma_fail(MA_ERR_RUNTIME, "cannot create %s: %s", c->dir, strerror(errno));
  MA_TRY(jpeg_codec_new(&o.codec));
  snprintf(path, sizeof path, "%s/images.list", c->dir);
  if (!(o.list = fopen(path, "w"))) MA_TRY(ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno)));
  snprintf(path, sizeof path, "%s/truth.csv", c->dir);
  if (!(o.truth = fopen(path, "w"))) MA_TRY(ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno)));
  fprintf(o.truth, "index,path,family,scene,variant,distortion,source,param\n");
  for (int64_t s = 0; s < c->scenes; s++) {
    int64_t variants = s % FAMILIES == FAMILY_CLOCK ? c->hours : 1;
    for (int64_t v = 0; v < variants; v++) MA_TRY(make_original(&o, c, s, v));
  }
  printf("wrote %lld images to %s (list: %s/images.list, ground truth: %s/truth.csv)\n", (long long)o.next, c->dir,
         c->dir, c->dir);
done:
  if (o.list && fclose(o.list) != 0 && st == MA_OK) st = ma_fail(MA_ERR_RUNTIME, "cannot write the list in %s", c->dir);
  if (o.truth && fclose(o.truth) != 0 && st == MA_OK) st = ma_fail(MA_ERR_RUNTIME, "cannot write truth.csv in %s", c->dir);
  jpeg_codec_free(&o.codec);
  return st;
}

int main(int argc, char **argv)
{
  gen_cfg c;
  int help = 0;
  ma_status st = parse(argc, argv, &c, &help);
  if (st == MA_OK && help) {
    fputs(usage, stdout);
    return 0;
  }
  if (st == MA_OK) st = run(&c);
  if (st != MA_OK) fprintf(stderr, "ma_gen_images: error: %s\n", ma_errmsg());
  return (int)st;
}
