/* A counter-based random generator: no state, every draw is a pure function of (seed, stream,
 * counter). Keyed by global item ids, draws do not depend on which rank makes them or in what order.
 *
 * rng_hash chains the splitmix64 finaliser over the three words; for a fixed (seed, stream) it is a
 * bijection of the counter (splitmix64 itself, started at a hashed point). */
#ifndef MA_RNG_H
#define MA_RNG_H

#include <math.h>
#include <stdint.h>

/* One stream per use, so two uses never share draws. The values are part of the output format of
 * every job that draws (synth rows depend on them): append new ones, never renumber. */
enum rng_stream {
  RNG_SYNTH_CENTRE = 1,      /* concept centres; counter = concept */
  RNG_SYNTH_SPREAD = 2,      /* per-concept spread sigma_c; counter = concept */
  RNG_SYNTH_CONCEPT = 3,     /* concept of a row outside the groups; counter = row */
  RNG_SYNTH_ITEM = 4,        /* noise of a row; counter = row */
  RNG_SYNTH_DUP = 5,         /* permutation that places the duplicate-group rows */
  RNG_SYNTH_GROUP_SIZE = 6,  /* size of group g */
  RNG_SYNTH_GROUP = 7,       /* concept of group g */
  RNG_SYNTH_GROUP_NOISE = 8, /* noise level eps_g of group g */
  RNG_SYNTH_GROUP_BASE = 9,  /* noise of the base vector of group g */
  RNG_SYNTH_GEN_PLACE = 10,  /* permutation that places the regurgitated samples */
  RNG_SYNTH_GEN_SOURCE = 11, /* training row behind generated sample j */
  RNG_SYNTH_GEN_NOISE = 12,  /* noise of generated sample j */
  RNG_KMEANS_SAMPLE = 20,    /* is item id in clustering r's sample; counter = id */
  RNG_KMEANS_INIT = 21,      /* k-means|| first pick and per-round picks; counter = id */
  RNG_KMEANS_SEED = 22,      /* k-means++ over the candidates; counter = seed index */
  RNG_KMEANS_SPLIT = 23,     /* direction that splits a large cluster for an empty one */
  RNG_RECALL_SAMPLE = 24,    /* the recall sample: the S items with the smallest hash of their id */
  RNG_KMEANS_LEVEL = 25,     /* two-level k-means: the seed of the coarse level (0) and of fine level j (j + 1) */
  RNG_KMEANS_CAP = 26,       /* two-level size cap: the direction that splits an oversized cluster */
  RNG_AUDIT_BASELINE = 30    /* audit's train-to-train sample: permutation of input positions */
};

#define RNG_GOLDEN 0x9e3779b97f4a7c15ull

/* The splitmix64 finaliser: a bijection of 64-bit words with full avalanche. Not collective. */
static inline uint64_t rng_mix(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* 64 random bits for (seed, stream, counter). Not collective. */
static inline uint64_t rng_hash(uint64_t seed, uint64_t stream, uint64_t counter)
{
  uint64_t h = rng_mix(seed + RNG_GOLDEN);
  h = rng_mix(h ^ (stream * 0xd1b54a32d192ed03ull));
  return rng_mix(h + counter * RNG_GOLDEN);
}

/* Uniform in [0, 1) from the top 53 bits of rng_hash. Not collective. */
static inline double rng_uniform(uint64_t seed, uint64_t stream, uint64_t counter)
{
  return (double)(rng_hash(seed, stream, counter) >> 11) * 0x1p-53;
}

/* Uniform integer in [0, n), n >= 1: the high word of rng_hash * n (bias below n / 2^64). Not
 * collective. */
static inline int64_t rng_below(uint64_t seed, uint64_t stream, uint64_t counter, int64_t n)
{
  uint64_t h = rng_hash(seed, stream, counter), m = (uint64_t)n;
  uint64_t hl = h & 0xffffffffu, hh = h >> 32, ml = m & 0xffffffffu, mh = m >> 32;
  uint64_t mid = (hl * ml >> 32) + (hh * ml & 0xffffffffu) + hl * mh;
  return (int64_t)(hh * mh + (hh * ml >> 32) + (mid >> 32));
}

/* Standard normal by Box-Muller: u1 from rng_hash and u2 from a second draw derived from it. Uses libm
 * log and cos, so its last bit follows the libm build; synth_add_normals is the bulk generator whose
 * bits are the same everywhere. Not collective. */
static inline double rng_normal(uint64_t seed, uint64_t stream, uint64_t counter)
{
  uint64_t h = rng_hash(seed, stream, counter);
  double u1 = (double)((h >> 11) + 1) * 0x1p-53; /* (0, 1]: log is finite */
  double u2 = (double)(rng_mix(h + RNG_GOLDEN) >> 11) * 0x1p-53;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Position of i (0 <= i < n, n <= 2^62) in a permutation of [0, n) keyed by (seed, stream): a 6-round
 * Feistel network on the next power of two >= max(n, 4), walking the cycle until it lands below n
 * (fewer than two steps on average). Uses counter 0 of the stream. Not collective. */
static inline int64_t rng_permute(uint64_t seed, uint64_t stream, int64_t i, int64_t n)
{
  if (n <= 1)
    return 0;
  int bits = 2;
  while (((int64_t)1 << bits) < n)
    bits++;
  int hi_bits = bits / 2, lo_bits = bits - hi_bits;
  uint64_t lo_mask = ((uint64_t)1 << lo_bits) - 1;
  uint64_t key = rng_hash(seed, stream, 0);
  uint64_t x = (uint64_t)i;
  do {
    for (uint64_t r = 1; r <= 6; r++) {
      /* (hi, lo) -> (lo, hi ^ F_r(lo)): a bijection of the `bits`-bit words whatever the split */
      uint64_t hi = x >> lo_bits, lo = x & lo_mask;
      uint64_t f = rng_mix((lo * RNG_GOLDEN) ^ (key + r * 0xd1b54a32d192ed03ull));
      x = (lo << hi_bits) | (hi ^ (f >> (64 - hi_bits)));
    }
  } while (x >= (uint64_t)n);
  return (int64_t)x;
}

#endif
