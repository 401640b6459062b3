/* Option parsing, the input spec split and the row split over ranks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/h5in.h"
#include "jobs/options.h"
#include "mpi/comm.h"

static void test_int64(void **state)
{
  (void)state;
  int64_t v;
  assert_int_equal(opts_int64("42", "--n", 1, 100, &v), MA_OK);
  assert_int_equal(v, 42);
  assert_int_equal(opts_int64("0", "--n", 1, 100, &v), MA_ERR_USAGE);
  assert_int_equal(opts_int64("-3", "--clusters", 1, 100, &v), MA_ERR_USAGE);
  assert_int_equal(opts_int64("12x", "--n", 1, 100, &v), MA_ERR_USAGE);
  assert_int_equal(opts_int64("", "--n", 1, 100, &v), MA_ERR_USAGE);
  assert_int_equal(opts_int64("99999999999999999999", "--n", 1, INT64_MAX, &v), MA_ERR_USAGE);
  ma_err_clear();
}

static void test_double(void **state)
{
  (void)state;
  double v;
  assert_int_equal(opts_double("0.95", "--threshold", -1, 1, &v), MA_OK);
  assert_true(v == 0.95);
  assert_int_equal(opts_double("1.01", "--threshold", -1, 1, &v), MA_ERR_USAGE);
  assert_int_equal(opts_double("-1.5", "--threshold", -1, 1, &v), MA_ERR_USAGE);
  assert_int_equal(opts_double("nan", "--threshold", -1, 1, &v), MA_ERR_USAGE);
  assert_int_equal(opts_double("0.9.1", "--threshold", -1, 1, &v), MA_ERR_USAGE);
  double *list;
  int n;
  assert_int_equal(opts_double_list("0.95,0.9,0.99", "--threshold", -1, 1, &list, &n), MA_OK);
  assert_int_equal(n, 3);
  assert_true(list[1] == 0.9 && list[2] == 0.99);
  free(list);
  assert_int_equal(opts_double_list("0.95,,0.9", "--threshold", -1, 1, &list, &n), MA_ERR_USAGE);
  assert_int_equal(opts_double_list("0.95,2", "--threshold", -1, 1, &list, &n), MA_ERR_USAGE);
  ma_err_clear();
}

static void test_size(void **state)
{
  (void)state;
  int64_t v;
  assert_int_equal(opts_size("512M", "--mem-per-rank", &v), MA_OK);
  assert_int_equal(v, 512LL << 20);
  assert_int_equal(opts_size("4G", "--mem-per-rank", &v), MA_OK);
  assert_int_equal(v, 4LL << 30);
  assert_int_equal(opts_size("1.5g", "--mem-per-rank", &v), MA_OK);
  assert_int_equal(v, 3LL << 29);
  assert_int_equal(opts_size("1000", "--mem-per-rank", &v), MA_OK);
  assert_int_equal(v, 1000);
  assert_int_equal(opts_size("2GB", "--mem-per-rank", &v), MA_OK);
  assert_int_equal(opts_size("lots", "--mem-per-rank", &v), MA_ERR_USAGE);
  assert_int_equal(opts_size("-1G", "--mem-per-rank", &v), MA_ERR_USAGE);
  assert_int_equal(opts_size("4X", "--mem-per-rank", &v), MA_ERR_USAGE);
  ma_err_clear();
}

static void test_inputs(void **state)
{
  (void)state;
  char tmpl[] = "/tmp/ma-list-XXXXXX";
  int fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  const char *text = "a.h5\n  b.h5:/x/emb  \n\n# comment\nc.h5\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  ma_opts o;
  opts_init(&o);
  char at[64];
  snprintf(at, sizeof at, "@%s", tmpl);
  assert_int_equal(opts_add_input(&o, "first.h5"), MA_OK);
  assert_int_equal(opts_add_input(&o, at), MA_OK);
  assert_int_equal(o.ninputs, 4);
  assert_string_equal(o.inputs[2], "b.h5:/x/emb");
  assert_string_equal(o.inputs[3], "c.h5");
  assert_int_equal(opts_add_input(&o, "@/nonexistent/list"), MA_ERR_USAGE);
  opts_free(&o);
  unlink(tmpl);
  ma_err_clear();

  char *path, *dset;
  assert_int_equal(h5in_split_spec("data/x.h5", &path, &dset), MA_OK);
  assert_string_equal(path, "data/x.h5");
  assert_string_equal(dset, "/embeddings");
  free(path);
  free(dset);
  assert_int_equal(h5in_split_spec("we:ird/x.h5:/g/emb", &path, &dset), MA_OK);
  assert_string_equal(path, "we:ird/x.h5");
  assert_string_equal(dset, "/g/emb");
  free(path);
  free(dset);
  assert_int_equal(h5in_split_spec(":/emb", &path, &dset), MA_ERR_USAGE);
  ma_err_clear();
}

static void test_shard_range(void **state)
{
  (void)state;
  const int64_t ns[] = {0, 1, 3, 4, 5, 7, 1000, 1001, 123457};
  for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
    for (int p = 1; p <= 7; p++) {
      int64_t next = 0, smallest = INT64_MAX, largest = 0;
      for (int r = 0; r < p; r++) {
        int64_t lo, hi;
        shard_range(ns[t], p, r, &lo, &hi);
        assert_int_equal(lo, next);
        assert_true(hi >= lo);
        for (int64_t g = lo; g < hi; g += 1 + (hi - lo) / 17) assert_int_equal(shard_owner(ns[t], p, g), r);
        if (hi > lo) assert_int_equal(shard_owner(ns[t], p, hi - 1), r);
        smallest = hi - lo < smallest ? hi - lo : smallest;
        largest = hi - lo > largest ? hi - lo : largest;
        next = hi;
      }
      assert_int_equal(next, ns[t]);
      assert_true(largest - smallest <= 1);
    }
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int64),  cmocka_unit_test(test_double),      cmocka_unit_test(test_size),
      cmocka_unit_test(test_inputs), cmocka_unit_test(test_shard_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
