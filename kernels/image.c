/* RGB image operations: area resampling, crops, brightness, CMYK conversion and anti-aliased drawing. */
#include "kernels/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ma_status img_alloc(img_rgb *im, int w, int h)
{
  ma_status st = MA_OK;
  memset(im, 0, sizeof *im);
  if (w < 1 || h < 1) return ma_fail(MA_ERR_RUNTIME, "image size %d x %d is empty", w, h);
  MA_ALLOC(im->px, (size_t)w * (size_t)h * 3);
  im->w = w;
  im->h = h;
done:
  return st;
}

void img_free(img_rgb *im)
{
  free(im->px);
  memset(im, 0, sizeof *im);
}

/* Overlap of the unit interval [p, p + 1) with [a, b). */
static double overlap(int p, double a, double b)
{
  double lo = p > a ? p : a, hi = p + 1 < b ? p + 1 : b;
  return hi > lo ? hi - lo : 0;
}

void img_area_means(const uint8_t *px, int w, int h, int ow, int oh, double *out)
{
  memset(out, 0, (size_t)ow * (size_t)oh * 3 * sizeof *out);
  for (int y = 0; y < h; y++) {
    const uint8_t *row = px + (size_t)y * (size_t)w * 3;
    /* output rows i whose band [i h/oh, (i+1) h/oh) meets [y, y + 1) */
    int i0 = (int)((int64_t)y * oh / h), i1 = (int)(((int64_t)(y + 1) * oh + h - 1) / h) - 1;
    for (int j = 0; j < ow; j++) {
      double a = (double)j * w / ow, b = (double)(j + 1) * w / ow, s[3] = {0, 0, 0};
      int x1 = (int)ceil(b) - 1 < w - 1 ? (int)ceil(b) - 1 : w - 1;
      for (int x = (int)a; x <= x1; x++) {
        double wx = overlap(x, a, b);
        s[0] += wx * row[3 * x];
        s[1] += wx * row[3 * x + 1];
        s[2] += wx * row[3 * x + 2];
      }
      for (int i = i0; i <= i1; i++) {
        double wy = overlap(y, (double)i * h / oh, (double)(i + 1) * h / oh);
        double *o = out + ((size_t)i * ow + j) * 3;
        o[0] += wy * s[0];
        o[1] += wy * s[1];
        o[2] += wy * s[2];
      }
    }
  }
  double cell = ((double)w / ow) * ((double)h / oh);
  for (size_t k = 0; k < (size_t)ow * (size_t)oh * 3; k++) out[k] /= cell;
}

static uint8_t clamp_byte(double v)
{
  return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5);
}

ma_status img_resize_area(const img_rgb *src, int w, int h, img_rgb *dst)
{
  ma_status st = MA_OK;
  double *means = NULL;
  MA_TRY(img_alloc(dst, w, h));
  MA_ALLOC(means, (size_t)w * (size_t)h * 3);
  img_area_means(src->px, src->w, src->h, w, h, means);
  for (size_t k = 0; k < (size_t)w * (size_t)h * 3; k++) dst->px[k] = clamp_byte(means[k]);
done:
  free(means);
  if (st != MA_OK) img_free(dst);
  return st;
}

ma_status img_crop(const img_rgb *src, int x0, int y0, int w, int h, img_rgb *dst)
{
  if (x0 < 0 || y0 < 0 || w < 1 || h < 1 || x0 + w > src->w || y0 + h > src->h)
    return ma_fail(MA_ERR_RUNTIME, "crop %d x %d at (%d, %d) leaves the %d x %d image", w, h, x0, y0, src->w, src->h);
  MA_CALL(img_alloc(dst, w, h));
  for (int y = 0; y < h; y++)
    memcpy(dst->px + (size_t)y * w * 3, src->px + ((size_t)(y0 + y) * src->w + x0) * 3, (size_t)w * 3);
  return MA_OK;
}

void img_scale_brightness(img_rgb *im, double factor)
{
  for (size_t k = 0; k < (size_t)im->w * (size_t)im->h * 3; k++) im->px[k] = clamp_byte(im->px[k] * factor);
}

void img_cmyk_to_rgb(const uint8_t *cmyk, int64_t n, uint8_t *rgb)
{
  for (int64_t i = 0; i < n; i++) {
    unsigned k = cmyk[4 * i + 3];
    for (int c = 0; c < 3; c++) rgb[3 * i + c] = (uint8_t)((cmyk[4 * i + c] * k + 127) / 255);
  }
}

static void blend(uint8_t *p, img_colour c, double a)
{
  p[0] = clamp_byte(p[0] + (c.r - p[0]) * a);
  p[1] = clamp_byte(p[1] + (c.g - p[1]) * a);
  p[2] = clamp_byte(p[2] + (c.b - p[2]) * a);
}

void img_fill(img_rgb *im, img_colour c)
{
  for (size_t k = 0; k < (size_t)im->w * (size_t)im->h; k++) {
    im->px[3 * k] = c.r;
    im->px[3 * k + 1] = c.g;
    im->px[3 * k + 2] = c.b;
  }
}

void img_linear_gradient(img_rgb *im, double x0, double y0, double x1, double y1, img_colour c0, img_colour c1)
{
  double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  for (int y = 0; y < im->h; y++)
    for (int x = 0; x < im->w; x++) {
      double t = len2 > 0 ? ((x + 0.5 - x0) * dx + (y + 0.5 - y0) * dy) / len2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      uint8_t *p = im->px + ((size_t)y * im->w + x) * 3;
      p[0] = clamp_byte(c0.r + (c1.r - c0.r) * t);
      p[1] = clamp_byte(c0.g + (c1.g - c0.g) * t);
      p[2] = clamp_byte(c0.b + (c1.b - c0.b) * t);
    }
}

void img_radial_glow(img_rgb *im, double cx, double cy, double r, img_colour c, double alpha)
{
  for (int y = 0; y < im->h; y++)
    for (int x = 0; x < im->w; x++) {
      double d = hypot(x + 0.5 - cx, y + 0.5 - cy), a = r > 0 ? alpha * (1 - d / r) : 0;
      if (a > 0) blend(im->px + ((size_t)y * im->w + x) * 3, c, a);
    }
}

/* A shape given by its signed distance (negative inside), painted inside the box [x0, x1] x [y0, y1]
 * (grown by a pixel for the anti-aliased rim) with coverage clamp(0.5 - distance, 0, 1). */
typedef double (*sdf_fn)(double x, double y, const double *p);

static void paint(img_rgb *im, double x0, double y0, double x1, double y1, sdf_fn sdf, const double *p, img_colour c,
                  double alpha)
{
  int xa = (int)floor(x0) - 1, xb = (int)ceil(x1) + 1, ya = (int)floor(y0) - 1, yb = (int)ceil(y1) + 1;
  if (xa < 0) xa = 0;
  if (ya < 0) ya = 0;
  if (xb > im->w - 1) xb = im->w - 1;
  if (yb > im->h - 1) yb = im->h - 1;
  for (int y = ya; y <= yb; y++)
    for (int x = xa; x <= xb; x++) {
      double cov = 0.5 - sdf(x + 0.5, y + 0.5, p);
      if (cov > 0) blend(im->px + ((size_t)y * im->w + x) * 3, c, alpha * (cov > 1 ? 1 : cov));
    }
}

/* p: cx, cy, r */
static double sdf_disc(double x, double y, const double *p) { return hypot(x - p[0], y - p[1]) - p[2]; }

/* p: cx, cy, r, half width */
static double sdf_ring(double x, double y, const double *p) { return fabs(hypot(x - p[0], y - p[1]) - p[2]) - p[3]; }

/* p: x0, y0, x1, y1, half width */
static double sdf_segment(double x, double y, const double *p)
{
  double dx = p[2] - p[0], dy = p[3] - p[1], len2 = dx * dx + dy * dy;
  double t = len2 > 0 ? ((x - p[0]) * dx + (y - p[1]) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  return hypot(x - p[0] - t * dx, y - p[1] - t * dy) - p[4];
}

/* p: x0, y0, x1, y1 */
static double sdf_rect(double x, double y, const double *p)
{
  double d = p[0] - x;
  if (x - p[2] > d) d = x - p[2];
  if (p[1] - y > d) d = p[1] - y;
  if (y - p[3] > d) d = y - p[3];
  return d;
}

/* p: x0, y0, x1, y1, x2, y2, counter-clockwise in image coordinates (y down) */
static double sdf_triangle(double x, double y, const double *p)
{
  double d = -INFINITY;
  for (int e = 0; e < 3; e++) {
    double ax = p[2 * e], ay = p[2 * e + 1], bx = p[2 * ((e + 1) % 3)], by = p[2 * ((e + 1) % 3) + 1];
    double ex = bx - ax, ey = by - ay, len = hypot(ex, ey);
    double s = len > 0 ? ((x - ax) * ey - (y - ay) * ex) / len : INFINITY;
    if (s > d) d = s;
  }
  return d;
}

void img_draw_disc(img_rgb *im, double cx, double cy, double r, img_colour c, double alpha)
{
  const double p[3] = {cx, cy, r};
  paint(im, cx - r, cy - r, cx + r, cy + r, sdf_disc, p, c, alpha);
}

void img_draw_ring(img_rgb *im, double cx, double cy, double r, double width, img_colour c, double alpha)
{
  const double p[4] = {cx, cy, r, width / 2}, e = r + width / 2;
  paint(im, cx - e, cy - e, cx + e, cy + e, sdf_ring, p, c, alpha);
}

void img_draw_segment(img_rgb *im, double x0, double y0, double x1, double y1, double width, img_colour c,
                      double alpha)
{
  const double p[5] = {x0, y0, x1, y1, width / 2}, e = width / 2;
  paint(im, fmin(x0, x1) - e, fmin(y0, y1) - e, fmax(x0, x1) + e, fmax(y0, y1) + e, sdf_segment, p, c, alpha);
}

void img_draw_rect(img_rgb *im, double x0, double y0, double x1, double y1, img_colour c, double alpha)
{
  const double p[4] = {x0, y0, x1, y1};
  paint(im, x0, y0, x1, y1, sdf_rect, p, c, alpha);
}

void img_draw_triangle(img_rgb *im, const double x[3], const double y[3], img_colour c, double alpha)
{
  double p[6] = {x[0], y[0], x[1], y[1], x[2], y[2]};
  if ((x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0]) < 0) { /* make the winding the one sdf_triangle expects */
    p[2] = x[2], p[3] = y[2], p[4] = x[1], p[5] = y[1];
  }
  paint(im, fmin(x[0], fmin(x[1], x[2])), fmin(y[0], fmin(y[1], y[2])), fmax(x[0], fmax(x[1], x[2])),
        fmax(y[0], fmax(y[1], y[2])), sdf_triangle, p, c, alpha);
}
