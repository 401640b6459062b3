/* The one CPU decision of the process: which instruction-set path the kernels take.
 *
 * The CPU is asked once (CPUID through the compiler's cpu-indicator, and XGETBV for the OS's register
 * state), the answer is cached, and every kernel asks cpu_isa_active() for its path: nothing calls CPUID in a
 * loop (CPUID traps to the hypervisor on a virtual machine and costs microseconds there).
 *
 * The environment variable MEMAUDIT_ISA=scalar|avx2|avx512 forces a lower path; a path above what the
 * CPU runs is lowered to the best it has, with a warning. Every path gives the same bits (each vector
 * kernel is tested against its scalar reference on every path the machine can force).
 *
 * Adding a path: a value here, its test in detect() (cpu.c), its name in cpu_isa_name(), then a vector
 * version of each kernel in kernels/ behind `if (cpu_isa_active() >= CPU_ISA_NEW)`, and the kernel's cmocka
 * test loops over it through cpu_isa_force(). */
#ifndef MA_CPU_H
#define MA_CPU_H

#include "core/status.h"

typedef enum {
  CPU_ISA_SCALAR = 0, /* portable C; the reference every vector path is tested against */
  CPU_ISA_AVX2 = 1,   /* x86-64 AVX2 + FMA + F16C (Haswell, AMD Zen 1-3) */
  CPU_ISA_AVX512 = 2  /* the above + AVX-512 F, DQ, BW, VL (Skylake-SP, Ice Lake, Zen 4/5) */
} cpu_isa;

/* The path the kernels take: the best this CPU runs, lowered by MEMAUDIT_ISA or cpu_isa_force().
 * Cached after the first call. Not collective. */
cpu_isa cpu_isa_active(void);

/* The best path this CPU (and its OS) runs, whatever MEMAUDIT_ISA says. Not collective. */
cpu_isa cpu_isa_hardware(void);

/* Checks MEMAUDIT_ISA and fixes the path; MA_ERR_USAGE for a value that names no path. Returns with a
 * message in *warning (static text, "" for none) when it asked for more than the CPU has. Call once at
 * start; cpu_isa_active() calls it itself (ignoring a bad value) if nobody did. Not collective. */
ma_status cpu_init(const char **warning);

/* Forces the path to min(isa, cpu_isa_hardware()) and returns it: for tests that run every path. Not
 * collective. */
cpu_isa cpu_isa_force(cpu_isa isa);

/* "scalar", "avx2", "avx512". Not collective. */
const char *cpu_isa_name(cpu_isa isa);

/* OpenBLAS's name for the core its kernels were chosen for ("Haswell", "SkylakeX", "Zen", ...). Not
 * collective. */
const char *cpu_blas_core(void);

#endif
