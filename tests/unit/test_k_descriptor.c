/* The image descriptor: desc_compute against its literal reference, and the invariances the definition
 * promises exactly (brightness offset, contrast, integer upscaling, mirror symmetry), flat images, unit
 * norms. The measured invariances to real distortions are tests/mpi/test_embed.py's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/descriptor.h"
#include "kernels/image.h"
#include "kernels/rng.h"

/* A w x h image of smooth blobs plus noise, channel values within [lo, hi]. */
static img_rgb scene(int w, int h, uint64_t seed, int lo, int hi)
{
  img_rgb im;
  assert_int_equal(img_alloc(&im, w, h), MA_OK);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++) {
        double v = 0.5 + 0.25 * sin(6.0 * x / w + c + seed) * cos(5.0 * y / h - c) +
                   0.2 * (rng_uniform(seed, (uint64_t)c, (uint64_t)(y * w + x)) - 0.5);
        im.px[((size_t)y * w + x) * 3 + c] = (uint8_t)lround(lo + (hi - lo) * (v < 0 ? 0 : v > 1 ? 1 : v));
      }
  return im;
}

static double norm(const float *v)
{
  double s = 0;
  for (int i = 0; i < DESC_DIM; i++) s += (double)v[i] * v[i];
  return sqrt(s);
}

static void assert_close(const float *a, const float *b, double tol)
{
  for (int i = 0; i < DESC_DIM; i++)
    if (fabs((double)a[i] - b[i]) > tol) fail_msg("component %d: %.8f vs %.8f (tolerance %g)", i, a[i], b[i], tol);
}

static void test_matches_reference(void **state)
{
  (void)state;
  const int sizes[][2] = {{1, 1}, {3, 200}, {31, 33}, {32, 32}, {64, 48}, {257, 130}, {100, 7}};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    img_rgb im = scene(sizes[k][0], sizes[k][1], k, 0, 255);
    float fast[DESC_DIM], ref[DESC_DIM];
    desc_compute(im.px, im.w, im.h, fast);
    desc_compute_ref(im.px, im.w, im.h, ref);
    assert_close(fast, ref, 1e-6);
    assert_true(fabs(norm(fast) - 1) < 1e-6);
    img_free(&im);
  }
}

/* Adding the same value to R, G and B moves only the luma mean (dropped) and no chroma (its weights sum
 * to zero). */
static void test_brightness_offset(void **state)
{
  (void)state;
  img_rgb im = scene(90, 70, 7, 20, 200);
  float a[DESC_DIM], b[DESC_DIM];
  desc_compute(im.px, im.w, im.h, a);
  for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++) im.px[i] += 40;
  desc_compute(im.px, im.w, im.h, b);
  assert_close(a, b, 1e-6);
  img_free(&im);
}

/* A grey image's contrast doubled about mid-grey: the luma coefficients double, their direction stays. */
static void test_contrast(void **state)
{
  (void)state;
  img_rgb im = scene(80, 60, 3, 80, 170);
  for (size_t p = 0; p < (size_t)im.w * im.h; p++) im.px[3 * p + 1] = im.px[3 * p + 2] = im.px[3 * p];
  float a[DESC_DIM], b[DESC_DIM];
  desc_compute(im.px, im.w, im.h, a);
  for (size_t i = 0; i < (size_t)im.w * im.h * 3; i++) im.px[i] = (uint8_t)(128 + 2 * (im.px[i] - 128));
  desc_compute(im.px, im.w, im.h, b);
  assert_true(a[DESC_DIM - 1] == 0.0f); /* enough structure: no flatness */
  assert_close(a, b, 1e-6);
  img_free(&im);
}

/* Every pixel repeated 3 x 3: the area means over the grid are the same. */
static void test_integer_upscale(void **state)
{
  (void)state;
  img_rgb im = scene(40, 50, 11, 0, 255), big;
  assert_int_equal(img_alloc(&big, 120, 150), MA_OK);
  for (int y = 0; y < 150; y++)
    for (int x = 0; x < 120; x++) memcpy(big.px + ((size_t)y * 120 + x) * 3, im.px + ((size_t)(y / 3) * 40 + x / 3) * 3, 3);
  float a[DESC_DIM], b[DESC_DIM];
  desc_compute(im.px, im.w, im.h, a);
  desc_compute(big.px, big.w, big.h, b);
  assert_close(a, b, 1e-6);
  img_free(&im);
  img_free(&big);
}

/* Mirrored left to right: coefficients of odd horizontal frequency v change sign, the others stay (the
 * window is symmetric); the chroma layout is mirrored. */
static void test_mirror(void **state)
{
  (void)state;
  img_rgb im = scene(64, 64, 5, 0, 255), m;
  assert_int_equal(img_alloc(&m, 64, 64), MA_OK);
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 64; x++) memcpy(m.px + ((size_t)y * 64 + 63 - x) * 3, im.px + ((size_t)y * 64 + x) * 3, 3);
  float a[DESC_DIM], b[DESC_DIM];
  desc_compute(im.px, im.w, im.h, a);
  desc_compute(m.px, m.w, m.h, b);
  for (int u = 0; u < DESC_LOW; u++)
    for (int v = 0; v < DESC_LOW; v++) {
      if (u == 0 && v == 0) continue;
      int k = u * DESC_LOW + v - 1;
      assert_true(fabs(a[k] - (v % 2 ? -b[k] : b[k])) < 1e-6);
    }
  for (int ch = 0; ch < 2; ch++)
    for (int i = 0; i < DESC_CHROMA_GRID; i++)
      for (int j = 0; j < DESC_CHROMA_GRID; j++) {
        int base = DESC_LUMA + ch * DESC_CHROMA_GRID * DESC_CHROMA_GRID + i * DESC_CHROMA_GRID;
        assert_true(fabs(a[base + j] - b[base + DESC_CHROMA_GRID - 1 - j]) < 1e-6);
      }
  img_free(&im);
  img_free(&m);
}

/* Flat images: grey is the flatness axis alone; a flat colour adds its chroma; both have unit norm. */
static void test_flat(void **state)
{
  (void)state;
  img_rgb im;
  float d[DESC_DIM];
  assert_int_equal(img_alloc(&im, 50, 30), MA_OK);
  img_fill(&im, (img_colour){90, 90, 90});
  desc_compute(im.px, im.w, im.h, d);
  for (int i = 0; i < DESC_DIM - 1; i++) assert_true(fabs(d[i]) < 1e-6);
  assert_true(fabs(d[DESC_DIM - 1] - 1) < 1e-6);
  img_fill(&im, (img_colour){200, 40, 40});
  desc_compute(im.px, im.w, im.h, d);
  for (int i = 0; i < DESC_LUMA; i++) assert_true(fabs(d[i]) < 1e-6);
  assert_true(d[DESC_LUMA + DESC_CHROMA - 1] > 0.1);  /* Cr of a red image */
  assert_true(d[DESC_DIM - 1] > 0.5);
  assert_true(fabs(norm(d) - 1) < 1e-6);
  img_free(&im);
}

/* Unrelated images are not near-duplicates; one image is exactly its own. */
static void test_separates(void **state)
{
  (void)state;
  img_rgb a = scene(64, 64, 21, 0, 255), b = scene(64, 64, 22, 0, 255);
  img_fill(&b, (img_colour){30, 60, 200});
  img_draw_disc(&b, 16, 48, 12, (img_colour){250, 250, 0}, 1);
  float da[DESC_DIM], db[DESC_DIM];
  desc_compute(a.px, a.w, a.h, da);
  desc_compute(b.px, b.w, b.h, db);
  double dot = 0, self = 0;
  for (int i = 0; i < DESC_DIM; i++) {
    dot += (double)da[i] * db[i];
    self += (double)da[i] * da[i];
  }
  assert_true(dot < 0.5);
  assert_true(fabs(self - 1) < 1e-6);
  img_free(&a);
  img_free(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_matches_reference), cmocka_unit_test(test_brightness_offset),
      cmocka_unit_test(test_contrast),          cmocka_unit_test(test_integer_upscale),
      cmocka_unit_test(test_mirror),            cmocka_unit_test(test_flat),
      cmocka_unit_test(test_separates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
