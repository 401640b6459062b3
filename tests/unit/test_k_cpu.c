/* core/cpu: the path can be forced down but never above the hardware; names; MEMAUDIT_ISA parsing by
 * cpu_init (a bad value is MA_ERR_USAGE, a value above the hardware is lowered with a warning). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

static void test_force(void **state)
{
  (void)state;
  cpu_isa hw = cpu_isa_hardware();
  assert_true(hw >= CPU_ISA_SCALAR && hw <= CPU_ISA_AVX512);
  for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; isa++) {
    cpu_isa got = cpu_isa_force((cpu_isa)isa);
    assert_int_equal(got, isa <= (int)hw ? isa : (int)hw); /* lowers, never raises */
    assert_int_equal(cpu_isa_active(), got);
    assert_int_equal(cpu_isa_hardware(), hw);
  }
  cpu_isa_force(hw);
  assert_int_equal(cpu_isa_active(), hw);
}

static void test_names(void **state)
{
  (void)state;
  assert_string_equal(cpu_isa_name(CPU_ISA_SCALAR), "scalar");
  assert_string_equal(cpu_isa_name(CPU_ISA_AVX2), "avx2");
  assert_string_equal(cpu_isa_name(CPU_ISA_AVX512), "avx512");
  assert_non_null(cpu_blas_core());
  assert_true(strlen(cpu_blas_core()) > 0);
}

static void test_env(void **state)
{
  (void)state;
  cpu_isa hw = cpu_isa_hardware();
  const char *warning = NULL;
  for (int isa = CPU_ISA_SCALAR; isa <= CPU_ISA_AVX512; isa++) {
    setenv("MEMAUDIT_ISA", cpu_isa_name((cpu_isa)isa), 1);
    assert_int_equal(cpu_init(&warning), MA_OK);
    assert_int_equal(cpu_isa_active(), isa <= (int)hw ? isa : (int)hw);
    assert_true(isa <= (int)hw ? warning[0] == '\0' : warning[0] != '\0');
  }
  setenv("MEMAUDIT_ISA", "", 1); /* empty: the hardware's */
  assert_int_equal(cpu_init(&warning), MA_OK);
  assert_int_equal(cpu_isa_active(), hw);
  assert_string_equal(warning, "");
  setenv("MEMAUDIT_ISA", "scalar", 1);
  assert_int_equal(cpu_init(NULL), MA_OK);
  unsetenv("MEMAUDIT_ISA");
  assert_int_equal(cpu_init(&warning), MA_OK);
  assert_int_equal(cpu_isa_active(), hw);
  static const char *bad[] = {"sse", "AVX2", "avx2 ", "avx-512", "1"};
  for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
    setenv("MEMAUDIT_ISA", bad[b], 1);
    assert_int_equal(cpu_init(&warning), MA_ERR_USAGE);
    assert_int_equal(cpu_isa_active(), hw); /* a bad value leaves the hardware's path */
    ma_err_clear();
  }
  unsetenv("MEMAUDIT_ISA");
  cpu_isa_force(hw);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_force),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
