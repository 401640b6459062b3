/* The perceptual image descriptor that `memaudit embed` writes (docs/embed.md gives the formulas, what
 * they are invariant to, measured, and where they fail).
 *
 * From an RGB image of any size:
 *   1. area means over a 32 x 32 grid (img_area_means), then per cell
 *      Y = 0.299 R + 0.587 G + 0.114 B, Cb = -0.168736 R - 0.331264 G + 0.5 B, Cr = 0.5 R - 0.418688 G - 0.081312 B;
 *   2. luma: Z(i, j) = (Y(i, j) - mean Y) t(i) t(j), with the Tukey window t(i) = sin^2(pi x / 0.8) for
 *      x = (i + 1/2) / 32 below 0.4 (mirrored above 0.6, 1 between): the centre counts most, the border
 *      (what a crop or a corner watermark touches) least;
 *      a(u, v) = g(u, v) DCT(Z)(u, v), the orthonormal 2-D DCT-II, for the 6 x 6 lowest frequencies
 *      (u vertical, v horizontal) without DC, weighted by g = exp(-(u^2 + v^2) / 8): 35 values, index
 *      6u + v - 1;
 *   3. chroma: Cb and Cr averaged over a 4 x 4 grid (8 x 8 blocks of cells): 32 values c, Cb then Cr,
 *      row-major;
 *   4. l = a / max(|a|, DESC_LUMA_FLOOR), f = 1 - |l| (0 for any image with structure, up to 1 for a
 *      flat one), k = DESC_CHROMA_WEIGHT c / max(|c|, DESC_CHROMA_FLOOR);
 *   5. out = (l, k, f) / |(l, k, f)|: DESC_DIM = 35 + 32 + 1 = 68 values, unit L2 norm.
 * Dropping DC and dividing by |a| removes brightness and contrast; the floors keep low-contrast and
 * near-grey images from amplifying noise, and f keeps every descriptor nonzero. */
#ifndef MA_DESCRIPTOR_H
#define MA_DESCRIPTOR_H

#include <stdint.h>

enum {
  DESC_GRID = 32,       /* luma working size */
  DESC_LOW = 6,         /* frequencies kept per axis */
  DESC_LUMA = 35,       /* DESC_LOW^2 - 1 */
  DESC_CHROMA_GRID = 4, /* chroma layout per axis */
  DESC_CHROMA = 32,     /* 2 DESC_CHROMA_GRID^2 */
  DESC_DIM = 68,        /* DESC_LUMA + DESC_CHROMA + 1 */
  DESC_MIN_SIDE = 64    /* decode so that both sides are at least this (twice DESC_GRID) */
};

#define DESC_NAME "ma-wdct6-chroma4"
#define DESC_VERSION 1
#define DESC_TAPER 0.4          /* fraction of each side the window tapers over */
#define DESC_FREQ_SIGMA 2.0     /* g(u, v) = exp(-(u^2 + v^2) / (2 sigma^2)) */
#define DESC_LUMA_FLOOR 64.0    /* |a| of a smooth pattern of about 10 grey levels RMS */
#define DESC_CHROMA_FLOOR 90.0  /* |c| of about 16 levels of chroma per cell */
#define DESC_CHROMA_WEIGHT 0.6  /* chroma carries at most 0.36 / 1.36 = 26% of the energy */

/* out[0..DESC_DIM) = the descriptor of the w x h RGB image rgb (rows of 3w bytes), as above. Uses
 * separable passes. Not collective. */
void desc_compute(const uint8_t *rgb, int w, int h, float *out);

/* The same by the literal definitions (2-D overlap sums per cell, a direct 4 x 4 chroma average of the
 * image, the DCT as a double sum of cosines): the test reference for desc_compute, which it matches to
 * rounding. Not collective. */
void desc_compute_ref(const uint8_t *rgb, int w, int h, float *out);

#endif
