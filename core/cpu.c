/* The CPU decision (see core/cpu.h). */
#include "core/cpu.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define CPU_X86 1
#include <cpuid.h>
#else
#define CPU_X86 0
#endif

/* -1 until decided; then a cpu_isa. Written once per decision, read by every kernel call. */
static int chosen = -1;
static int hardware = -1;

#if CPU_X86
/* CPUID.1:ECX.F16C. GCC 12's __builtin_cpu_supports does not know "f16c"; F16C uses the AVX register
 * state, which the "avx2" test below has already found the OS to save. */
static int has_f16c(void)
{
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

static cpu_isa detect(void)
{
#if CPU_X86
  __builtin_cpu_init();
  /* libgcc's cpu-indicator reports AVX2 and AVX-512 only when XGETBV shows the OS saves their state. */
  int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return CPU_ISA_AVX512;
  if (avx2) return CPU_ISA_AVX2;
#endif
  return CPU_ISA_SCALAR;
}

cpu_isa cpu_isa_hardware(void)
{
  int h = __atomic_load_n(&hardware, __ATOMIC_RELAXED);
  if (h < 0) {
    h = (int)detect();
    __atomic_store_n(&hardware, h, __ATOMIC_RELAXED);
  }
  return (cpu_isa)h;
}

const char *cpu_isa_name(cpu_isa isa)
{
  switch (isa) {
  case CPU_ISA_AVX512: return "avx512";
  case CPU_ISA_AVX2: return "avx2";
  default: return "scalar";
  }
}

static int parse(const char *s, cpu_isa *out)
{
  for (int i = CPU_ISA_SCALAR; i <= CPU_ISA_AVX512; i++)
    if (!strcmp(s, cpu_isa_name((cpu_isa)i))) {
      *out = (cpu_isa)i;
      return 1;
    }
  return 0;
}

/* The path MEMAUDIT_ISA asks for, lowered to the hardware's; *bad when it names no path (then the
 * hardware's), *lowered when it asked for more than the CPU has. */
static cpu_isa from_env(int *bad, int *lowered)
{
  const char *env = getenv("MEMAUDIT_ISA");
  cpu_isa want = cpu_isa_hardware();
  *bad = *lowered = 0;
  if (!env || !*env) return want;
  if (!parse(env, &want)) {
    *bad = 1;
    return cpu_isa_hardware();
  }
  if (want > cpu_isa_hardware()) {
    *lowered = 1;
    want = cpu_isa_hardware();
  }
  return want;
}

ma_status cpu_init(const char **warning)
{
  int bad, lowered;
  cpu_isa isa = from_env(&bad, &lowered);
  __atomic_store_n(&chosen, (int)isa, __ATOMIC_RELAXED);
  if (warning) *warning = lowered ? "MEMAUDIT_ISA asks for a path this CPU does not run; using the best it has" : "";
  if (bad) return ma_fail(MA_ERR_USAGE, "MEMAUDIT_ISA=%s: want scalar, avx2 or avx512", getenv("MEMAUDIT_ISA"));
  return MA_OK;
}

cpu_isa cpu_isa_active(void)
{
  int c = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
  if (c < 0) { /* nobody called cpu_init(): a bad MEMAUDIT_ISA is main's to report */
    int bad, lowered;
    c = (int)from_env(&bad, &lowered);
    __atomic_store_n(&chosen, c, __ATOMIC_RELAXED);
  }
  return (cpu_isa)c;
}

cpu_isa cpu_isa_force(cpu_isa isa)
{
  if (isa > cpu_isa_hardware()) isa = cpu_isa_hardware();
  __atomic_store_n(&chosen, (int)isa, __ATOMIC_RELAXED);
  return isa;
}

const char *cpu_blas_core(void)
{
  const char *name = openblas_get_corename();
  return name && *name ? name : "unknown";
}
