/* rng: permutations are bijections, and the uniform and normal draws have the right moments. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "kernels/rng.h"

static void test_permute_bijection(void **state)
{
  (void)state;
  const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 1000, 1024, 4097, 65537};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int64_t n = sizes[s];
    for (uint64_t seed = 0; seed < 3; seed++) {
      char *seen = calloc((size_t)n, 1);
      assert_non_null(seen);
      int64_t fixed = 0;
      for (int64_t i = 0; i < n; i++) {
        int64_t v = rng_permute(seed, RNG_SYNTH_DUP, i, n);
        assert_true(v >= 0 && v < n);
        assert_int_equal(seen[v], 0);
        seen[v] = 1;
        fixed += v == i;
      }
      if (n >= 1000) /* a random permutation has about one fixed point */
        assert_true(fixed < 10);
      free(seen);
    }
  }
}

/* Another seed or stream gives another permutation. */
static void test_permute_keys_differ(void **state)
{
  (void)state;
  int64_t n = 1000, same_seed = 0, same_stream = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t v = rng_permute(1, RNG_SYNTH_DUP, i, n);
    same_seed += v == rng_permute(2, RNG_SYNTH_DUP, i, n);
    same_stream += v == rng_permute(1, RNG_SYNTH_GEN_PLACE, i, n);
  }
  assert_true(same_seed < 10);
  assert_true(same_stream < 10);
}

static void test_uniform_moments(void **state)
{
  (void)state;
  enum { N = 1000000 };
  double s = 0, s2 = 0;
  int64_t bins[10] = {0};
  for (uint64_t c = 0; c < N; c++) {
    double u = rng_uniform(42, RNG_SYNTH_ITEM, c);
    assert_true(u >= 0.0 && u < 1.0);
    s += u;
    s2 += u * u;
    bins[(int)(u * 10)]++;
  }
  double mean = s / N, var = s2 / N - mean * mean;
  assert_true(fabs(mean - 0.5) < 0.002);
  assert_true(fabs(var - 1.0 / 12) < 0.001);
  for (int b = 0; b < 10; b++) /* expected 100000, sd 300 */
    assert_true(labs((long)(bins[b] - N / 10)) < 2000);
}

static void test_below(void **state)
{
  (void)state;
  int64_t counts[7] = {0};
  for (uint64_t c = 0; c < 70000; c++) {
    int64_t k = rng_below(5, RNG_SYNTH_GEN_SOURCE, c, 7);
    assert_true(k >= 0 && k < 7);
    counts[k]++;
  }
  for (int k = 0; k < 7; k++) /* expected 10000, sd 92 */
    assert_true(labs((long)(counts[k] - 10000)) < 500);
  int64_t big = INT64_MAX - 5, hi = 0;
  for (uint64_t c = 0; c < 1000; c++) {
    int64_t k = rng_below(5, RNG_SYNTH_GEN_SOURCE, c, big);
    assert_true(k >= 0 && k < big);
    hi += k > big / 2;
  }
  assert_true(hi > 400 && hi < 600);
  assert_int_equal(rng_below(5, 0, 3, 1), 0);
}

static void test_normal_moments(void **state)
{
  (void)state;
  enum { N = 1000000 };
  double s = 0, s2 = 0, s4 = 0;
  int64_t beyond2 = 0;
  for (uint64_t c = 0; c < N; c++) {
    double z = rng_normal(42, RNG_SYNTH_ITEM, c);
    assert_true(isfinite(z));
    s += z;
    s2 += z * z;
    s4 += z * z * z * z;
    beyond2 += fabs(z) > 2;
  }
  double mean = s / N, var = s2 / N - mean * mean;
  assert_true(fabs(mean) < 0.005);
  assert_true(fabs(var - 1.0) < 0.005);
  assert_true(fabs(s4 / N - 3.0) < 0.05);                        /* kurtosis of a normal */
  assert_true(fabs((double)beyond2 / N - 0.0455) < 0.002);        /* P(|z| > 2) */
}

/* Neighbouring counters, streams and seeds give unrelated words: each output bit flips about half the
 * time. */
static void test_hash_avalanche(void **state)
{
  (void)state;
  int64_t flips[64] = {0};
  enum { N = 20000 };
  for (uint64_t c = 0; c < N; c++) {
    uint64_t a = rng_hash(3, 4, c);
    uint64_t d[3] = {a ^ rng_hash(3, 4, c + 1), a ^ rng_hash(3, 5, c), a ^ rng_hash(4, 4, c)};
    for (int k = 0; k < 3; k++)
      for (int b = 0; b < 64; b++)
        flips[b] += (d[k] >> b) & 1u;
  }
  for (int b = 0; b < 64; b++) /* expected 30000, sd 87 */
    assert_true(labs((long)(flips[b] - 3 * N / 2)) < 600);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_permute_bijection), cmocka_unit_test(test_permute_keys_differ),
      cmocka_unit_test(test_uniform_moments),   cmocka_unit_test(test_below),
      cmocka_unit_test(test_normal_moments),    cmocka_unit_test(test_hash_avalanche),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
