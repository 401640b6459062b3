/* k-means kernels: fixed-point accumulation against its reference (float32 and float16), centroids
 * from sums, empty-cluster repair, seeding from candidates, two-level fine counts and size-cap pairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "core/cpu.h"
#include "kernels/f16.h"
#include "kernels/kmeans.h"
#include "kernels/rng.h"

static void unit_rows(float *x, int64_t n, int64_t d, uint64_t seed)
{
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) {
      x[i * d + j] = (float)rng_normal(seed, 99, (uint64_t)(i * d + j));
      s += (double)x[i * d + j] * x[i * d + j];
    }
    for (int64_t j = 0; j < d; j++) x[i * d + j] = (float)(x[i * d + j] / sqrt(s));
  }
}

static void check_accumulate(int64_t n, int64_t d, int64_t k, ma_dtype type)
{
  float *x = malloc((size_t)(n * d) * sizeof *x);
  uint16_t *h = malloc((size_t)(n * d) * sizeof *h);
  int64_t *a = malloc((size_t)n * sizeof *a);
  int64_t *s1 = calloc((size_t)(k * d), sizeof *s1), *s2 = calloc((size_t)(k * d), sizeof *s2);
  int64_t *c1 = calloc((size_t)k, sizeof *c1), *c2 = calloc((size_t)k, sizeof *c2);
  unit_rows(x, n, d, (uint64_t)(n + d));
  f32_to_f16(x, h, n * d);
  for (int64_t i = 0; i < n; i++) a[i] = rng_below(7, 1, (uint64_t)i, k);
  ma_rows r = {type == MA_F16 ? (const void *)h : (const void *)x, type, n, d};
  assert_int_equal(km_accumulate(&r, d, a, k, s1, c1), MA_OK);
  km_accumulate_ref(&r, d, a, k, s2, c2);
  assert_memory_equal(c1, c2, (size_t)k * sizeof *c1);
  assert_memory_equal(s1, s2, (size_t)(k * d) * sizeof *s1);
  free(x);
  free(h);
  free(a);
  free(s1);
  free(s2);
  free(c1);
  free(c2);
}

static void test_accumulate(void **state)
{
  (void)state;
  check_accumulate(1, 1, 1, MA_F32);
  check_accumulate(1000, 17, 5, MA_F32);
  check_accumulate(3000, 64, 33, MA_F16);
  check_accumulate(2, 3, 7, MA_F16); /* more clusters than rows: some stay empty */
  for (int64_t d = 1; d <= 40; d++) check_accumulate(50, d, 3, d % 2 ? MA_F16 : MA_F32); /* every tail */
  /* exact halves of a step (small values), rounded away from zero, and odd whole steps near 0.75, where
   * adding 0.5 in float before truncating would round to even and add one; in vector blocks and tail */
  float x[19];
  for (int j = 0; j < 19; j++) x[j] = (j % 2 ? -1.0f : 1.0f) * (j % 3 ? 0x1p-25f * (float)(2 * j + 1) : 0.75f + 0x1p-24f * (float)(2 * j + 1));
  int64_t a[1] = {0}, s1[19] = {0}, s2[19] = {0}, c1[1] = {0}, c2[1] = {0};
  ma_rows r = {x, MA_F32, 1, 19};
  assert_int_equal(km_accumulate(&r, 19, a, 1, s1, c1), MA_OK);
  km_accumulate_ref(&r, 19, a, 1, s2, c2);
  assert_memory_equal(s1, s2, sizeof s1);
  assert_int_equal(s1[1], -2); /* -1.5 steps */
  assert_int_equal(s1[0], 12582913); /* 0.75 + 1 step */
}

static void test_accumulate_order_free(void **state)
{
  (void)state;
  /* Summing two halves separately and adding gives the same integers: what makes the reduction over
   * ranks bit-identical. */
  int64_t n = 500, d = 32, k = 4;
  float *x = malloc((size_t)(n * d) * sizeof *x);
  int64_t a[500], s_all[128] = {0}, s_a[128] = {0}, c_all[4] = {0}, c_a[4] = {0};
  unit_rows(x, n, d, 3);
  for (int64_t i = 0; i < n; i++) a[i] = i % k;
  ma_rows all = {x, MA_F32, n, d}, first = {x, MA_F32, 201, d}, rest = {x + 201 * d, MA_F32, n - 201, d};
  km_accumulate(&all, d, a, k, s_all, c_all);
  km_accumulate(&rest, d, a + 201, k, s_a, c_a);
  km_accumulate(&first, d, a, k, s_a, c_a);
  assert_memory_equal(s_all, s_a, sizeof s_all);
  assert_memory_equal(c_all, c_a, sizeof c_all);
  free(x);
}

static void test_centroids_and_split(void **state)
{
  (void)state;
  int64_t k = 3, d = 2;
  int64_t sums[6] = {3 * (int64_t)KM_FIXED_ONE, 4 * (int64_t)KM_FIXED_ONE, 0, 0, 0, -5};
  int64_t counts[3] = {10, 0, 2};
  float c[6] = {0};
  unsigned char empty[3];
  assert_int_equal(km_centroids(sums, counts, k, d, c, empty), 1);
  assert_true(fabsf(c[0] - 0.6f) < 1e-6f && fabsf(c[1] - 0.8f) < 1e-6f);
  assert_true(empty[1] && !empty[0] && !empty[2]);
  assert_true(c[4] == 0.0f && c[5] == -1.0f);
  assert_int_equal(km_split_empty(c, counts, empty, k, d, 1, 2), 1);
  assert_int_equal(counts[0] + counts[1], 10);
  assert_int_equal(counts[1], 5);
  float dot = c[0] * c[2] + c[1] * c[3];
  assert_true(dot > 0.99f && dot < 1.0f); /* split apart, but barely */
  for (int j = 0; j < 3; j++) assert_true(fabsf(c[2 * j] * c[2 * j] + c[2 * j + 1] * c[2 * j + 1] - 1) < 1e-5f);
}

/* Predicted search work: the sample's counts scaled to n items, m^2 * d flops per cluster. */
static void test_search_flops(void **state)
{
  (void)state;
  const int64_t counts[3] = {2, 3, 0};
  assert_true(km_search_flops(counts, 3, 5, 10, 4) == (16.0 + 36.0) * 4);
  assert_true(km_search_flops(counts, 3, 0, 10, 4) == 0);
}

static void test_seed_separated(void **state)
{
  (void)state;
  /* Eight tight blobs of very uneven weight (1 to 71 per candidate): the seeds land one in each. Plain
   * weighted D^2 sampling misses the light blob more often than not; the spread term finds it. */
  int64_t k = 8, per = 40, d = 32, nc = k * per;
  float *centre = malloc((size_t)(k * d) * sizeof *centre), *cand = malloc((size_t)(nc * d) * sizeof *cand);
  double *w = malloc((size_t)nc * sizeof *w), *spread = calloc((size_t)nc, sizeof *spread);
  float *seeds = malloc((size_t)(k * d) * sizeof *seeds);
  unit_rows(centre, k, d, 11);
  for (int64_t i = 0; i < nc; i++) {
    double s = 0;
    for (int64_t j = 0; j < d; j++) {
      cand[i * d + j] = centre[(i / per) * d + j] + 0.05f * (float)rng_normal(5, 6, (uint64_t)(i * d + j));
      s += (double)cand[i * d + j] * cand[i * d + j];
    }
    for (int64_t j = 0; j < d; j++) cand[i * d + j] = (float)(cand[i * d + j] / sqrt(s));
    w[i] = 1 + (double)(i / per) * 10;
  }
  /* Each candidate's members sit as far from it as the blob's points sit from each other. */
  for (int64_t i = 0; i < nc; i++) {
    int64_t o = (i / per) * per + (i + 1) % per;
    double dot = 0;
    for (int64_t j = 0; j < d; j++) dot += (double)cand[i * d + j] * cand[o * d + j];
    spread[i] = 2 - 2 * dot;
  }
  /* the candidates' similarities computed once (gram) or per step: both find every blob */
  for (int gram = 0; gram < 2; gram++) {
    assert_int_equal(km_seed_from_candidates(cand, w, spread, nc, d, k, 1, 2, 3, gram ? KM_GRAM_BYTES : 0, seeds),
                     MA_OK);
    int hit[8] = {0};
    for (int64_t s = 0; s < k; s++) {
      int64_t best = 0;
      float bs = -2;
      for (int64_t c = 0; c < k; c++) {
        float dot = 0;
        for (int64_t j = 0; j < d; j++) dot += seeds[s * d + j] * centre[c * d + j];
        if (dot > bs) {
          bs = dot;
          best = c;
        }
      }
      hit[best]++;
    }
    for (int c = 0; c < 8; c++) assert_int_equal(hit[c], 1);
  }
  /* Fewer candidates than clusters: every candidate is a seed, then they repeat. */
  assert_int_equal(km_seed_from_candidates(cand, w, spread, 3, d, 5, 1, 2, 3, KM_GRAM_BYTES, seeds), MA_OK);
  assert_memory_equal(seeds + 3 * d, cand, (size_t)(2 * d) * sizeof *cand);
  free(centre);
  free(cand);
  free(w);
  free(spread);
  free(seeds);
}

/* Fine counts of two-level k-means: exact cases, then invariants on random sizes. */
static void test_fine_counts(void **state)
{
  (void)state;
  int64_t kj[8];
  /* proportional: 100, 300, 600 items, k = 10 -> 1, 3, 6 */
  const int64_t a[] = {100, 300, 600};
  assert_int_equal(km_fine_counts(a, 3, 10, kj), MA_OK);
  assert_true(kj[0] == 1 && kj[1] == 3 && kj[2] == 6);
  /* remainders: shares 1.5, 1.5, 1.0 of k = 4 -> the tie goes to the lower j */
  const int64_t b[] = {30, 30, 20};
  assert_int_equal(km_fine_counts(b, 3, 4, kj), MA_OK);
  assert_true(kj[0] == 2 && kj[1] == 1 && kj[2] == 1);
  /* small clusters get 1 though their share is below, the largest pays: 1, 1, 1 of k = 3 with 2, 2, 96 */
  const int64_t c[] = {2, 2, 96, 0};
  assert_int_equal(km_fine_counts(c, 4, 3, kj), MA_OK);
  assert_true(kj[0] == 1 && kj[1] == 1 && kj[2] == 1 && kj[3] == 0);
  /* never more than n_j: k = n gives every item its own cluster */
  const int64_t e[] = {1, 5, 2};
  assert_int_equal(km_fine_counts(e, 3, 8, kj), MA_OK);
  assert_true(kj[0] == 1 && kj[1] == 5 && kj[2] == 2);
  ma_err_clear();
  assert_int_equal(km_fine_counts(e, 3, 9, kj), MA_ERR_DATA);
  ma_err_clear();

  uint64_t x = 7;
  for (int t = 0; t < 2000; t++) {
    int64_t sizes[8], k1 = 1 + (int64_t)(t % 8), n = 0, got[8], sum = 0, nonempty = 0;
    for (int64_t j = 0; j < k1; j++) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      sizes[j] = (int64_t)(x >> 33) % (t % 3 ? 1000 : 5);
      n += sizes[j];
      nonempty += sizes[j] > 0;
    }
    if (n == 0) continue;
    int64_t k = 1 + (int64_t)((x >> 17) % (uint64_t)n);
    if (k < nonempty) k = nonempty;
    assert_int_equal(km_fine_counts(sizes, k1, k, got), MA_OK);
    for (int64_t j = 0; j < k1; j++) {
      sum += got[j];
      assert_true(got[j] <= sizes[j]);
      assert_true(sizes[j] == 0 || got[j] >= 1);
      /* where no bound binds, within one of the exact share */
      double share = (double)k * (double)sizes[j] / (double)n;
      if (got[j] > 1 && got[j] < sizes[j]) assert_true(fabs((double)got[j] - share) < 1.0 + 1e-9 * share + (double)k1);
    }
    assert_int_equal(sum, k);
  }
}

static void test_cap_pairs(void **state)
{
  (void)state;
  int64_t big[16], donor[16];
  /* two coarse clusters: fine 0..4 and 5..8; big above 40, donors at most 10 */
  const int64_t sizes[] = {50, 9, 90, 3, 10, 45, 20, 11, 41};
  const int64_t first[] = {0, 5, 9};
  int64_t n = km_cap_pairs(sizes, 2, first, 40, 10, big, donor);
  /* coarse 0: bigs 90 (2) then 50 (0); donors 3 (3), 9 (1), 10 (4): two pairs. coarse 1: bigs 45, 41;
   * no cluster of at most 10: no pair */
  assert_int_equal(n, 2);
  assert_true(big[0] == 2 && donor[0] == 3 && big[1] == 0 && donor[1] == 1);
  /* ties go to the lower id, on both sides; more bigs than donors: the largest are split */
  const int64_t t[] = {7, 60, 60, 7, 70, 8};
  const int64_t f1[] = {0, 6};
  n = km_cap_pairs(t, 1, f1, 40, 7, big, donor);
  assert_int_equal(n, 2);
  assert_true(big[0] == 4 && donor[0] == 0 && big[1] == 1 && donor[1] == 3);
  /* nothing above the cap: nothing to do */
  const int64_t u[] = {5, 6, 7};
  const int64_t f2[] = {0, 3};
  assert_int_equal(km_cap_pairs(u, 1, f2, 40, 7, big, donor), 0);
}

static void test_split_into(void **state)
{
  (void)state;
  enum { D = 24 };
  float c[3 * D], a[3 * D];
  unit_rows(c, 3, D, 5);
  memcpy(a, c, sizeof c);
  km_split_into(c, 1, 2, D, 7, 3);
  /* row 0 untouched; rows 1 and 2 unit norm, close to the old row 1, on either side of it */
  assert_memory_equal(c, a, D * sizeof(float));
  double n1 = 0, n2 = 0, d1 = 0, d2 = 0, dot = 0;
  for (int j = 0; j < D; j++) {
    n1 += (double)c[D + j] * c[D + j];
    n2 += (double)c[2 * D + j] * c[2 * D + j];
    d1 += (double)c[D + j] * a[D + j];
    d2 += (double)c[2 * D + j] * a[D + j];
    dot += ((double)c[D + j] - a[D + j]) * ((double)c[2 * D + j] - a[D + j]);
  }
  assert_true(fabs(n1 - 1) < 1e-6 && fabs(n2 - 1) < 1e-6);
  assert_true(d1 > 0.999 && d2 > 0.999 && d1 < 1 && d2 < 1);
  assert_true(dot < 0); /* moved in opposite directions */
  /* the same bits again from the same (seed, stream) */
  float b[3 * D];
  memcpy(b, a, sizeof a);
  km_split_into(b, 1, 2, D, 7, 3);
  assert_memory_equal(b, c, sizeof c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_accumulate),
      cmocka_unit_test(test_accumulate_order_free),
      cmocka_unit_test(test_centroids_and_split),
      cmocka_unit_test(test_seed_separated),
      cmocka_unit_test(test_search_flops),
      cmocka_unit_test(test_fine_counts),
      cmocka_unit_test(test_cap_pairs),
      cmocka_unit_test(test_split_into),
  };
  /* every test on every path this CPU can force, the hardware's last */
  int failed = 0;
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    failed += cmocka_run_group_tests_name(cpu_isa_name((cpu_isa)isa), tests, NULL, NULL);
  }
  return failed;
}
