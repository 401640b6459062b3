/* The perceptual descriptor: area means -> YCbCr -> windowed, weighted low-frequency DCT of luma + 4 x 4
 * chroma layout (kernels/descriptor.h has the definition). */
#include "kernels/descriptor.h"

#include <math.h>
#include <string.h>

#include "kernels/image.h"

static const double PI = 3.14159265358979323846;

/* Orthonormal DCT-II basis: alpha(u) cos(pi (2x + 1) u / (2 DESC_GRID)). */
static double basis(int u, int x)
{
  double alpha = u == 0 ? sqrt(1.0 / DESC_GRID) : sqrt(2.0 / DESC_GRID);
  return alpha * cos(PI * (2 * x + 1) * u / (2.0 * DESC_GRID));
}

/* The Tukey window at cell i of DESC_GRID. */
static double taper(int i)
{
  double x = (i + 0.5) / DESC_GRID, e = x < 0.5 ? x : 1 - x;
  if (e >= DESC_TAPER) return 1;
  double s = sin(PI * e / (2 * DESC_TAPER));
  return s * s;
}

static double freq_weight(int u, int v)
{
  return exp(-(double)(u * u + v * v) / (2 * DESC_FREQ_SIGMA * DESC_FREQ_SIGMA));
}

static double luma(const double *rgb) { return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]; }
static double chroma_b(const double *rgb) { return -0.168736 * rgb[0] - 0.331264 * rgb[1] + 0.5 * rgb[2]; }
static double chroma_r(const double *rgb) { return 0.5 * rgb[0] - 0.418688 * rgb[1] - 0.081312 * rgb[2]; }

static double norm(const double *v, int n)
{
  double s = 0;
  for (int i = 0; i < n; i++) s += v[i] * v[i];
  return sqrt(s);
}

/* Steps 4 and 5 of the header from the luma coefficients a and the chroma values c. */
static void assemble(const double *a, const double *c, float *out)
{
  double v[DESC_DIM];
  double na = norm(a, DESC_LUMA), nc = norm(c, DESC_CHROMA);
  double la = na > DESC_LUMA_FLOOR ? na : DESC_LUMA_FLOOR, lc = nc > DESC_CHROMA_FLOOR ? nc : DESC_CHROMA_FLOOR;
  for (int i = 0; i < DESC_LUMA; i++) v[i] = a[i] / la;
  for (int i = 0; i < DESC_CHROMA; i++) v[DESC_LUMA + i] = DESC_CHROMA_WEIGHT * c[i] / lc;
  v[DESC_DIM - 1] = 1 - na / la;
  double n = norm(v, DESC_DIM);
  for (int i = 0; i < DESC_DIM; i++) out[i] = (float)(v[i] / n);
}

void desc_compute(const uint8_t *rgb, int w, int h, float *out)
{
  enum { G = DESC_GRID, L = DESC_LOW, CG = DESC_CHROMA_GRID, B = DESC_GRID / DESC_CHROMA_GRID };
  double cells[G * G * 3], z[G][G], win[G], cos_tab[L][G], half[L][G], a[DESC_LUMA], c[DESC_CHROMA], mean = 0;
  img_area_means(rgb, w, h, G, G, cells);
  for (int i = 0; i < G; i++) win[i] = taper(i);
  for (int u = 0; u < L; u++)
    for (int x = 0; x < G; x++) cos_tab[u][x] = basis(u, x);
  for (int i = 0; i < G; i++)
    for (int j = 0; j < G; j++) mean += (z[i][j] = luma(cells + (i * G + j) * 3));
  mean /= G * G;
  for (int i = 0; i < G; i++)
    for (int j = 0; j < G; j++) z[i][j] = (z[i][j] - mean) * win[i] * win[j];
  /* columns first (frequency u down the rows), then rows (v across) */
  for (int u = 0; u < L; u++)
    for (int j = 0; j < G; j++) {
      double s = 0;
      for (int i = 0; i < G; i++) s += cos_tab[u][i] * z[i][j];
      half[u][j] = s;
    }
  for (int u = 0; u < L; u++)
    for (int v = 0; v < L; v++) {
      if (u == 0 && v == 0) continue;
      double s = 0;
      for (int j = 0; j < G; j++) s += half[u][j] * cos_tab[v][j];
      a[u * L + v - 1] = freq_weight(u, v) * s;
    }
  /* chroma: the 4 x 4 layout as means of 8 x 8 blocks of cells (the grids nest, so this is the area
   * mean of the image over each block) */
  memset(c, 0, sizeof c);
  for (int i = 0; i < G; i++)
    for (int j = 0; j < G; j++) {
      const double *p = cells + (i * G + j) * 3;
      int k = (i / B) * CG + j / B;
      c[k] += chroma_b(p) / (B * B);
      c[CG * CG + k] += chroma_r(p) / (B * B);
    }
  assemble(a, c, out);
}

/* Mean of each channel of the image over [x0, x1) x [y0, y1) (in source pixels), by 2-D overlap. */
static void region_mean(const uint8_t *rgb, int w, double x0, double x1, double y0, double y1, double *m)
{
  m[0] = m[1] = m[2] = 0;
  for (int y = (int)floor(y0); y < (int)ceil(y1); y++)
    for (int x = (int)floor(x0); x < (int)ceil(x1); x++) {
      double wx = fmin(x + 1, x1) - fmax(x, x0), wy = fmin(y + 1, y1) - fmax(y, y0);
      if (wx <= 0 || wy <= 0) continue;
      for (int ch = 0; ch < 3; ch++) m[ch] += wx * wy * rgb[((size_t)y * w + x) * 3 + ch];
    }
  double area = (x1 - x0) * (y1 - y0);
  for (int ch = 0; ch < 3; ch++) m[ch] /= area;
}

void desc_compute_ref(const uint8_t *rgb, int w, int h, float *out)
{
  enum { G = DESC_GRID, L = DESC_LOW, CG = DESC_CHROMA_GRID };
  double y[G][G], a[DESC_LUMA], c[DESC_CHROMA], m[3], mean = 0;
  for (int i = 0; i < G; i++)
    for (int j = 0; j < G; j++) {
      region_mean(rgb, w, (double)j * w / G, (double)(j + 1) * w / G, (double)i * h / G, (double)(i + 1) * h / G, m);
      y[i][j] = luma(m);
      mean += y[i][j] / (G * G);
    }
  for (int u = 0; u < L; u++)
    for (int v = 0; v < L; v++) {
      if (u == 0 && v == 0) continue;
      double s = 0;
      for (int i = 0; i < G; i++)
        for (int j = 0; j < G; j++) s += basis(u, i) * basis(v, j) * (y[i][j] - mean) * taper(i) * taper(j);
      a[u * L + v - 1] = freq_weight(u, v) * s;
    }
  for (int i = 0; i < CG; i++)
    for (int j = 0; j < CG; j++) {
      region_mean(rgb, w, (double)j * w / CG, (double)(j + 1) * w / CG, (double)i * h / CG, (double)(i + 1) * h / CG, m);
      c[i * CG + j] = chroma_b(m);
      c[CG * CG + i * CG + j] = chroma_r(m);
    }
  assemble(a, c, out);
}
