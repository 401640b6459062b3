/* The Mann-Whitney test and quantiles (kernels/mannwhitney.h) against hand-computed values and a slow
 * obvious reference (U as the count of pairs a > b plus half the ties). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "kernels/mannwhitney.h"

static uint64_t rng_state = 88172645463325252ull;

static double rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) * 0x1p-53;
}

/* The definition: pairs with a > b, plus half the pairs with a == b. */
static double slow_u(const float *a, int64_t na, const float *b, int64_t nb)
{
  double u = 0;
  for (int64_t i = 0; i < na; i++)
    for (int64_t j = 0; j < nb; j++) u += a[i] > b[j] ? 1 : a[i] == b[j] ? 0.5 : 0;
  return u;
}

/* Values worked out by hand (see the comments), p from 0.5 erfc(z / sqrt 2). */
static void test_hand(void **state)
{
  (void)state;
  mw_result r;
  /* a = {1, 2, 3} below b = {4, 5}: U = 0, mean 3, var 3*2/12*(5+1) = 3, z = (0 - 3 - 0.5)/sqrt 3 */
  float a1[] = {1, 2, 3}, b1[] = {4, 5};
  assert_int_equal(mw_test(a1, 3, b1, 2, &r), MA_OK);
  assert_true(r.u == 0 && r.auc == 0);
  assert_true(fabs(r.z - -2.0207259421636903) < 1e-12);
  assert_true(fabs(r.p_greater - 0.978345928594604) < 1e-12);
  /* swapped: U = 6, z = (6 - 3 - 0.5)/sqrt 3 */
  assert_int_equal(mw_test(b1, 2, a1, 3, &r), MA_OK);
  assert_true(r.u == 6 && r.auc == 1);
  assert_true(fabs(r.z - 1.4433756729740645) < 1e-12);
  assert_true(fabs(r.p_greater - 0.07445733658938283) < 1e-12);
  /* ties: a = {1, 2, 2}, b = {2, 3}; pooled ranks 1, 3, 3, 3, 5, R_a = 7, U = 7 - 6 = 1; one run of 3:
   * var = 3*2/12 * (6 - (27 - 3)/(5*4)) = 2.4 */
  float a2[] = {2, 1, 2}, b2[] = {3, 2};
  assert_int_equal(mw_test(a2, 3, b2, 2, &r), MA_OK);
  assert_true(r.u == 1);
  assert_true(fabs(r.z - -1.613743060919757) < 1e-12);
  assert_true(fabs(r.p_greater - 0.9467084152125562) < 1e-12);
  /* everything tied: no variance, no evidence */
  float a3[] = {0.5f, 0.5f}, b3[] = {0.5f, 0.5f, 0.5f};
  assert_int_equal(mw_test(a3, 2, b3, 3, &r), MA_OK);
  assert_true(r.u == 3 && r.z == 0 && r.p_greater == 1 && r.auc == 0.5);
  /* -INFINITY is an ordinary (lowest) value */
  float a4[] = {-INFINITY, 0.25f}, b4[] = {0.5f};
  assert_int_equal(mw_test(a4, 2, b4, 1, &r), MA_OK);
  assert_true(r.u == 0);
}

/* U from ranks equals the pair count on random samples with many ties, and p falls as a shifts up. */
static void test_against_slow(void **state)
{
  (void)state;
  for (int trial = 0; trial < 20; trial++) {
    int64_t na = 1 + (int64_t)(rnd() * 300), nb = 1 + (int64_t)(rnd() * 300);
    float *a = malloc((size_t)na * sizeof *a), *b = malloc((size_t)nb * sizeof *b);
    double levels = trial % 2 ? 10 : 1e6; /* odd trials: heavy ties */
    for (int64_t i = 0; i < na; i++) a[i] = (float)(floor(rnd() * levels) / levels);
    for (int64_t j = 0; j < nb; j++) b[j] = (float)(floor(rnd() * levels) / levels);
    mw_result r;
    assert_int_equal(mw_test(a, na, b, nb, &r), MA_OK);
    assert_true(r.na == na && r.nb == nb);
    /* U is a sum of halves of integers below 2^53 and AUC one division: exact, so equal, not close */
    assert_true(r.u == slow_u(a, na, b, nb));
    assert_true(r.auc == r.u / ((double)na * (double)nb));
    assert_true(r.p_greater >= 0 && r.p_greater <= 1);
    double p0 = r.p_greater;
    for (int64_t i = 0; i < na; i++) a[i] += 0.3f;
    assert_int_equal(mw_test(a, na, b, nb, &r), MA_OK);
    assert_true(r.p_greater <= p0);
    free(a);
    free(b);
  }
  /* a clearly larger on 1000 values each: p tiny; clearly smaller: p near 1 */
  float *a = malloc(1000 * sizeof *a), *b = malloc(1000 * sizeof *b);
  for (int i = 0; i < 1000; i++) {
    a[i] = (float)(rnd() + 0.2);
    b[i] = (float)rnd();
  }
  mw_result r;
  assert_int_equal(mw_test(a, 1000, b, 1000, &r), MA_OK);
  assert_true(r.p_greater < 1e-10);
  assert_int_equal(mw_test(b, 1000, a, 1000, &r), MA_OK);
  assert_true(r.p_greater > 1 - 1e-10);
  free(a);
  free(b);
}

static void test_quantiles(void **state)
{
  (void)state;
  float v[] = {3, 1, 4, 2};
  double probs[] = {0, 0.25, 0.5, 1, 0.999};
  double q[5];
  assert_int_equal(mw_quantiles(v, 4, probs, 5, q), MA_OK);
  /* sorted 1 2 3 4; position 3p */
  assert_true(q[0] == 1 && q[1] == 1.75 && q[2] == 2.5 && q[3] == 4);
  assert_true(fabs(q[4] - (3 + 0.997 * 1)) < 1e-12);
  assert_true(v[0] == 3); /* the input is not reordered */
  float one[] = {0.7f};
  assert_int_equal(mw_quantiles(one, 1, probs, 5, q), MA_OK);
  for (int i = 0; i < 5; i++) assert_true(q[i] == (double)0.7f);
}

static void test_errors(void **state)
{
  (void)state;
  float a[] = {1, NAN}, b[] = {1};
  mw_result r;
  double q, bad = 1.5;
  assert_int_equal(mw_test(a, 0, b, 1, &r), MA_ERR_USAGE);
  assert_int_equal(mw_test(a, 1, b, 0, &r), MA_ERR_USAGE);
  assert_int_equal(mw_test(a, 2, b, 1, &r), MA_ERR_USAGE);
  assert_int_equal(mw_quantiles(a, 0, &bad, 1, &q), MA_ERR_USAGE);
  assert_int_equal(mw_quantiles(b, 1, &bad, 1, &q), MA_ERR_USAGE);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hand),
      cmocka_unit_test(test_against_slow),
      cmocka_unit_test(test_quantiles),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
