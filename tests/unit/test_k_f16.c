/* f16: every vector path against the scalar reference, bit for bit, and the reference against the
 * rounding rules it claims. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/f16.h"
#include "kernels/rng.h"

static uint32_t bits_of(float f)
{
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

static float float_of(uint32_t b)
{
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

/* All 65536 halves, through each path, against the reference; NaNs too, since the reference quiets
 * them the way the hardware does. */
static void test_to_f32_all_inputs(void **state)
{
  (void)state;
  enum { N = 65536 };
  uint16_t *in = malloc(N * sizeof *in);
  float *out = malloc(N * sizeof *out);
  assert_non_null(in);
  assert_non_null(out);
  for (int i = 0; i < N; i++)
    in[i] = (uint16_t)i;
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    f16_to_f32(in, out, N);
    for (int i = 0; i < N; i++) {
      float r = f16_to_f32_ref(in[i]);
      if (isnan(r))
        assert_true(isnan(out[i]));
      assert_int_equal(bits_of(out[i]), bits_of(r));
    }
  }
  cpu_isa_force(cpu_isa_hardware());
  free(in);
  free(out);
}

static void test_to_f32_values(void **state)
{
  (void)state;
  assert_true(f16_to_f32_ref(0x0000) == 0.0f && !signbit(f16_to_f32_ref(0x0000)));
  assert_true(f16_to_f32_ref(0x8000) == 0.0f && signbit(f16_to_f32_ref(0x8000)));
  assert_true(f16_to_f32_ref(0x0001) == 0x1p-24f);
  assert_true(f16_to_f32_ref(0x03ff) == 1023 * 0x1p-24f);
  assert_true(f16_to_f32_ref(0x0400) == 0x1p-14f);
  assert_true(f16_to_f32_ref(0x3c00) == 1.0f);
  assert_true(f16_to_f32_ref(0xc000) == -2.0f);
  assert_true(f16_to_f32_ref(0x7bff) == 65504.0f);
  assert_true(isinf(f16_to_f32_ref(0x7c00)) && f16_to_f32_ref(0x7c00) > 0);
  assert_true(isinf(f16_to_f32_ref(0xfc00)) && f16_to_f32_ref(0xfc00) < 0);
  assert_int_equal(bits_of(f16_to_f32_ref(0x7c01)), 0x7fc02000u);
  assert_int_equal(bits_of(f16_to_f32_ref(0xfe00)), 0xffc00000u);
}

/* Every length 0..70 from an unaligned start, so the block loops and their tails all run. */
static void test_tails(void **state)
{
  (void)state;
  uint16_t h[72], h2[72];
  float f[72], f2[72];
  for (int i = 0; i < 72; i++) {
    h[i] = (uint16_t)(rng_hash(1, 0, (uint64_t)i) >> 48);
    f[i] = (float)(rng_normal(1, 1, (uint64_t)i) * 1000.0);
  }
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    for (int n = 0; n <= 70; n++) {
      memset(f2, 0, sizeof f2);
      memset(h2, 0, sizeof h2);
      f16_to_f32(h + 1, f2 + 1, n);
      f32_to_f16(f + 1, h2 + 1, n);
      for (int i = 1; i <= n; i++) {
        assert_int_equal(bits_of(f2[i]), bits_of(f16_to_f32_ref(h[i])));
        assert_int_equal(h2[i], f32_to_f16_ref(f[i]));
      }
      assert_int_equal(bits_of(f2[0]), 0);
      assert_int_equal(bits_of(f2[n + 1]), 0);
      assert_int_equal(h2[0], 0);
      assert_int_equal(h2[n + 1], 0);
    }
  }
  cpu_isa_force(cpu_isa_hardware());
}

static void check_to_f16(const float *in, int64_t n)
{
  uint16_t *out = malloc((size_t)n * sizeof *out);
  assert_non_null(out);
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    f32_to_f16(in, out, n);
    for (int64_t i = 0; i < n; i++)
      if (out[i] != f32_to_f16_ref(in[i]))
        fail_msg("isa %d: %a (0x%08x) -> 0x%04x, reference 0x%04x", isa, (double)in[i], bits_of(in[i]),
                 out[i], f32_to_f16_ref(in[i]));
  }
  cpu_isa_force(cpu_isa_hardware());
  free(out);
}

/* Each half, the midpoints between neighbours and one float ulp either side of them (the rounding
 * boundaries), a sweep over the float bit patterns, and random values of every magnitude. */
static void test_to_f16_against_ref(void **state)
{
  (void)state;
  enum { HALVES = 0x7c00, SWEEP = 1 << 20, RANDOM = 1 << 19 };
  int64_t cap = 2 * HALVES * 4 + SWEEP + RANDOM + 64;
  float *in = malloc((size_t)cap * sizeof *in);
  assert_non_null(in);
  int64_t n = 0;
  for (uint32_t h = 0; h < HALVES; h++) {
    for (int s = 0; s < 2; s++) {
      float a = f16_to_f32_ref((uint16_t)(h | (s ? 0x8000u : 0u)));
      float b = f16_to_f32_ref((uint16_t)((h + 1) | (s ? 0x8000u : 0u)));
      float mid = (float)(((double)a + (double)b) / 2); /* exact: 11-bit significands */
      in[n++] = a;
      in[n++] = mid;
      in[n++] = nextafterf(mid, 0.0f);
      in[n++] = nextafterf(mid, s ? -INFINITY : INFINITY);
    }
  }
  for (uint32_t k = 0; k < SWEEP; k++)
    in[n++] = float_of(k * 4099u + 17u);
  for (uint32_t k = 0; k < RANDOM; k++) {
    uint64_t r = rng_hash(7, 0, k);
    in[n++] = ldexpf((float)(r >> 40) * 0x1p-24f, (int)((r >> 8) & 63u) - 40) * ((r & 1u) ? -1.0f : 1.0f);
  }
  const uint32_t edges[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x007fffffu, 0x33000000u, 0x33000001u,
                            0x337fffffu, 0x33800000u, 0x33c00000u, 0x387fc000u, 0x387fe000u, 0x387fffffu,
                            0x38800000u, 0x477fe000u, 0x477fefffu, 0x477ff000u, 0x477ff001u, 0x7f7fffffu,
                            0x7f800000u, 0xff800000u, 0x7f800001u, 0x7fc00000u, 0xffc00001u, 0x7fffffffu,
                            0x7f802000u};
  for (size_t k = 0; k < sizeof edges / sizeof edges[0]; k++)
    in[n++] = float_of(edges[k]);
  check_to_f16(in, n);
  free(in);
}

/* The reference itself: round to nearest even, overflow, underflow, NaN. */
static void test_to_f16_rules(void **state)
{
  (void)state;
  assert_int_equal(f32_to_f16_ref(1.0f), 0x3c00);
  assert_int_equal(f32_to_f16_ref(1.0f + 0x1p-11f), 0x3c00);            /* tie, to even */
  assert_int_equal(f32_to_f16_ref(1.0f + 3 * 0x1p-11f), 0x3c02);        /* tie, to even */
  assert_int_equal(f32_to_f16_ref(nextafterf(1.0f + 0x1p-11f, 2)), 0x3c01);
  assert_int_equal(f32_to_f16_ref(2047.5f), 0x6800);                   /* tie, to even */
  assert_int_equal(f32_to_f16_ref(2046.5f), 0x67fe);                   /* tie, to even */
  assert_int_equal(f32_to_f16_ref(65504.0f), 0x7bff);
  assert_int_equal(f32_to_f16_ref(65519.996f), 0x7bff);
  assert_int_equal(f32_to_f16_ref(65520.0f), 0x7c00);
  assert_int_equal(f32_to_f16_ref(-1e30f), 0xfc00);
  assert_int_equal(f32_to_f16_ref(INFINITY), 0x7c00);
  assert_int_equal(f32_to_f16_ref(0x1p-14f), 0x0400);
  assert_int_equal(f32_to_f16_ref(nextafterf(0x1p-14f, 0)), 0x0400);   /* rounds up into the normals */
  assert_int_equal(f32_to_f16_ref(0x1p-24f), 0x0001);
  assert_int_equal(f32_to_f16_ref(0x1p-25f), 0x0000);                  /* tie, to even (zero) */
  assert_int_equal(f32_to_f16_ref(nextafterf(0x1p-25f, 1)), 0x0001);
  assert_int_equal(f32_to_f16_ref(3 * 0x1p-25f), 0x0002);              /* tie, to even */
  assert_int_equal(f32_to_f16_ref(-0x1p-26f), 0x8000);
  assert_int_equal(f32_to_f16_ref(-0.0f), 0x8000);
  assert_int_equal(f32_to_f16_ref(0x1p-149f), 0x0000);
  assert_int_equal(f32_to_f16_ref(NAN) & 0x7e00, 0x7e00);
  assert_int_equal(f32_to_f16_ref(float_of(0x7f800001u)), 0x7e00);   /* signalling NaN made quiet */
  assert_int_equal(f32_to_f16_ref(float_of(0xffbfe000u)), 0xffff);
}

/* Half -> float -> half gives back every half; NaNs come back quiet. */
static void test_round_trip(void **state)
{
  (void)state;
  for (uint32_t h = 0; h < 65536; h++) {
    uint16_t back = f32_to_f16_ref(f16_to_f32_ref((uint16_t)h));
    bool nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
    assert_int_equal(back, nan ? (h | 0x200u) : h);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_to_f32_all_inputs), cmocka_unit_test(test_to_f32_values),
      cmocka_unit_test(test_tails),             cmocka_unit_test(test_to_f16_against_ref),
      cmocka_unit_test(test_to_f16_rules),      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
