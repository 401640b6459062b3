/* Half <-> float conversion: scalar references and the AVX-512F / F16C paths, picked by
 * cpu_isa_active() (a cached load: the CPU is asked once per process, not once per call).
 * The vector loops convert whole blocks and leave the last n % 16 (or n % 8) elements to the
 * reference, which gives the same bits. */
#include "kernels/f16.h"

#include <string.h>

#include "core/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#define F16_X86 1
#include <immintrin.h>
#else
#define F16_X86 0
#endif

float f16_to_f32_ref(uint16_t h)
{
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    /* inf, or NaN made quiet with its payload moved to the top of the float mantissa */
    bits = sign | 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0u);
  } else if (exp != 0) {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else {
    /* zero or subnormal: mant * 2^-24 is exact in float */
    float f = (float)mant * 0x1p-24f;
    return sign ? -f : f;
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t f32_to_f16_ref(float f)
{
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) /* NaN: quiet, payload truncated */
    return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
  if (x >= 0x477ff000u) /* >= 65520, the midpoint above the largest half: inf */
    return (uint16_t)(sign | 0x7c00u);

  uint32_t e = x >> 23;
  uint32_t m;
  int shift;
  if (e >= 113) { /* half normal: rebias; a carry out of the rounding bumps the exponent, as it should */
    m = ((e - 112) << 23) | (x & 0x007fffffu);
    shift = 13;
  } else { /* half subnormal: value = M * 2^(e-150), in units of 2^-24 that is M >> (126 - e) */
    if (e < 102)
      return sign; /* below 2^-25, half the smallest subnormal: rounds to zero */
    m = (x & 0x007fffffu) | 0x00800000u;
    shift = (int)(126 - e);
  }
  uint32_t q = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1u)))
    q++;
  return (uint16_t)(sign | q);
}

#if F16_X86
__attribute__((target("avx512f,f16c"))) static void to_f32_avx512(const uint16_t *in, float *out, int64_t n)
{
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i a = _mm256_loadu_si256((const void *)(in + i));
    __m256i b = _mm256_loadu_si256((const void *)(in + i + 16));
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(a));
    _mm512_storeu_ps(out + i + 16, _mm512_cvtph_ps(b));
  }
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256((const void *)(in + i))));
  for (; i < n; i++)
    out[i] = f16_to_f32_ref(in[i]);
}

__attribute__((target("avx2,fma,f16c"))) static void to_f32_avx2(const uint16_t *in, float *out, int64_t n)
{
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const void *)(in + i))));
  for (; i < n; i++)
    out[i] = f16_to_f32_ref(in[i]);
}

__attribute__((target("avx512f,f16c"))) static void to_f16_avx512(const float *in, uint16_t *out, int64_t n)
{
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256((void *)(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; i++)
    out[i] = f32_to_f16_ref(in[i]);
}

__attribute__((target("avx2,fma,f16c"))) static void to_f16_avx2(const float *in, uint16_t *out, int64_t n)
{
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128((void *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++)
    out[i] = f32_to_f16_ref(in[i]);
}
#endif

void f16_to_f32(const uint16_t *in, float *out, int64_t n)
{
#if F16_X86
  cpu_isa isa = cpu_isa_active();
  if (isa >= CPU_ISA_AVX512) {
    to_f32_avx512(in, out, n);
    return;
  }
  if (isa >= CPU_ISA_AVX2) {
    to_f32_avx2(in, out, n);
    return;
  }
#endif
  for (int64_t i = 0; i < n; i++)
    out[i] = f16_to_f32_ref(in[i]);
}

void f32_to_f16(const float *in, uint16_t *out, int64_t n)
{
#if F16_X86
  cpu_isa isa = cpu_isa_active();
  if (isa >= CPU_ISA_AVX512) {
    to_f16_avx512(in, out, n);
    return;
  }
  if (isa >= CPU_ISA_AVX2) {
    to_f16_avx2(in, out, n);
    return;
  }
#endif
  for (int64_t i = 0; i < n; i++)
    out[i] = f32_to_f16_ref(in[i]);
}
