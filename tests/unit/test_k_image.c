/* Image kernels: area means and resampling, crops, brightness, CMYK, and the drawing primitives. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/image.h"
#include "kernels/rng.h"

static img_rgb noise(int w, int h, uint64_t seed)
{
  img_rgb im;
  assert_int_equal(img_alloc(&im, w, h), MA_OK);
  for (size_t i = 0; i < (size_t)w * h * 3; i++) im.px[i] = (uint8_t)rng_below(seed, 0, i, 256);
  return im;
}

static const uint8_t *pixel(const img_rgb *im, int x, int y) { return im->px + ((size_t)y * im->w + x) * 3; }

/* The area mean of one cell by the definition: every source pixel weighted by its overlap with it. */
static double cell_mean(const img_rgb *im, int ow, int oh, int i, int j, int c)
{
  double x0 = (double)j * im->w / ow, x1 = (double)(j + 1) * im->w / ow, y0 = (double)i * im->h / oh,
         y1 = (double)(i + 1) * im->h / oh, s = 0;
  for (int y = 0; y < im->h; y++)
    for (int x = 0; x < im->w; x++) {
      double wx = fmin(x + 1, x1) - fmax(x, x0), wy = fmin(y + 1, y1) - fmax(y, y0);
      if (wx > 0 && wy > 0) s += wx * wy * pixel(im, x, y)[c];
    }
  return s / ((x1 - x0) * (y1 - y0));
}

static void test_area_means(void **state)
{
  (void)state;
  const int cases[][4] = {{37, 23, 5, 4}, {10, 10, 32, 32}, {1, 1, 3, 2}, {64, 48, 32, 32}, {7, 300, 4, 9}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int w = cases[k][0], h = cases[k][1], ow = cases[k][2], oh = cases[k][3];
    img_rgb im = noise(w, h, k);
    double *m = malloc((size_t)ow * oh * 3 * sizeof *m), total = 0, src = 0;
    assert_non_null(m);
    img_area_means(im.px, w, h, ow, oh, m);
    for (int i = 0; i < oh; i++)
      for (int j = 0; j < ow; j++)
        for (int c = 0; c < 3; c++) {
          assert_true(fabs(m[(i * ow + j) * 3 + c] - cell_mean(&im, ow, oh, i, j, c)) < 1e-9);
          total += m[(i * ow + j) * 3 + c];
        }
    for (size_t i = 0; i < (size_t)w * h * 3; i++) src += im.px[i];
    assert_true(fabs(total / (ow * oh) - src / (w * h)) < 1e-9); /* the mean is kept */
    free(m);
    img_free(&im);
  }
}

static void test_resize_crop_brightness(void **state)
{
  (void)state;
  img_rgb im, half, cut;
  assert_int_equal(img_alloc(&im, 4, 2), MA_OK);
  const uint8_t v[8] = {0, 100, 200, 250, 10, 20, 30, 41};
  for (int p = 0; p < 8; p++) memset(im.px + 3 * p, v[p], 3);
  assert_int_equal(img_resize_area(&im, 2, 1, &half), MA_OK);
  assert_int_equal(half.px[0], 33);  /* (0 + 100 + 10 + 20) / 4 = 32.5 */
  assert_int_equal(half.px[3], 130); /* (200 + 250 + 30 + 41) / 4 = 130.25 */
  assert_int_equal(img_crop(&im, 1, 1, 2, 1, &cut), MA_OK);
  assert_int_equal(cut.w, 2);
  assert_int_equal(cut.px[0], 20);
  assert_int_equal(cut.px[3], 30);
  assert_int_equal(img_crop(&im, 3, 0, 2, 1, &cut), MA_ERR_RUNTIME);
  img_scale_brightness(&im, 1.2);
  assert_int_equal(im.px[3], 120);
  assert_int_equal(im.px[9], 255); /* 300 clamps */
  img_free(&im);
  img_free(&half);
  img_free(&cut);
}

static void test_cmyk(void **state)
{
  (void)state;
  const uint8_t cmyk[8] = {255, 255, 255, 255, 255, 0, 128, 128};
  uint8_t rgb[6];
  img_cmyk_to_rgb(cmyk, 2, rgb);
  assert_int_equal(rgb[0], 255); /* no ink: white */
  assert_int_equal(rgb[3], 128);
  assert_int_equal(rgb[4], 0);
  assert_int_equal(rgb[5], 64);
}

static void test_drawing(void **state)
{
  (void)state;
  img_rgb im;
  const img_colour red = {255, 0, 0}, black = {0, 0, 0};
  assert_int_equal(img_alloc(&im, 40, 40), MA_OK);
  img_fill(&im, black);
  img_draw_disc(&im, 20, 20, 8, red, 1);
  assert_int_equal(pixel(&im, 20, 20)[0], 255);
  assert_int_equal(pixel(&im, 2, 2)[0], 0);
  int partial = 0;
  for (int x = 0; x < 40; x++) partial += pixel(&im, x, 20)[0] > 0 && pixel(&im, x, 20)[0] < 255;
  assert_true(partial >= 1); /* the rim is anti-aliased */
  img_fill(&im, black);
  img_draw_ring(&im, 20.5, 20.5, 10, 2, red, 0.5);
  assert_int_equal(pixel(&im, 20, 20)[0], 0);
  assert_int_equal(pixel(&im, 30, 20)[0], 128); /* half opacity */
  for (int wind = 0; wind < 2; wind++) {
    double x[3] = {5, 35, 5}, y[3] = {5, 5, 35};
    if (wind) x[1] = 5, y[1] = 35, x[2] = 35, y[2] = 5;
    img_fill(&im, black);
    img_draw_triangle(&im, x, y, red, 1);
    assert_int_equal(pixel(&im, 12, 12)[0], 255);
    assert_int_equal(pixel(&im, 33, 33)[0], 0);
  }
  img_fill(&im, black);
  img_draw_segment(&im, 5, 10, 35, 10, 3, red, 1);
  img_draw_rect(&im, 10, 20, 30, 30, red, 1);
  assert_int_equal(pixel(&im, 20, 10)[0], 255);
  assert_int_equal(pixel(&im, 20, 14)[0], 0);
  assert_int_equal(pixel(&im, 15, 25)[0], 255);
  assert_int_equal(pixel(&im, 31, 25)[0], 0);
  img_linear_gradient(&im, 0, 0, 40, 0, black, red);
  assert_true(pixel(&im, 0, 5)[0] < 10 && pixel(&im, 39, 5)[0] > 245 && abs(pixel(&im, 20, 5)[0] - 131) <= 1);
  img_free(&im);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_area_means),
      cmocka_unit_test(test_resize_crop_brightness),
      cmocka_unit_test(test_cmyk),
      cmocka_unit_test(test_drawing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
