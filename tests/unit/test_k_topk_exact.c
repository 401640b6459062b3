/* The exact top-k search (kernels/topk_exact.h) against ip_ref_topk, bit for bit: ids, similarities and
 * threshold counts, float32 and float16, planted near-copies and exact duplicates (ties by id), k larger
 * than y, several blockings, thresholds placed exactly on similarities, and the full recomputation of
 * rows with more ties than the margin; topk_exact_dot and topk_exact_dots against ip_ref_dot; topk_merge_inplace against
 * topk_merge. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/f16.h"
#include "kernels/ip_handlers.h"
#include "kernels/ip_ref.h"
#include "kernels/topk_exact.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static double rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) * 0x1p-53;
}

static void normalise(float *v, int64_t d)
{
  double n = 0;
  for (int64_t c = 0; c < d; c++) n += (double)v[c] * v[c];
  for (int64_t c = 0; c < d; c++) v[c] = (float)(v[c] / sqrt(n));
}

/* n unit rows around a few centres (so many similarities are high), in type t (float16 rows are the
 * rounded unit rows). */
typedef struct {
  void *data;
  ma_rows r;
} rowset;

static rowset make_rows(int64_t n, int64_t d, ma_dtype t, const float *centre)
{
  float *f = malloc((size_t)(n * d + 1) * sizeof *f);
  assert_non_null(f);
  for (int64_t i = 0; i < n; i++) {
    for (int64_t c = 0; c < d; c++) f[i * d + c] = (float)(rnd() - 0.5) + (centre ? 2 * centre[c] : 0);
    normalise(f + i * d, d);
  }
  rowset s;
  if (t == MA_F16) {
    uint16_t *h = malloc((size_t)(n * d + 1) * sizeof *h);
    assert_non_null(h);
    f32_to_f16(f, h, n * d);
    free(f);
    s.data = h;
  } else {
    s.data = f;
  }
  s.r = (ma_rows){s.data, t, n, d};
  return s;
}

static void copy_row(rowset *dst, int64_t i, const rowset *src, int64_t j, int64_t d)
{
  size_t e = dst->r.type == MA_F16 ? 2 : 4;
  assert_int_equal(dst->r.type, src->r.type);
  memcpy((char *)dst->data + (size_t)(i * d) * e, (const char *)src->data + (size_t)(j * d) * e, (size_t)d * e);
}

/* Runs topk_exact and ip_ref_topk and requires the same bits. Returns the stats. */
static topk_exact_stats check(const ma_rows *x, const ma_rows *y, int64_t d, const int64_t *y_ids, int k, float t,
                              const ip_blocking *b)
{
  int64_t n = x->rows;
  int64_t *ids = malloc((size_t)(n * k + 1) * sizeof *ids), *rids = malloc((size_t)(n * k + 1) * sizeof *rids);
  float *sims = malloc((size_t)(n * k + 1) * sizeof *sims), *rsims = malloc((size_t)(n * k + 1) * sizeof *rsims);
  int64_t *cnt = malloc((size_t)(n + 1) * sizeof *cnt), *rcnt = malloc((size_t)(n + 1) * sizeof *rcnt);
  topk_exact_stats st = {0, 0};
  assert_int_equal(topk_exact(x, y, d, y_ids, k, t, ids, sims, cnt, b, &st), MA_OK);
  assert_int_equal(ip_ref_topk(x, y, d, k, y_ids, 0, t, rids, rsims, rcnt), MA_OK);
  for (int64_t i = 0; i < n; i++) {
    assert_int_equal(cnt[i], rcnt[i]);
    for (int p = 0; p < k; p++) {
      assert_int_equal(ids[i * k + p], rids[i * k + p]);
      assert_memory_equal(&sims[i * k + p], &rsims[i * k + p], sizeof(float));
    }
  }
  free(ids);
  free(rids);
  free(sims);
  free(rsims);
  free(cnt);
  free(rcnt);
  return st;
}

/* A threshold exactly on the similarity of x row 0 and y row j: the count band is exercised. */
static float sim_of(const ma_rows *x, const ma_rows *y, int64_t j, int64_t d) { return ip_ref_dot(x, 0, y, j, d); }

static void test_against_reference(void **state)
{
  (void)state;
  const int64_t dims[] = {64, 129, 256};
  const ma_dtype types[][2] = {{MA_F32, MA_F32}, {MA_F16, MA_F16}, {MA_F32, MA_F16}, {MA_F16, MA_F32}};
  const ip_blocking blocks[] = {{0, 0, 0, NULL, NULL}, {3, 5, 10, NULL, NULL}, {16, 64, 0, NULL, NULL}};
  for (int di = 0; di < 3; di++)
    for (int ti = 0; ti < 4; ti++) {
      int64_t d = dims[di], nx = 37, ny = 301;
      float *centre = malloc((size_t)d * sizeof *centre);
      for (int64_t c = 0; c < d; c++) centre[c] = (float)(rnd() - 0.5);
      normalise(centre, d);
      rowset x = make_rows(nx, d, types[ti][0], centre), y = make_rows(ny, d, types[ti][1], centre);
      /* exact duplicates in y (ties to break by id), and x rows equal to some of them */
      for (int64_t j = 0; j < 12; j++) copy_row(&y, 200 + j, &y, 10 + j % 4, d);
      if (types[ti][0] == types[ti][1])
        for (int64_t i = 0; i < 5; i++) copy_row(&x, i, &y, 10 + i % 4, d);
      int64_t *ids = malloc((size_t)ny * sizeof *ids);
      for (int64_t j = 0; j < ny; j++) ids[j] = (j * 7919) % 1000003; /* not in row order */
      for (int bi = 0; bi < 3; bi++) {
        check(&x.r, &y.r, d, ids, 1, 0.5f, &blocks[bi]);
        check(&x.r, &y.r, d, NULL, 10, sim_of(&x.r, &y.r, 7, d), &blocks[bi]);
        topk_exact_stats st = check(&x.r, &y.r, d, ids, 5, sim_of(&x.r, &y.r, 200, d), &blocks[bi]);
        assert_true(st.rescored > 0);
      }
      /* k beyond y: padded with (-1, -INFINITY) like the reference */
      ma_rows small = {y.data, y.r.type, 6, d};
      check(&x.r, &small, d, ids, 10, 0.9f, NULL);
      free(ids);
      free(x.data);
      free(y.data);
      free(centre);
    }
}

/* More exact ties at the k-th place than the margin keeps: those rows are recomputed in full. */
static void test_fallback(void **state)
{
  (void)state;
  int64_t d = 48, ny = 200;
  rowset x = make_rows(4, d, MA_F32, NULL), y = make_rows(ny, d, MA_F32, NULL);
  for (int64_t j = 0; j < 60; j++) copy_row(&y, 100 + j, &y, 3, d);
  copy_row(&x, 0, &y, 3, d);
  int64_t *ids = malloc((size_t)ny * sizeof *ids);
  for (int64_t j = 0; j < ny; j++) ids[j] = ny - j; /* the later copies have the lower ids */
  ip_blocking b = {2, 7, 0, NULL, NULL};
  topk_exact_stats st = check(&x.r, &y.r, d, ids, 5, 0.99f, &b);
  assert_true(st.fallback_rows >= 1);
  free(ids);
  free(x.data);
  free(y.data);
}

static void test_dot(void **state)
{
  (void)state;
  const int64_t dims[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 255, 256, 257, 511, 513, 700};
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
    for (int t = 0; t < 4; t++) {
      int64_t d = dims[di];
      rowset x = make_rows(3, d, t & 1 ? MA_F16 : MA_F32, NULL), y = make_rows(3, d, t & 2 ? MA_F16 : MA_F32, NULL);
      for (int64_t i = 0; i < 3; i++)
        for (int64_t j = 0; j < 3; j++) {
          float a = topk_exact_dot(&x.r, i, &y.r, j, d), b = ip_ref_dot(&x.r, i, &y.r, j, d);
          assert_memory_equal(&a, &b, sizeof a);
        }
      free(x.data);
      free(y.data);
    }
  assert_true(topk_exact_band(256) > 1e-5f && topk_exact_band(256) < 1e-4f);
}

/* topk_exact_dots: each of 0 to 11 dots of one x row (groups of 4, a part group, repeated columns) the
 * bits of ip_ref_dot, at dimensions around the 16 lanes and the 256-element steps, float32 and float16,
 * and with an x row of +-1 alternating (terms of both signs that cancel, where an order change would show). */
static void test_dots(void **state)
{
  (void)state;
  const int64_t dims[] = {1, 3, 15, 16, 17, 100, 255, 256, 257, 513, 768};
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
    for (int t = 0; t < 4; t++) {
      int64_t d = dims[di];
      rowset x = make_rows(2, d, t & 1 ? MA_F16 : MA_F32, NULL), y = make_rows(12, d, t & 2 ? MA_F16 : MA_F32, NULL);
      if (t == 3) /* x in float16: +1, -1, +1, ... */
        for (int64_t c = 0; c < d; c++) {
          uint16_t one = (uint16_t)(c % 2 ? 0xBC00 : 0x3C00); /* -1, 1 in float16 */
          ((uint16_t *)x.data)[c] = one;
        }
      for (int64_t n = 0; n <= 11; n++) {
        int64_t js[11];
        float e[11];
        for (int64_t m = 0; m < n; m++) js[m] = (m * 5 + n) % 12 / (m == 3 ? 2 : 1);
        topk_exact_dots(&x.r, 0, &y.r, js, n, d, e);
        for (int64_t m = 0; m < n; m++) {
          float b = ip_ref_dot(&x.r, 0, &y.r, js[m], d);
          assert_memory_equal(&e[m], &b, sizeof b);
        }
      }
      free(x.data);
      free(y.data);
    }
}

/* Dots with pairs of huge terms of opposite signs among small ones, so that the double sums depend on
 * the order of every addition (a small term added to a huge one before it cancels is lost), the fold's
 * included: a vector version that adds in another order shows here, where rows of similar terms
 * (test_dot) rarely tell. */
static void test_dot_orders(void **state)
{
  (void)state;
  const int64_t dims[] = {16, 37, 256, 300};
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
    int64_t d = dims[di], ny = 12;
    float *x = malloc((size_t)(4 * d) * sizeof *x), *y = malloc((size_t)(ny * d) * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    char *huge = calloc((size_t)d, 1); /* columns where some x row has a huge term: y is 1 there */
    assert_non_null(huge);
    for (int64_t c = 0; c < 4 * d; c++) x[c] = (float)(rnd() - 0.5);
    for (int64_t i = 0; i < 4; i++) /* pairs of +-2^k, k in [20, 60), that cancel once they meet */
      for (int64_t p = 0; p < d / 8 + 1; p++) {
        float big = ldexpf(1.0f, 20 + (int)(rnd() * 40));
        int64_t c0 = (int64_t)(rnd() * d), c1 = (int64_t)(rnd() * d);
        x[i * d + c0] = big;
        x[i * d + c1] = -big;
        huge[c0] = huge[c1] = 1;
      }
    for (int64_t c = 0; c < ny * d; c++) y[c] = huge[c % d] ? 1.0f : (float)(1.0 + rnd());
    free(huge);
    ma_rows xr = {x, MA_F32, 4, d}, yr = {y, MA_F32, ny, d};
    int64_t js[12];
    float e[12];
    for (int64_t j = 0; j < ny; j++) js[j] = j;
    for (int64_t i = 0; i < 4; i++) {
      topk_exact_dots(&xr, i, &yr, js, ny, d, e);
      for (int64_t j = 0; j < ny; j++) {
        float a = topk_exact_dot(&xr, i, &yr, j, d), b = ip_ref_dot(&xr, i, &yr, j, d);
        assert_memory_equal(&a, &b, sizeof a);
        assert_memory_equal(&e[j], &b, sizeof b);
      }
    }
    free(x);
    free(y);
  }
}

static void test_merge_inplace(void **state)
{
  (void)state;
  for (int trial = 0; trial < 500; trial++) {
    int k = 1 + (int)(rnd() * 12);
    int64_t ia[16], ib[16], oi[16];
    float sa[16], sb[16], os[16];
    int fa = (int)(rnd() * (k + 1)), fb = (int)(rnd() * (k + 1)); /* filled slots */
    float prev = 1;
    for (int p = 0; p < k; p++) { /* sorted, with ties (coarse values), ids even in a, odd in b */
      prev -= (float)(floor(rnd() * 3) / 8);
      sa[p] = p < fa ? prev : -INFINITY;
      ia[p] = p < fa ? 2 * (int64_t)(rnd() * 50) : -1;
    }
    prev = 1;
    for (int p = 0; p < k; p++) {
      prev -= (float)(floor(rnd() * 3) / 8);
      sb[p] = p < fb ? prev : -INFINITY;
      ib[p] = p < fb ? 2 * (int64_t)(rnd() * 50) + 1 : -1;
    }
    /* ties inside one list must be in id order */
    for (int p = 1; p < fa; p++)
      if (sa[p] == sa[p - 1] && ia[p] < ia[p - 1]) ia[p] = ia[p - 1] + 2;
    for (int p = 1; p < fb; p++)
      if (sb[p] == sb[p - 1] && ib[p] < ib[p - 1]) ib[p] = ib[p - 1] + 2;
    topk_merge(k, ia, sa, ib, sb, oi, os);
    topk_merge_inplace(k, ia, sa, ib, sb);
    for (int p = 0; p < k; p++) {
      assert_int_equal(ib[p], oi[p]);
      assert_memory_equal(&sb[p], &os[p], sizeof(float));
    }
  }
}

static void test_errors(void **state)
{
  (void)state;
  rowset x = make_rows(2, 8, MA_F32, NULL);
  int64_t ids[4];
  float sims[4];
  assert_int_equal(topk_exact(&x.r, &x.r, 8, NULL, 0, 0.5f, ids, sims, NULL, NULL, NULL), MA_ERR_USAGE);
  assert_int_equal(topk_exact(&x.r, &x.r, 0, NULL, 2, 0.5f, ids, sims, NULL, NULL, NULL), MA_ERR_USAGE);
  assert_int_equal(topk_exact(&x.r, &x.r, 8, NULL, 2, 0.5f, NULL, sims, NULL, NULL, NULL), MA_ERR_USAGE);
  /* empty y: empty lists, zero counts */
  ma_rows none = {x.data, MA_F32, 0, 8};
  int64_t cnt[2] = {7, 7};
  assert_int_equal(topk_exact(&x.r, &none, 8, NULL, 2, 0.5f, ids, sims, cnt, NULL, NULL), MA_OK);
  assert_true(ids[0] == -1 && ids[3] == -1 && sims[1] == -INFINITY && cnt[0] == 0 && cnt[1] == 0);
  free(x.data);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_against_reference),
      cmocka_unit_test(test_fallback),
      cmocka_unit_test(test_dot),
      cmocka_unit_test(test_dots),
      cmocka_unit_test(test_dot_orders),
      cmocka_unit_test(test_merge_inplace),
      cmocka_unit_test(test_errors),
  };
  /* every test on every path this CPU can force, the hardware's last */
  int failed = 0;
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    failed += cmocka_run_group_tests_name(cpu_isa_name((cpu_isa)isa), tests, NULL, NULL);
  }
  return failed;
}
