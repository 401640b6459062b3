/* Pure operations on 8-bit RGB images: area resampling, cropping, brightness, colour conversion from
 * decoded CMYK, and anti-aliased drawing (what the test-image generator paints its scenes and
 * distortions with).
 *
 * An image is w x h pixels of 3 bytes (R, G, B), rows of 3w bytes with no padding, top row first.
 * Drawing takes coordinates in pixels, with pixel (x, y) covering the unit square [x, x+1) x [y, y+1);
 * a shape's edge is anti-aliased by the distance from the pixel centre to the edge, and the colour is
 * blended over what is there with opacity alpha times that coverage. Every result is a pure function of
 * the arguments (double arithmetic, no state). */
#ifndef MA_IMAGE_H
#define MA_IMAGE_H

#include <stdint.h>

#include "core/status.h"

typedef struct img_rgb {
  int w, h;
  uint8_t *px; /* 3 * w * h bytes */
} img_rgb;

typedef struct img_colour {
  uint8_t r, g, b;
} img_colour;

/* A w x h image (w, h >= 1), black. Not collective. */
ma_status img_alloc(img_rgb *im, int w, int h);

/* Frees the pixels and zeroes *im. Safe on a zeroed image. Not collective. */
void img_free(img_rgb *im);

/* Area means of an 8-bit RGB image (w x h) over an ow x oh grid: out[(i ow + j) 3 + c] is the mean of
 * channel c over output cell (i, j), the rectangle [j w/ow, (j+1) w/ow) x [i h/oh, (i+1) h/oh) of the
 * source, every source pixel weighted by the area it shares with the cell. Exact for any ratio, up or
 * down; summed in double. Not collective. */
void img_area_means(const uint8_t *px, int w, int h, int ow, int oh, double *out);

/* Area resampling to w x h (allocates dst): each output pixel is the mean of the source over the
 * rectangle it covers, every source pixel weighted by its overlap with it. The same rule scales up and
 * down, and keeps the mean of the image. Not collective. */
ma_status img_resize_area(const img_rgb *src, int w, int h, img_rgb *dst);

/* The w x h window at (x0, y0) of src, which must lie inside it (allocates dst). Not collective. */
ma_status img_crop(const img_rgb *src, int x0, int y0, int w, int h, img_rgb *dst);

/* Multiplies every channel by factor, rounding to nearest and clamping to 0..255. Not collective. */
void img_scale_brightness(img_rgb *im, double factor);

/* Converts n pixels of CMYK as libjpeg decodes Adobe CMYK / YCCK files (inverted: 255 is no ink) to
 * RGB: R = C K / 255, and so on, rounded. out may not overlap in. Not collective. */
void img_cmyk_to_rgb(const uint8_t *cmyk, int64_t n, uint8_t *rgb);

/* Paints every pixel with c. Not collective. */
void img_fill(img_rgb *im, img_colour c);

/* Colour from c0 at (x0, y0) to c1 at (x1, y1), linear along that direction and constant across it,
 * clamped beyond the two points. Paints the whole image. Not collective. */
void img_linear_gradient(img_rgb *im, double x0, double y0, double x1, double y1, img_colour c0, img_colour c1);

/* Blends c over the image with opacity alpha at (cx, cy), falling linearly to 0 at distance r. Not
 * collective. */
void img_radial_glow(img_rgb *im, double cx, double cy, double r, img_colour c, double alpha);

/* Filled disc, ring (circle of the given stroke width), segment with round caps (a stroke of the
 * given width), axis-aligned rectangle [x0, x1) x [y0, y1), and triangle. Not collective. */
void img_draw_disc(img_rgb *im, double cx, double cy, double r, img_colour c, double alpha);
void img_draw_ring(img_rgb *im, double cx, double cy, double r, double width, img_colour c, double alpha);
void img_draw_segment(img_rgb *im, double x0, double y0, double x1, double y1, double width, img_colour c,
                      double alpha);
void img_draw_rect(img_rgb *im, double x0, double y0, double x1, double y1, img_colour c, double alpha);
void img_draw_triangle(img_rgb *im, const double x[3], const double y[3], img_colour c, double alpha);

#endif
