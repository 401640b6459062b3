/* Keep rules and the recall interval. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/keep.h"
#include "kernels/rng.h"
#include "kernels/stats.h"

static void test_chain(void **state)
{
  (void)state;
  /* A ~ B ~ C with A and C below the threshold: union-find would keep only A; greedy keeps A and C. */
  keep_edge e[] = {{0, 1, 0.96f}, {1, 2, 0.97f}, {0, 2, 0.90f}};
  uint8_t keep[3];
  int64_t rep[3];
  assert_int_equal(keep_greedy(3, e, 3, 0.95f, keep, rep), MA_OK);
  assert_int_equal(keep[0], 1);
  assert_int_equal(keep[1], 0);
  assert_int_equal(rep[1], 0);
  assert_int_equal(keep[2], 1);
  assert_int_equal(rep[2], 2);
  keep_one_per_group(3, keep, rep);
  assert_true(keep[0] && !keep[1] && !keep[2] && rep[1] == 0 && rep[2] == 0);
  /* At 0.89 every pair counts: only A stays. */
  assert_int_equal(keep_greedy(3, e, 3, 0.89f, keep, rep), MA_OK);
  assert_true(keep[0] && !keep[1] && !keep[2]);
}

static void test_most_similar_rep(void **state)
{
  (void)state;
  /* 0 and 1 are kept (not similar to each other); 2 is similar to both, more to 1. */
  keep_edge e[] = {{0, 2, 0.96f}, {2, 1, 0.99f}};
  uint8_t keep[3];
  int64_t rep[3];
  assert_int_equal(keep_greedy(3, e, 2, 0.95f, keep, rep), MA_OK);
  assert_true(keep[0] && keep[1] && !keep[2]);
  assert_int_equal(rep[2], 1);
}

static void test_random_against_reference(void **state)
{
  (void)state;
  for (uint64_t t = 0; t < 200; t++) {
    int64_t nv = 1 + rng_below(t, 1, 0, 30), ne = rng_below(t, 2, 0, nv * 3 + 1);
    keep_edge *e = malloc((size_t)(ne + 1) * sizeof *e);
    for (int64_t k = 0; k < ne; k++) {
      int64_t u = rng_below(t, 3, (uint64_t)k, nv), v = rng_below(t, 4, (uint64_t)k, nv);
      if (u == v) v = (v + 1) % nv;
      /* Similarities on a coarse grid make ties. */
      e[k] = (keep_edge){u, v, 0.9f + 0.01f * (float)rng_below(t, 5, (uint64_t)k, 10)};
    }
    if (nv == 1) ne = 0;
    uint8_t k1[30], k2[30];
    int64_t r1[30], r2[30];
    float thr = 0.93f;
    assert_int_equal(keep_greedy(nv, e, ne, thr, k1, r1), MA_OK);
    keep_greedy_ref(nv, e, ne, thr, k2, r2);
    assert_memory_equal(k1, k2, (size_t)nv);
    assert_memory_equal(r1, r2, (size_t)nv * sizeof *r1);
    /* Invariants: no edge at or above the threshold joins two kept vertices; each removed vertex has an
     * edge at or above the threshold to its kept representative. */
    for (int64_t k = 0; k < ne; k++)
      if (e[k].sim >= thr) assert_false(k1[e[k].u] && k1[e[k].v]);
    for (int64_t i = 0; i < nv; i++) {
      if (k1[i]) {
        assert_int_equal(r1[i], i);
        continue;
      }
      assert_true(k1[r1[i]]);
      int found = 0;
      for (int64_t k = 0; k < ne; k++)
        found |= e[k].sim >= thr && ((e[k].u == i && e[k].v == r1[i]) || (e[k].v == i && e[k].u == r1[i]));
      assert_true(found);
    }
    free(e);
  }
}

static void test_stats(void **state)
{
  (void)state;
  double lo, hi, r;
  stats_wilson(0, 10, &lo, &hi);
  assert_true(lo == 0 && fabs(hi - 0.2775) < 1e-3);
  stats_wilson(10, 10, &lo, &hi);
  assert_true(hi == 1 && fabs(lo - 0.7225) < 1e-3);
  stats_wilson(50, 100, &lo, &hi);
  assert_true(fabs(lo - 0.4038) < 1e-3 && fabs(hi - 0.5962) < 1e-3);
  int64_t f[4] = {3, 1, 0, 2}, t[4] = {3, 2, 0, 4};
  stats_ratio_ci(f, t, 4, &r, &lo, &hi);
  assert_true(fabs(r - 6.0 / 9.0) < 1e-12 && lo < r && hi > r && lo >= 0 && hi <= 1);
  int64_t all[3] = {5, 5, 5};
  stats_ratio_ci(all, all, 3, &r, &lo, &hi);
  assert_true(r == 1 && hi == 1 && lo < 1); /* all found: still an honest interval below 1 */
  int64_t zero[2] = {0, 0};
  stats_ratio_ci(zero, zero, 2, &r, &lo, &hi);
  assert_true(isnan(r) && lo == 0 && hi == 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chain),
      cmocka_unit_test(test_most_similar_rep),
      cmocka_unit_test(test_random_against_reference),
      cmocka_unit_test(test_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
