/* rows_normalize and its reference: unit norms, the first bad row found with the right kind, and the
 * same bits from both. */
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
#include "kernels/rowops.h"

typedef int64_t (*normalize_fn)(float *x, int64_t n, int64_t d, int64_t ld, int *bad_kind);
static const normalize_fn versions[] = {rows_normalize, rows_normalize_ref};
enum { VERSIONS = sizeof versions / sizeof versions[0] };

static double row_norm(const float *x, int64_t d)
{
  double s = 0;
  for (int64_t j = 0; j < d; j++)
    s += (double)x[j] * x[j];
  return sqrt(s);
}

/* n rows of d values with stride ld; the padding holds a sentinel. */
static float *make_rows(int64_t n, int64_t d, int64_t ld, uint64_t seed)
{
  float *x = malloc((size_t)(n * ld) * sizeof *x);
  assert_non_null(x);
  for (int64_t r = 0; r < n; r++)
    for (int64_t j = 0; j < ld; j++)
      x[r * ld + j] = j < d ? (float)(rng_normal(seed, 0, (uint64_t)(r * ld + j)) * 3.0) : 42.0f;
  return x;
}

static void test_unit_norms(void **state)
{
  (void)state;
  const int64_t shapes[][3] = {{50, 256, 256}, {33, 7, 9}, {10, 1, 1}, {10, 1, 3}, {5, 1000, 1003}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] * VERSIONS; s++) {
    int64_t n = shapes[s / VERSIONS][0], d = shapes[s / VERSIONS][1], ld = shapes[s / VERSIONS][2];
    float *x = make_rows(n, d, ld, s);
    int kind = -1;
    assert_int_equal(versions[s % VERSIONS](x, n, d, ld, &kind), -1);
    assert_int_equal(kind, ROWS_OK);
    for (int64_t r = 0; r < n; r++) {
      assert_true(fabs(row_norm(x + r * ld, d) - 1.0) < 1e-6);
      for (int64_t j = d; j < ld; j++)
        assert_true(x[r * ld + j] == 42.0f);
    }
    free(x);
  }
}

/* d = 1: every nonzero value becomes its sign. */
static void test_d1(void **state)
{
  (void)state;
  for (int v = 0; v < VERSIONS; v++) {
    float x[4] = {3.5f, -1e-30f, 1e30f, -7.0f};
    assert_int_equal(versions[v](x, 4, 1, 1, NULL), -1);
    assert_true(x[0] == 1.0f && x[1] == -1.0f && x[2] == 1.0f && x[3] == -1.0f);
  }
}

/* Tiny and huge rows still normalise (no underflow or overflow in the norm). */
static void test_extreme_scales(void **state)
{
  (void)state;
  for (int v = 0; v < VERSIONS; v++) {
    float x[2][3] = {{1e-40f, 2e-40f, 0.0f}, {3e38f, -3e38f, 3e38f}};
    assert_int_equal(versions[v](&x[0][0], 2, 3, 3, NULL), -1);
    assert_true(fabs(row_norm(x[0], 3) - 1.0) < 1e-6);
    assert_true(fabs(row_norm(x[1], 3) - 1.0) < 1e-6);
  }
}

static void check_bad(normalize_fn normalize, int64_t n, int64_t d, int64_t ld, int64_t bad_row, int64_t bad_col, float value,
                      int want_kind)
{
  float *x = make_rows(n, d, ld, 9);
  float *orig = malloc((size_t)(n * ld) * sizeof *orig);
  assert_non_null(orig);
  if (want_kind == ROWS_ZERO)
    for (int64_t j = 0; j < d; j++)
      x[bad_row * ld + j] = (j % 2) ? -0.0f : 0.0f;
  else
    x[bad_row * ld + bad_col] = value;
  for (int64_t k = 0; k < n * ld; k++)
    orig[k] = x[k];
  int kind = -1;
  assert_int_equal(normalize(x, n, d, ld, &kind), bad_row);
  assert_int_equal(kind, want_kind);
  for (int64_t r = 0; r < bad_row; r++)
    assert_true(fabs(row_norm(x + r * ld, d) - 1.0) < 1e-6);
  for (int64_t k = bad_row * ld; k < n * ld; k++) /* the bad row and those after it: untouched */
    assert_memory_equal(&x[k], &orig[k], sizeof x[k]);
  free(x);
  free(orig);
}

static void test_bad_rows(void **state)
{
  (void)state;
  for (int v = 0; v < VERSIONS; v++) {
    check_bad(versions[v], 20, 64, 64, 13, 5, NAN, ROWS_NONFINITE);
    check_bad(versions[v], 20, 64, 70, 0, 63, -NAN, ROWS_NONFINITE);
    check_bad(versions[v], 20, 64, 64, 19, 0, INFINITY, ROWS_NONFINITE);
    check_bad(versions[v], 20, 64, 64, 7, 40, -INFINITY, ROWS_NONFINITE);
    check_bad(versions[v], 20, 37, 37, 6, 36, INFINITY, ROWS_NONFINITE); /* in the tail of a row */
    check_bad(versions[v], 20, 64, 64, 4, 0, 0.0f, ROWS_ZERO);
    check_bad(versions[v], 20, 1, 1, 11, 0, 0.0f, ROWS_ZERO);
    check_bad(versions[v], 20, 1, 2, 3, 0, NAN, ROWS_NONFINITE);
  }
}

/* The first bad row wins, whatever its kind; n = 0 is fine. */
static void test_first_bad_row_wins(void **state)
{
  (void)state;
  for (int v = 0; v < VERSIONS; v++) {
    float x[4][2] = {{1, 1}, {0, 0}, {NAN, 1}, {2, 2}};
    int kind = -1;
    assert_int_equal(versions[v](&x[0][0], 4, 2, 2, &kind), 1);
    assert_int_equal(kind, ROWS_ZERO);
    assert_int_equal(versions[v](&x[2][0], 2, 2, 2, &kind), 0);
    assert_int_equal(kind, ROWS_NONFINITE);
    assert_int_equal(versions[v](&x[0][0], 0, 2, 2, &kind), -1);
    assert_int_equal(kind, ROWS_OK);
  }
}

/* The tuned version gives the reference's bits, for every row length up to 80 and a long one, with
 * values of wildly different sizes; and never writes past d. */
static void test_same_bits_as_ref(void **state)
{
  (void)state;
  enum { N = 9, LD = 2051 };
  float *a = malloc(N * LD * sizeof *a), *b = malloc(N * LD * sizeof *b);
  assert_non_null(a);
  assert_non_null(b);
  for (int64_t d = 1; d <= LD; d = d < 80 ? d + 1 : d + LD / 2) {
    for (int64_t k = 0; k < N * LD; k++) {
      uint64_t h = rng_hash(4, (uint64_t)d, (uint64_t)k);
      a[k] = ldexpf((float)(h >> 40) * 0x1p-24f - 0.5f, (int)(h & 31u) - 16);
    }
    memcpy(b, a, N * LD * sizeof *a);
    assert_int_equal(rows_normalize(a, N, d, LD, NULL), -1);
    assert_int_equal(rows_normalize_ref(b, N, d, LD, NULL), -1);
    assert_memory_equal(a, b, N * LD * sizeof *a);
  }
  free(a);
  free(b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unit_norms), cmocka_unit_test(test_d1),       cmocka_unit_test(test_extreme_scales),
      cmocka_unit_test(test_bad_rows),   cmocka_unit_test(test_first_bad_row_wins), cmocka_unit_test(test_same_bits_as_ref),
  };
  /* every test on every path this CPU can force, the hardware's last */
  int failed = 0;
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    failed += cmocka_run_group_tests_name(cpu_isa_name((cpu_isa)isa), tests, NULL, NULL);
  }
  return failed;
}
