/* The .npy header parser: the headers numpy writes at each version, and what it refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "io/npy.h"

/* A file's first bytes: magic, version, header length (2 or 4 bytes), the header text. */
static size_t make(unsigned char *buf, int major, const char *header)
{
  size_t n = strlen(header), pre = major == 1 ? 10 : 12;
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  buf[8] = (unsigned char)(n & 0xff);
  buf[9] = (unsigned char)(n >> 8);
  if (major != 1) buf[10] = buf[11] = 0;
  memcpy(buf + pre, header, n);
  return pre + n;
}

static void test_versions(void **state)
{
  (void)state;
  unsigned char buf[512];
  npy_header h;
  for (int major = 1; major <= 3; major++) {
    size_t n = make(buf, major, "{'descr': '<f2', 'fortran_order': False, 'shape': (1000, 512), }   \n");
    assert_int_equal(npy_parse("x.npy", buf, n, &h), MA_OK);
    assert_int_equal(h.major, major);
    assert_int_equal(h.rows, 1000);
    assert_int_equal(h.cols, 512);
    assert_int_equal(h.esize, 2);
    assert_int_equal(h.body, (int64_t)n);
  }
  size_t n = make(buf, 1, "{\"shape\":(3,4),\"descr\":\"<f4\",\"fortran_order\":False}\n");
  assert_int_equal(npy_parse("x.npy", buf, n, &h), MA_OK);
  assert_int_equal(h.esize, 4);
  assert_int_equal(h.rows, 3);
  n = make(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }\n");
  assert_int_equal(npy_parse("x.npy", buf, n, &h), MA_OK);
  assert_int_equal(h.cols, 4);
}

static void test_refused(void **state)
{
  (void)state;
  static const char *bad[] = {
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
      "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }",
      "{'descr': '|O', 'fortran_order': False, 'shape': (3, 4), }",
      "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,), }",
      "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, 5), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
      "{'descr': '<f4', 'fortran_order': False, }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (-3, 4), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), 'extra': 1}",
      "['descr', '<f4']",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4)",
  };
  unsigned char buf[512];
  npy_header h;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    size_t n = make(buf, 1, bad[i]);
    assert_int_equal(npy_parse("x.npy", buf, n, &h), MA_ERR_DATA);
  }
  size_t n = make(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
  assert_int_equal(npy_parse("x.npy", buf, n - 5, &h), MA_ERR_DATA); /* header cut short */
  buf[6] = 4;
  assert_int_equal(npy_parse("x.npy", buf, n, &h), MA_ERR_DATA); /* version 4.0 */
  assert_false(npy_magic((const unsigned char *)"\x89HDF\r\n", 6));
  ma_err_clear();
}

int main(void)
{
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_versions), cmocka_unit_test(test_refused)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
