/* The synthetic-embedding model (docs/synth.md has the same in prose).
 *
 * Concepts: `concepts` centres uniform on the unit sphere (normalised Gaussian vectors keyed by
 * (seed, concept)); concept c has weight (c+1)^-0.75 and spread sigma_c uniform in [0.8, 1.6]. An item
 * of concept c is normalize(centre_c + sigma_c z / sqrt(dim)), z standard normal, so two unrelated
 * items of one concept have cosine about 1/(1+sigma^2), between 0.28 and 0.61. The `spread` parameter
 * scales every sigma_c (synth --concept-spread): 0.3 makes concepts tight and far apart.
 *
 * Groups: a keyed permutation v = permute(i) of the rows puts row i in a group iff v < dup_items =
 * llround(dup_fraction n). Slots [0, dup_items) are cut into groups of size floor(2/sqrt(1-u)) capped
 * at 500 (P(size >= s) = 4/s^2: 56% pairs, a heavy tail); the last group is cut to fit and no group is
 * left with one member (unless dup_items is 1). Group g has a base vector, a virtual item of a hashed
 * concept, and noise eps_g = dup_noise (0.5 + 0.5 u_g); its members are normalize(base + eps_g z /
 * sqrt(dim)), at cosine about 1/(1+eps_g^2) of each other. Only the group start offsets are stored.
 *
 * Generated samples: sample j is a near-copy normalize(row_t + 0.05 z / sqrt(dim)) of a hashed
 * training row t when permute(j) < llround(regurgitate count), else a new item of row t's concept.
 *
 * Only correctly rounded operations (+, -, *, /, sqrt, conversions) make a row, never libm's exp,
 * log, pow or sin, whose last bit may change with the CPU (glibc picks FMA variants at run time); so a
 * row's bits do not depend on where it was made. Normals come from synth_add_normals: Box-Muller on 64
 * hashed bits per pair, with ln, sin and cos as short polynomials. Its AVX-512 path makes 32 normals
 * per step, its AVX2 path 16 (with the 64-bit multiplies of the hash built from 32-bit ones); the
 * scalar one is the reference both are tested against.
 *
 * That needs every a*b+c rounded twice, as written, never fused into an FMA: the kernel library is built
 * with -ffp-contract=off (CMakeLists.txt) whatever else the flags say; the unit test checks it. */
#include "kernels/synth_model.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/rng.h"
#include "kernels/rowops.h"

#if defined(__x86_64__) || defined(__i386__)
#define SYNTH_X86 1
#include <immintrin.h>
#else
#define SYNTH_X86 0
#endif

enum { GROUP_MAX = 500 };
#define SPREAD_MIN 0.8
#define SPREAD_RANGE 0.8
#define COPY_NOISE 0.05

struct synth_model {
  synth_params p;
  int64_t dup_items;
  int64_t groups;
  int64_t *group_start; /* groups + 1 entries: group g is the slots [group_start[g], group_start[g+1]) */
  double *concept_cdf;  /* concepts entries: normalised weight of the concepts before c */
  float *centre;        /* concepts x dim, unit rows */
};

/* ---- normals ---------------------------------------------------------------------------------- */

/* Constants of the polynomials, as floats: the scalar and vector code use exactly these. */
#define BM_LN2 0.693147182f
#define BM_PI_2 1.57079637f
#define BM_SQRT_HALF_BITS 0x3f3504f3u /* sqrt(1/2) */
#define BM_L3 (1.0f / 3)
#define BM_L5 (1.0f / 5)
#define BM_L7 (1.0f / 7)
#define BM_L9 (1.0f / 9)
#define BM_S3 (-1.0f / 6)
#define BM_S5 (1.0f / 120)
#define BM_S7 (-1.0f / 5040)
#define BM_S9 (1.0f / 362880)
#define BM_C2 (-1.0f / 2)
#define BM_C4 (1.0f / 24)
#define BM_C6 (-1.0f / 720)
#define BM_C8 (1.0f / 40320)

static inline float as_float(uint32_t b)
{
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}

static inline uint32_t as_bits(float f)
{
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* Hash of normal pair p of the sequence keyed by key. */
static inline uint64_t pair_hash(uint64_t key, int64_t p) { return rng_mix(key + (uint64_t)(p + 1) * RNG_GOLDEN); }

/* The two normals r cos(theta), r sin(theta) made from 64 bits h. r = sqrt(-2 ln u1) with u1 =
 * ((h >> 40) + 1) 2^-24 in (0, 1]; ln u1 = e ln2 + ln f with f in [sqrt(1/2), sqrt(2)) and ln f =
 * 2 atanh((f-1)/(f+1)) to s^9. theta = q pi/2 + phi: quadrant q from bits 31..30, phi in [-pi/4, pi/4)
 * from bits 29..6, sin and cos of phi by Taylor series to phi^9 and phi^8 (errors below 3e-8). */
static inline void normal_pair(uint64_t h, float *zc, float *zs)
{
  uint32_t a = (uint32_t)(h >> 32), b = (uint32_t)h;
  float u1 = (float)(int32_t)((a >> 8) + 1u) * 0x1p-24f;
  uint32_t ix = as_bits(u1) + (0x3f800000u - BM_SQRT_HALF_BITS);
  float e = (float)((int32_t)(ix >> 23) - 127);
  float f = as_float((ix & 0x007fffffu) + BM_SQRT_HALF_BITS);
  float s = (f - 1.0f) / (f + 1.0f);
  float s2 = s * s;
  float lp = (((BM_L9 * s2 + BM_L7) * s2 + BM_L5) * s2 + BM_L3) * s2 + 1.0f;
  float ln_u1 = e * BM_LN2 + 2.0f * s * lp;
  float r = sqrtf(-2.0f * ln_u1);

  float t = (float)(int32_t)((b >> 6) & 0x00ffffffu) * 0x1p-24f;
  float phi = (t - 0.5f) * BM_PI_2;
  float p2 = phi * phi;
  float sn = phi + phi * p2 * (BM_S3 + p2 * (BM_S5 + p2 * (BM_S7 + p2 * BM_S9)));
  float cs = 1.0f + p2 * (BM_C2 + p2 * (BM_C4 + p2 * (BM_C6 + p2 * BM_C8)));
  /* cos, sin of theta: q = 1 swaps to (-sin, cos), q = 2 negates both, q = 3 gives (sin, -cos) */
  uint32_t swap = 0u - ((b >> 30) & 1u); /* all ones or zero: a select without a branch */
  uint32_t neg_c = (((b >> 30) ^ (b >> 31)) & 1u) << 31, neg_s = b & 0x80000000u;
  uint32_t cb = as_bits(cs), sb = as_bits(sn);
  *zc = r * as_float(((cb & ~swap) | (sb & swap)) ^ neg_c);
  *zs = r * as_float(((sb & ~swap) | (cb & swap)) ^ neg_s);
}

/* The normals go in blocks of 32: block b takes pairs 16b .. 16b+15, the cosines to k = 32b + l and
 * the sines to k = 32b + 16 + l. Scalar, from block from/32 (from a multiple of 32) to n. */
static void add_normals_scalar(uint64_t key, float scale, float *out, int64_t from, int64_t n)
{
  for (int64_t blk = from / 32; blk * 32 < n; blk++) {
    for (int64_t l = 0; l < 16 && blk * 32 + l < n; l++) {
      int64_t k = blk * 32 + l;
      float zc, zs;
      normal_pair(pair_hash(key, blk * 16 + l), &zc, &zs);
      out[k] += scale * zc;
      if (k + 16 < n)
        out[k + 16] += scale * zs;
    }
  }
}

#if SYNTH_X86
#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define W_F(x) _mm256_set1_ps(x)
#define W_I(x) _mm256_set1_epi32((int)(x))

/* The low 64 bits of a * m per 64-bit lane (AVX2 has no 64-bit multiply): lo(a) lo(m) + ((hi(a) lo(m) +
 * lo(a) hi(m)) << 32), the high products dropping out modulo 2^64. */
AVX2 static inline __m256i mullo64_avx2(__m256i a, uint64_t m)
{
  const __m256i ml = _mm256_set1_epi64x((long long)(m & 0xffffffffu)), mh = _mm256_set1_epi64x((long long)(m >> 32));
  __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), ml), _mm256_mul_epu32(a, mh));
  return _mm256_add_epi64(_mm256_mul_epu32(a, ml), _mm256_slli_epi64(cross, 32));
}

AVX2 static inline __m256i mix_avx2(__m256i z)
{
  z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 30));
  z = mullo64_avx2(z, 0xbf58476d1ce4e5b9ull);
  z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 27));
  z = mullo64_avx2(z, 0x94d049bb133111ebull);
  return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/* normal_pair on 8 lanes, operation for operation. */
AVX2 static inline void normal_pair_avx2(__m256i a, __m256i b, __m256 *zc, __m256 *zs)
{
  __m256 u1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_srli_epi32(a, 8), W_I(1))), W_F(0x1p-24f));
  __m256i ix = _mm256_add_epi32(_mm256_castps_si256(u1), W_I(0x3f800000u - BM_SQRT_HALF_BITS));
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(ix, 23), W_I(127)));
  __m256 f = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(ix, W_I(0x007fffffu)), W_I(BM_SQRT_HALF_BITS)));
  __m256 s = _mm256_div_ps(_mm256_sub_ps(f, W_F(1.0f)), _mm256_add_ps(f, W_F(1.0f)));
  __m256 s2 = _mm256_mul_ps(s, s);
  __m256 lp = _mm256_add_ps(_mm256_mul_ps(W_F(BM_L9), s2), W_F(BM_L7));
  lp = _mm256_add_ps(_mm256_mul_ps(lp, s2), W_F(BM_L5));
  lp = _mm256_add_ps(_mm256_mul_ps(lp, s2), W_F(BM_L3));
  lp = _mm256_add_ps(_mm256_mul_ps(lp, s2), W_F(1.0f));
  __m256 ln_u1 = _mm256_add_ps(_mm256_mul_ps(e, W_F(BM_LN2)), _mm256_mul_ps(_mm256_mul_ps(W_F(2.0f), s), lp));
  __m256 r = _mm256_sqrt_ps(_mm256_mul_ps(W_F(-2.0f), ln_u1));

  __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(b, 6), W_I(0x00ffffffu))),
                           W_F(0x1p-24f));
  __m256 phi = _mm256_mul_ps(_mm256_sub_ps(t, W_F(0.5f)), W_F(BM_PI_2));
  __m256 p2 = _mm256_mul_ps(phi, phi);
  __m256 sq = _mm256_add_ps(W_F(BM_S7), _mm256_mul_ps(p2, W_F(BM_S9)));
  sq = _mm256_add_ps(W_F(BM_S5), _mm256_mul_ps(p2, sq));
  sq = _mm256_add_ps(W_F(BM_S3), _mm256_mul_ps(p2, sq));
  __m256 sn = _mm256_add_ps(phi, _mm256_mul_ps(_mm256_mul_ps(phi, p2), sq));
  __m256 cq = _mm256_add_ps(W_F(BM_C6), _mm256_mul_ps(p2, W_F(BM_C8)));
  cq = _mm256_add_ps(W_F(BM_C4), _mm256_mul_ps(p2, cq));
  cq = _mm256_add_ps(W_F(BM_C2), _mm256_mul_ps(p2, cq));
  __m256 cs = _mm256_add_ps(W_F(1.0f), _mm256_mul_ps(p2, cq));
  __m256 swap = _mm256_castsi256_ps(_mm256_slli_epi32(b, 1)); /* bit 30 of b as the sign blendv reads */
  __m256i neg_c = _mm256_and_si256(_mm256_xor_si256(b, _mm256_slli_epi32(b, 1)), W_I(0x80000000u));
  __m256i neg_s = _mm256_and_si256(b, W_I(0x80000000u));
  __m256 c = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(_mm256_blendv_ps(cs, sn, swap)), neg_c));
  __m256 sv = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_castps_si256(_mm256_blendv_ps(sn, cs, swap)), neg_s));
  *zc = _mm256_mul_ps(r, c);
  *zs = _mm256_mul_ps(r, sv);
}

/* The high (hi = 1) or low 32 bits of the 64-bit lanes of h0 then h1, in lane order. */
AVX2 static inline __m256i halves_avx2(__m256i h0, __m256i h1, int hi)
{
  __m256 p = hi ? _mm256_shuffle_ps(_mm256_castsi256_ps(h0), _mm256_castsi256_ps(h1), _MM_SHUFFLE(3, 1, 3, 1))
                : _mm256_shuffle_ps(_mm256_castsi256_ps(h0), _mm256_castsi256_ps(h1), _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_permute4x64_epi64(_mm256_castps_si256(p), _MM_SHUFFLE(3, 1, 2, 0));
}

/* The whole blocks of 32, as two halves of 8 pairs; returns how many values it did. */
AVX2 static int64_t add_normals_avx2(uint64_t key, float scale, float *out, int64_t n)
{
  __m256i x[4];
  for (int q = 0; q < 4; q++)
    x[q] = _mm256_set_epi64x((long long)(key + (uint64_t)(4 * q + 4) * RNG_GOLDEN),
                             (long long)(key + (uint64_t)(4 * q + 3) * RNG_GOLDEN),
                             (long long)(key + (uint64_t)(4 * q + 2) * RNG_GOLDEN),
                             (long long)(key + (uint64_t)(4 * q + 1) * RNG_GOLDEN));
  const __m256i step = _mm256_set1_epi64x((long long)(16 * RNG_GOLDEN));
  const __m256 vscale = _mm256_set1_ps(scale);
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    for (int h = 0; h < 2; h++) {
      __m256i h0 = mix_avx2(x[2 * h]), h1 = mix_avx2(x[2 * h + 1]);
      __m256 zc, zs;
      normal_pair_avx2(halves_avx2(h0, h1, 1), halves_avx2(h0, h1, 0), &zc, &zs);
      float *oc = out + k + 8 * h, *os = out + k + 16 + 8 * h;
      _mm256_storeu_ps(oc, _mm256_add_ps(_mm256_loadu_ps(oc), _mm256_mul_ps(vscale, zc)));
      _mm256_storeu_ps(os, _mm256_add_ps(_mm256_loadu_ps(os), _mm256_mul_ps(vscale, zs)));
    }
    for (int q = 0; q < 4; q++) x[q] = _mm256_add_epi64(x[q], step);
  }
  return k;
}

#define V_F(x) _mm512_set1_ps(x)
#define V_I(x) _mm512_set1_epi32((int)(x))

__attribute__((target("avx512f,avx512dq"))) static inline __m512i mix_avx512(__m512i z)
{
  z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
  z = _mm512_mullo_epi64(z, _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ull));
  z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 27));
  z = _mm512_mullo_epi64(z, _mm512_set1_epi64((long long)0x94d049bb133111ebull));
  return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* normal_pair on 16 lanes, operation for operation. */
__attribute__((target("avx512f,avx512dq"))) static inline void normal_pair_avx512(__m512i a, __m512i b, __m512 *zc,
                                                                                   __m512 *zs)
{
  __m512 u1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_srli_epi32(a, 8), V_I(1))), V_F(0x1p-24f));
  __m512i ix = _mm512_add_epi32(_mm512_castps_si512(u1), V_I(0x3f800000u - BM_SQRT_HALF_BITS));
  __m512 e = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(ix, 23), V_I(127)));
  __m512 f = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_and_si512(ix, V_I(0x007fffffu)), V_I(BM_SQRT_HALF_BITS)));
  __m512 s = _mm512_div_ps(_mm512_sub_ps(f, V_F(1.0f)), _mm512_add_ps(f, V_F(1.0f)));
  __m512 s2 = _mm512_mul_ps(s, s);
  __m512 lp = _mm512_add_ps(_mm512_mul_ps(V_F(BM_L9), s2), V_F(BM_L7));
  lp = _mm512_add_ps(_mm512_mul_ps(lp, s2), V_F(BM_L5));
  lp = _mm512_add_ps(_mm512_mul_ps(lp, s2), V_F(BM_L3));
  lp = _mm512_add_ps(_mm512_mul_ps(lp, s2), V_F(1.0f));
  __m512 ln_u1 = _mm512_add_ps(_mm512_mul_ps(e, V_F(BM_LN2)), _mm512_mul_ps(_mm512_mul_ps(V_F(2.0f), s), lp));
  __m512 r = _mm512_sqrt_ps(_mm512_mul_ps(V_F(-2.0f), ln_u1));

  __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(_mm512_srli_epi32(b, 6), V_I(0x00ffffffu))),
                           V_F(0x1p-24f));
  __m512 phi = _mm512_mul_ps(_mm512_sub_ps(t, V_F(0.5f)), V_F(BM_PI_2));
  __m512 p2 = _mm512_mul_ps(phi, phi);
  __m512 sq = _mm512_add_ps(V_F(BM_S7), _mm512_mul_ps(p2, V_F(BM_S9)));
  sq = _mm512_add_ps(V_F(BM_S5), _mm512_mul_ps(p2, sq));
  sq = _mm512_add_ps(V_F(BM_S3), _mm512_mul_ps(p2, sq));
  __m512 sn = _mm512_add_ps(phi, _mm512_mul_ps(_mm512_mul_ps(phi, p2), sq));
  __m512 cq = _mm512_add_ps(V_F(BM_C6), _mm512_mul_ps(p2, V_F(BM_C8)));
  cq = _mm512_add_ps(V_F(BM_C4), _mm512_mul_ps(p2, cq));
  cq = _mm512_add_ps(V_F(BM_C2), _mm512_mul_ps(p2, cq));
  __m512 cs = _mm512_add_ps(V_F(1.0f), _mm512_mul_ps(p2, cq));
  __mmask16 swap = _mm512_test_epi32_mask(b, V_I(0x40000000u));
  __m512i neg_c = _mm512_and_si512(_mm512_xor_si512(b, _mm512_slli_epi32(b, 1)), V_I(0x80000000u));
  __m512i neg_s = _mm512_and_si512(b, V_I(0x80000000u));
  __m512 c = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_mask_blend_ps(swap, cs, sn)), neg_c));
  __m512 sv = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(_mm512_mask_blend_ps(swap, sn, cs)), neg_s));
  *zc = _mm512_mul_ps(r, c);
  *zs = _mm512_mul_ps(r, sv);
}

/* The whole blocks of 32; returns how many values it did. */
__attribute__((target("avx512f,avx512dq"))) static int64_t add_normals_avx512(uint64_t key, float scale, float *out,
                                                                               int64_t n)
{
  const __m512i lanes = _mm512_set_epi64(8, 7, 6, 5, 4, 3, 2, 1);
  const __m512i gold = _mm512_set1_epi64((long long)RNG_GOLDEN);
  __m512i x0 = _mm512_add_epi64(_mm512_set1_epi64((long long)key), _mm512_mullo_epi64(lanes, gold));
  __m512i x1 = _mm512_add_epi64(x0, _mm512_set1_epi64((long long)(8 * RNG_GOLDEN)));
  const __m512i step = _mm512_set1_epi64((long long)(16 * RNG_GOLDEN));
  const __m512 vscale = _mm512_set1_ps(scale);
  int64_t k = 0;
  for (; k + 32 <= n; k += 32) {
    __m512i h0 = mix_avx512(x0), h1 = mix_avx512(x1);
    x0 = _mm512_add_epi64(x0, step);
    x1 = _mm512_add_epi64(x1, step);
    __m512i a = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(_mm512_srli_epi64(h0, 32))),
                                   _mm512_cvtepi64_epi32(_mm512_srli_epi64(h1, 32)), 1);
    __m512i b = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(h0)), _mm512_cvtepi64_epi32(h1), 1);
    __m512 zc, zs;
    normal_pair_avx512(a, b, &zc, &zs);
    _mm512_storeu_ps(out + k, _mm512_add_ps(_mm512_loadu_ps(out + k), _mm512_mul_ps(vscale, zc)));
    _mm512_storeu_ps(out + k + 16, _mm512_add_ps(_mm512_loadu_ps(out + k + 16), _mm512_mul_ps(vscale, zs)));
  }
  return k;
}
#endif

void synth_add_normals_ref(uint64_t key, float scale, float *out, int64_t n)
{
  add_normals_scalar(key, scale, out, 0, n);
}

void synth_add_normals(uint64_t key, float scale, float *out, int64_t n)
{
  int64_t done = 0;
#if SYNTH_X86
  cpu_isa isa = cpu_isa_active();
  if (isa >= CPU_ISA_AVX512)
    done = add_normals_avx512(key, scale, out, n);
  else if (isa >= CPU_ISA_AVX2)
    done = add_normals_avx2(key, scale, out, n);
#endif
  add_normals_scalar(key, scale, out, done, n);
}

/* ---- the model -------------------------------------------------------------------------------- */

/* The last index k < len with a[k] <= v, given a[0] <= v and a sorted. The loop has no branch on
 * the data (the select becomes a conditional move), which the random lookups here would mispredict. */
static int64_t last_at_most_d(const double *a, int64_t len, double v)
{
  int64_t base = 0;
  while (len > 1) {
    int64_t half = len / 2;
    base = a[base + half] <= v ? base + half : base;
    len -= half;
  }
  return base;
}

static int64_t last_at_most_i(const int64_t *a, int64_t len, int64_t v)
{
  int64_t base = 0;
  while (len > 1) {
    int64_t half = len / 2;
    base = a[base + half] <= v ? base + half : base;
    len -= half;
  }
  return base;
}

/* The concept whose cumulative weight interval holds u in [0, 1). */
static int64_t concept_at(const synth_model *m, double u) { return last_at_most_d(m->concept_cdf, m->p.concepts, u); }

/* out = normalize(centre_c + sigma_c z / sqrt(dim)), z keyed by key. */
static void concept_item(const synth_model *m, int64_t c, uint64_t key, float *out)
{
  int64_t dim = m->p.dim;
  double sigma = (m->p.spread > 0 ? m->p.spread : 1.0) *
                 (SPREAD_MIN + SPREAD_RANGE * rng_uniform(m->p.seed, RNG_SYNTH_SPREAD, (uint64_t)c));
  memcpy(out, m->centre + c * dim, (size_t)dim * sizeof *out);
  synth_add_normals(key, (float)(sigma / sqrt((double)dim)), out, dim);
  rows_normalize(out, 1, dim, dim, NULL);
}

/* out = normalize(out + scale z / sqrt(dim)), z keyed by key. */
static void perturb(int64_t dim, double scale, uint64_t key, float *out)
{
  synth_add_normals(key, (float)(scale / sqrt((double)dim)), out, dim);
  rows_normalize(out, 1, dim, dim, NULL);
}

/* Group of row i, or -1. */
static int64_t group_of(const synth_model *m, int64_t i)
{
  if (m->dup_items == 0)
    return -1;
  int64_t v = rng_permute(m->p.seed, RNG_SYNTH_DUP, i, m->p.n);
  if (v >= m->dup_items)
    return -1;
  return last_at_most_i(m->group_start, m->groups, v);
}

/* Concept of row i, without making the row; *group gets its group. */
static int64_t row_concept(const synth_model *m, int64_t i, int64_t *group)
{
  *group = group_of(m, i);
  if (*group < 0)
    return concept_at(m, rng_uniform(m->p.seed, RNG_SYNTH_CONCEPT, (uint64_t)i));
  return concept_at(m, rng_uniform(m->p.seed, RNG_SYNTH_GROUP, (uint64_t)*group));
}

void synth_row(const synth_model *m, int64_t i, float *out, int64_t *group, int64_t *concept)
{
  const synth_params *p = &m->p;
  int64_t g;
  int64_t c = row_concept(m, i, &g);
  if (g < 0) {
    concept_item(m, c, rng_hash(p->seed, RNG_SYNTH_ITEM, (uint64_t)i), out);
  } else {
    double eps = p->dup_noise * (0.5 + 0.5 * rng_uniform(p->seed, RNG_SYNTH_GROUP_NOISE, (uint64_t)g));
    concept_item(m, c, rng_hash(p->seed, RNG_SYNTH_GROUP_BASE, (uint64_t)g), out);
    perturb(p->dim, eps, rng_hash(p->seed, RNG_SYNTH_ITEM, (uint64_t)i), out);
  }
  if (group)
    *group = g;
  if (concept)
    *concept = c;
}

void synth_generated_row(const synth_model *m, uint64_t gen_seed, double regurgitate, int64_t count, int64_t j,
                         float *out, int64_t *source_id, int64_t *copied_from)
{
  int64_t copies = llround(regurgitate * (double)count);
  int64_t t = rng_below(gen_seed, RNG_SYNTH_GEN_SOURCE, (uint64_t)j, m->p.n);
  uint64_t key = rng_hash(gen_seed, RNG_SYNTH_GEN_NOISE, (uint64_t)j);
  int copy = rng_permute(gen_seed, RNG_SYNTH_GEN_PLACE, j, count) < copies;
  if (copy) {
    synth_row(m, t, out, NULL, NULL);
    perturb(m->p.dim, COPY_NOISE, key, out);
  } else {
    int64_t g;
    concept_item(m, row_concept(m, t, &g), key, out);
  }
  *source_id = t;
  *copied_from = copy ? t : -1;
}

/* Size of group g when `left` slots remain: floor(2 / sqrt(1 - u)) capped at GROUP_MAX, cut to fit,
 * and never leaving a single slot over. */
static int64_t group_size(uint64_t seed, int64_t g, int64_t left)
{
  double s = 2.0 / sqrt(1.0 - rng_uniform(seed, RNG_SYNTH_GROUP_SIZE, (uint64_t)g));
  int64_t size = s >= GROUP_MAX ? GROUP_MAX : (int64_t)s;
  if (size >= left)
    return left;
  if (left - size == 1)
    return size < GROUP_MAX ? size + 1 : size - 1;
  return size;
}

static ma_status check_params(const synth_params *p)
{
  if (p->n < 1 || p->n > ((int64_t)1 << 62))
    return ma_fail(MA_ERR_USAGE, "synth: n = %" PRId64 " must be between 1 and 2^62", p->n);
  if (p->dim < 1)
    return ma_fail(MA_ERR_USAGE, "synth: dim = %" PRId64 " must be at least 1", p->dim);
  if (p->concepts < 1)
    return ma_fail(MA_ERR_USAGE, "synth: concepts = %" PRId64 " must be at least 1", p->concepts);
  if (p->concepts > (int64_t)(SIZE_MAX / sizeof(float)) / p->dim)
    return ma_fail(MA_ERR_USAGE, "synth: concepts x dim = %" PRId64 " x %" PRId64 " centres do not fit in memory",
                   p->concepts, p->dim);
  if (!(p->dup_fraction >= 0 && p->dup_fraction <= 1))
    return ma_fail(MA_ERR_USAGE, "synth: dup fraction %g must be between 0 and 1", p->dup_fraction);
  if (!(p->spread >= 0 && isfinite(p->spread)))
    return ma_fail(MA_ERR_USAGE, "synth: concept spread %g must be finite and at least 0", p->spread);
  if (!(p->dup_noise >= 0 && isfinite(p->dup_noise)))
    return ma_fail(MA_ERR_USAGE, "synth: dup noise %g must be finite and at least 0", p->dup_noise);
  return MA_OK;
}

ma_status synth_model_build(const synth_params *p, synth_model **out)
{
  ma_status st = MA_OK;
  synth_model *m = NULL;
  *out = NULL;
  MA_TRY(check_params(p));
  MA_ALLOC(m, 1);
  m->p = *p;
  m->dup_items = llround(p->dup_fraction * (double)p->n);

  MA_ALLOC(m->concept_cdf, p->concepts);
  double total = 0;
  for (int64_t c = 0; c < p->concepts; c++) {
    m->concept_cdf[c] = total;
    double x = (double)(c + 1);
    total += 1.0 / sqrt(sqrt(x * x * x)); /* (c+1)^-0.75 with sqrt alone: no libm rounding */
  }
  for (int64_t c = 0; c < p->concepts; c++)
    m->concept_cdf[c] /= total;

  MA_ALLOC(m->centre, p->concepts * p->dim); /* zeroed: the normals are added to it */
  for (int64_t c = 0; c < p->concepts; c++) {
    float *row = m->centre + c * p->dim;
    synth_add_normals(rng_hash(p->seed, RNG_SYNTH_CENTRE, (uint64_t)c), 1.0f, row, p->dim);
    rows_normalize(row, 1, p->dim, p->dim, NULL);
  }

  for (int64_t used = 0; used < m->dup_items; m->groups++)
    used += group_size(p->seed, m->groups, m->dup_items - used);
  MA_ALLOC(m->group_start, m->groups + 1);
  for (int64_t g = 0; g < m->groups; g++)
    m->group_start[g + 1] = m->group_start[g] + group_size(p->seed, g, m->dup_items - m->group_start[g]);

  *out = m;
  m = NULL;
done:
  synth_model_free(&m);
  return st;
}

void synth_model_free(synth_model **m)
{
  if (!*m)
    return;
  free((*m)->group_start);
  free((*m)->concept_cdf);
  free((*m)->centre);
  free(*m);
  *m = NULL;
}

int64_t synth_model_groups(const synth_model *m) { return m->groups; }

int64_t synth_model_dup_items(const synth_model *m) { return m->dup_items; }

size_t synth_model_bytes(const synth_model *m)
{
  return sizeof *m + (size_t)(m->groups + 1) * sizeof *m->group_start +
         (size_t)m->p.concepts * sizeof *m->concept_cdf + (size_t)(m->p.concepts * m->p.dim) * sizeof *m->centre;
}
