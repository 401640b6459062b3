/* synth_model: determinism, unit rows, the planted groups (count, sizes, cosines) and the
 * regurgitated samples, and the vector normals against their scalar reference. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/rng.h"
#include "kernels/synth_model.h"

static synth_model *build(int64_t n, int64_t dim, int64_t concepts, double frac, double noise, uint64_t seed)
{
  synth_params p = {.n = n, .dim = dim, .concepts = concepts, .dup_fraction = frac, .dup_noise = noise, .seed = seed};
  synth_model *m = NULL;
  assert_int_equal(synth_model_build(&p, &m), MA_OK);
  assert_non_null(m);
  return m;
}

static double dot(const float *a, const float *b, int64_t d)
{
  double s = 0;
  for (int64_t k = 0; k < d; k++)
    s += (double)a[k] * b[k];
  return s;
}

static void test_normals_match_ref(void **state)
{
  (void)state;
  enum { MAX = 1100 };
  float a[MAX + 2], b[MAX + 2];
  const int64_t sizes[] = {0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 100, 256, 1000, 1024, MAX};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int64_t n = sizes[s];
    for (int k = 0; k < MAX + 2; k++)
      a[k] = b[k] = (float)k * 0.01f;
    uint64_t key = rng_hash(3, 0, (uint64_t)s);
    synth_add_normals(key, 0.37f, a + 1, n);
    synth_add_normals_ref(key, 0.37f, b + 1, n);
    assert_memory_equal(a, b, sizeof a);
    for (int64_t k = n + 1; k < MAX + 2; k++) /* nothing past n */
      assert_true(a[k] == (float)k * 0.01f);
  }
  /* a prefix of a longer sequence is the shorter one */
  memset(a, 0, sizeof a);
  memset(b, 0, sizeof b);
  synth_add_normals(9, 1.0f, a, 100);
  synth_add_normals(9, 1.0f, b, MAX);
  assert_memory_equal(a, b, 100 * sizeof a[0]);
}

static void test_normals_moments(void **state)
{
  (void)state;
  enum { N = 1 << 20 };
  float *z = calloc(N, sizeof *z);
  assert_non_null(z);
  synth_add_normals(77, 1.0f, z, N);
  double s = 0, s2 = 0, s4 = 0;
  int64_t beyond2 = 0;
  for (int64_t k = 0; k < N; k++) {
    s += z[k];
    s2 += (double)z[k] * z[k];
    s4 += (double)z[k] * z[k] * z[k] * z[k];
    beyond2 += fabsf(z[k]) > 2;
    assert_true(fabsf(z[k]) < 5.8f);
  }
  assert_true(fabs(s / N) < 0.005);
  assert_true(fabs(s2 / N - 1) < 0.005);
  assert_true(fabs(s4 / N - 3) < 0.05);
  assert_true(fabs((double)beyond2 / N - 0.0455) < 0.002);
  free(z);
}

/* The same row twice, from one model and from two built apart, is the same bits. */
static void test_deterministic(void **state)
{
  (void)state;
  enum { D = 100 };
  synth_model *m1 = build(5000, D, 30, 0.4, 0.1, 11), *m2 = build(5000, D, 30, 0.4, 0.1, 11);
  synth_model *other = build(5000, D, 30, 0.4, 0.1, 12);
  float a[D], b[D], c[D];
  int64_t differ = 0;
  for (int64_t i = 0; i < 5000; i += 7) {
    int64_t g1, g2, c1, c2;
    synth_row(m1, i, a, &g1, &c1);
    synth_row(m2, i, b, &g2, &c2);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(g1, g2);
    assert_int_equal(c1, c2);
    synth_row(m1, i, b, NULL, NULL);
    assert_memory_equal(a, b, sizeof a);
    synth_row(other, i, c, NULL, NULL);
    differ += memcmp(a, c, sizeof a) != 0;
  }
  assert_int_equal(differ, (5000 + 6) / 7);
  synth_model_free(&m1);
  synth_model_free(&m2);
  synth_model_free(&other);
  assert_null(m1);
}

static void test_unit_rows(void **state)
{
  (void)state;
  const int64_t dims[] = {1, 3, 32, 100, 256};
  for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
    int64_t d = dims[s];
    synth_model *m = build(2000, d, 10, 0.5, 0.2, 5);
    float *x = malloc((size_t)d * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < 2000; i++) {
      synth_row(m, i, x, NULL, NULL);
      assert_true(fabs(sqrt(dot(x, x, d)) - 1) < 1e-5);
    }
    free(x);
    synth_model_free(&m);
  }
}

/* Exactly llround(F n) rows in groups; every group has two or more; mostly pairs, a long tail; uneven
 * concept sizes. */
static void test_group_sizes(void **state)
{
  (void)state;
  enum { N = 100000, D = 4, C = 50 };
  synth_model *m = build(N, D, C, 0.3, 0.1, 2024);
  int64_t groups = synth_model_groups(m);
  assert_int_equal(synth_model_dup_items(m), 30000);
  assert_true(groups > 1000);
  int64_t *size = calloc((size_t)groups, sizeof *size);
  int64_t concept_count[C] = {0};
  assert_non_null(size);
  float x[D];
  int64_t in_groups = 0;
  for (int64_t i = 0; i < N; i++) {
    int64_t g, c;
    synth_row(m, i, x, &g, &c);
    assert_true(g >= -1 && g < groups);
    assert_true(c >= 0 && c < C);
    concept_count[c]++;
    if (g >= 0) {
      size[g]++;
      in_groups++;
    }
  }
  assert_int_equal(in_groups, 30000);
  int64_t pairs = 0, largest = 0;
  for (int64_t g = 0; g < groups; g++) {
    assert_true(size[g] >= 2 && size[g] <= 500);
    pairs += size[g] == 2;
    largest = size[g] > largest ? size[g] : largest;
  }
  assert_true(2 * pairs > groups);
  assert_true(largest >= 50);
  assert_true(concept_count[0] > 8 * concept_count[C - 1]); /* weights 1 : 50^-0.75, 1 : 0.053 */
  assert_true(synth_model_bytes(m) >= (size_t)groups * sizeof(int64_t) + C * D * sizeof(float));
  assert_true(synth_model_bytes(m) < (size_t)groups * sizeof(int64_t) + C * D * sizeof(float) + 4096);
  free(size);
  synth_model_free(&m);
}

/* Edges of the group count: none, all, one lone row, three rows in one group. */
static void test_group_edges(void **state)
{
  (void)state;
  const struct {
    int64_t n;
    double frac;
    int64_t items, groups;
  } cases[] = {{1000, 0.0, 0, 0}, {1, 1.0, 1, 1}, {10, 0.1, 1, 1}, {3, 1.0, 3, 1}, {1000, 1.0, 1000, -1}};
  for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
    synth_model *m = build(cases[s].n, 8, 3, cases[s].frac, 0.1, 1);
    assert_int_equal(synth_model_dup_items(m), cases[s].items);
    if (cases[s].groups >= 0)
      assert_int_equal(synth_model_groups(m), cases[s].groups);
    float x[8];
    int64_t in_groups = 0;
    for (int64_t i = 0; i < cases[s].n; i++) {
      int64_t g;
      synth_row(m, i, x, &g, NULL);
      in_groups += g >= 0;
    }
    assert_int_equal(in_groups, cases[s].items);
    synth_model_free(&m);
  }
}

/* Members of a group are close (cosine about 1/(1+eps^2)); rows outside groups are not, even within
 * a concept (cosine about 1/(1+sigma^2)). */
static void check_cosines(double noise, double lo, double hi)
{
  enum { N = 20000, D = 128, C = 40 };
  synth_model *m = build(N, D, C, 0.3, noise, 99);
  float *x = malloc((size_t)N * D * sizeof *x);
  int64_t *group = malloc(N * sizeof *group), *concept = malloc(N * sizeof *concept);
  assert_non_null(x);
  assert_non_null(group);
  assert_non_null(concept);
  for (int64_t i = 0; i < N; i++)
    synth_row(m, i, x + i * D, &group[i], &concept[i]);

  int64_t *first = malloc((size_t)synth_model_groups(m) * sizeof *first);
  assert_non_null(first);
  for (int64_t g = 0; g < synth_model_groups(m); g++)
    first[g] = -1;
  double min_in = 1, max_in = -1;
  int64_t in_pairs = 0;
  for (int64_t i = 0; i < N; i++) {
    int64_t g = group[i];
    if (g < 0)
      continue;
    if (first[g] < 0) {
      first[g] = i;
      continue;
    }
    double cs = dot(x + i * D, x + first[g] * D, D);
    min_in = cs < min_in ? cs : min_in;
    max_in = cs > max_in ? cs : max_in;
    in_pairs++;
  }
  assert_true(in_pairs > 2000);
  assert_true(min_in >= lo);
  assert_true(max_in <= hi);

  double max_out = -1, same_sum = 0;
  int64_t same = 0;
  for (int64_t k = 0; k < 200000; k++) {
    int64_t i = rng_below(1, 0, (uint64_t)k, N), j = rng_below(2, 0, (uint64_t)k, N);
    if (i == j || group[i] >= 0 || group[j] >= 0)
      continue;
    double cs = dot(x + i * D, x + j * D, D);
    max_out = cs > max_out ? cs : max_out;
    if (concept[i] == concept[j]) {
      same_sum += cs;
      same++;
    }
  }
  assert_true(max_out < 0.8);
  assert_true(same > 1000);
  assert_true(same_sum / same > 0.28 - 0.05 && same_sum / same < 0.61 + 0.05);
  free(first);
  free(x);
  free(group);
  free(concept);
  synth_model_free(&m);
}

static void test_group_cosines(void **state)
{
  (void)state;
  check_cosines(0.1, 0.975, 1.0);   /* eps in [0.05, 0.1]: 1/(1+eps^2) in [0.990, 0.998] */
  check_cosines(0.2, 0.93, 0.995);  /* eps in [0.1, 0.2]: [0.962, 0.990] */
}

/* Exactly llround(r count) samples are copies, each within cosine 0.99 of the row it copies; the
 * others are new items. A holdout seed places them elsewhere. */
static void test_generated(void **state)
{
  (void)state;
  enum { N = 5000, D = 64, COUNT = 3000 };
  synth_model *m = build(N, D, 20, 0.3, 0.1, 8);
  float x[D], y[D], train[D];
  int64_t copies = 0, same_place = 0;
  for (int64_t j = 0; j < COUNT; j++) {
    int64_t src, from, src2, from2;
    synth_generated_row(m, 1, 0.137, COUNT, j, x, &src, &from);
    synth_generated_row(m, 1, 0.137, COUNT, j, y, &src2, &from2);
    assert_memory_equal(x, y, sizeof x);
    assert_int_equal(src, src2);
    assert_int_equal(from, from2);
    assert_true(src >= 0 && src < N);
    assert_true(fabs(sqrt(dot(x, x, D)) - 1) < 1e-5);
    synth_row(m, src, train, NULL, NULL);
    if (from >= 0) {
      assert_int_equal(from, src);
      assert_true(dot(x, train, D) >= 0.99);
      copies++;
    } else {
      assert_true(dot(x, train, D) < 0.9);
    }
    synth_generated_row(m, 2, 0.137, COUNT, j, y, &src2, &from2);
    same_place += (from >= 0) && (from2 >= 0);
  }
  assert_int_equal(copies, llround(0.137 * COUNT));
  assert_true(same_place < 2 * 411 * 411 / COUNT + 60); /* independent placements overlap by about 56 */
  for (int64_t j = 0; j < 50; j++) {
    int64_t src, from;
    synth_generated_row(m, 1, 0.0, COUNT, j, x, &src, &from);
    assert_int_equal(from, -1);
    synth_generated_row(m, 1, 1.0, COUNT, j, x, &src, &from);
    assert_int_equal(from, src);
  }
  synth_model_free(&m);
}

static void test_bad_params(void **state)
{
  (void)state;
  const synth_params good = {.n = 10, .dim = 4, .concepts = 2, .dup_fraction = 0.5, .dup_noise = 0.1, .seed = 1};
  synth_model *valid = build(10, 4, 2, 0.5, 0.1, 1);
  for (int k = 0; k < 10; k++) {
    synth_params p = good;
    switch (k) {
    case 0: p.n = 0; break;
    case 1: p.dim = 0; break;
    case 2: p.concepts = -1; break;
    case 3: p.dup_fraction = -0.1; break;
    case 4: p.dup_fraction = 1.01; break;
    case 5: p.dup_fraction = NAN; break;
    case 6: p.dup_noise = -1; break;
    case 7: p.dup_noise = INFINITY; break;
    case 8: p.dup_noise = NAN; break;
    default: p.dim = INT64_MAX / 2; p.concepts = 3; break;
    }
    ma_err_clear();
    synth_model *m = valid; /* must come back NULL */
    assert_int_equal(synth_model_build(&p, &m), MA_ERR_USAGE);
    assert_null(m);
    assert_true(strncmp(ma_errmsg(), "synth: ", 7) == 0);
  }
  ma_err_clear();
  synth_model_free(&valid);
  synth_model_free(&valid); /* a NULL model is fine */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_normals_match_ref), cmocka_unit_test(test_normals_moments),
      cmocka_unit_test(test_deterministic),     cmocka_unit_test(test_unit_rows),
      cmocka_unit_test(test_group_sizes),       cmocka_unit_test(test_group_edges),
      cmocka_unit_test(test_group_cosines),     cmocka_unit_test(test_generated),
      cmocka_unit_test(test_bad_params),
  };
  /* every test on every path this CPU can force, the hardware's last */
  int failed = 0;
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    failed += cmocka_run_group_tests_name(cpu_isa_name((cpu_isa)isa), tests, NULL, NULL);
  }
  return failed;
}
