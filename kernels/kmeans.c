/* Spherical k-means building blocks (pure). */
#include "kernels/kmeans.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/f16.h"
#include "kernels/ip_handlers.h"
#include "kernels/rng.h"

#if defined(__x86_64__) || defined(__i386__)
#define KM_X86 1
#include <immintrin.h>
#else
#define KM_X86 0
#endif

/* Rows widened per block when x is float16. */
#define KM_BLOCK 1024

/* round(v * KM_FIXED_ONE), half away from zero: km_accumulate_ref's lround in double, in float
 * arithmetic. v * 2^24 is exact; so is its integer part t (|v| <= 1: it fits int32) and the fraction
 * a - t (a float minus its integer part), whose comparison with 1/2 settles the rounding. (Adding 0.5
 * before truncating would not do: at |a| >= 2^23 the sum rounds to even.) */
static inline int32_t fixed_of(float v)
{
  float a = v * (float)KM_FIXED_ONE;
  int32_t t = (int32_t)a;
  float f = a - (float)t;
  return t + (f >= 0.5f) - (f <= -0.5f);
}

/* sums[assign[i]] += fixed_of(x row i) and counts[assign[i]]++: the reference of the vector versions. */
static void accumulate_c(const float *x, int64_t n, int64_t ld, int64_t d, const int64_t *assign, int64_t *sums,
                         int64_t *counts)
{
  for (int64_t i = 0; i < n; i++) {
    int64_t *s = sums + assign[i] * d;
    const float *xi = x + i * ld;
    counts[assign[i]]++;
    for (int64_t j = 0; j < d; j++) s[j] += fixed_of(xi[j]);
  }
}

#if KM_X86
/* fixed_of on 8 lanes: a true comparison is -1 in a lane, so subtracting "f >= 1/2" adds one. */
__attribute__((target("avx2,fma,f16c"))) static void accumulate_avx2(const float *x, int64_t n, int64_t ld,
                                                                     int64_t d, const int64_t *assign,
                                                                     int64_t *sums, int64_t *counts)
{
  const __m256 one = _mm256_set1_ps((float)KM_FIXED_ONE), half = _mm256_set1_ps(0.5f), mhalf = _mm256_set1_ps(-0.5f);
  for (int64_t i = 0; i < n; i++) {
    int64_t *s = sums + assign[i] * d;
    const float *xi = x + i * ld;
    counts[assign[i]]++;
    int64_t j = 0;
    for (; j + 8 <= d; j += 8) {
      __m256 a = _mm256_mul_ps(_mm256_loadu_ps(xi + j), one);
      __m256i t = _mm256_cvttps_epi32(a);
      __m256 f = _mm256_sub_ps(a, _mm256_cvtepi32_ps(t));
      t = _mm256_sub_epi32(t, _mm256_castps_si256(_mm256_cmp_ps(f, half, _CMP_GE_OQ)));
      t = _mm256_add_epi32(t, _mm256_castps_si256(_mm256_cmp_ps(f, mhalf, _CMP_LE_OQ)));
      __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(t)), hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(t, 1));
      _mm256_storeu_si256((__m256i *)(s + j), _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(s + j)), lo));
      _mm256_storeu_si256((__m256i *)(s + j + 4), _mm256_add_epi64(_mm256_loadu_si256((const __m256i *)(s + j + 4)), hi));
    }
    for (; j < d; j++) s[j] += fixed_of(xi[j]);
  }
}
#endif

static void accumulate_f32(const float *x, int64_t n, int64_t ld, int64_t d, const int64_t *assign,
                           int64_t *sums, int64_t *counts)
{
#if KM_X86
  /* The AVX2 version serves the AVX-512 path too: a 16-lane one measured 10-20% slower on Zen 5. */
  if (cpu_isa_active() >= CPU_ISA_AVX2) {
    accumulate_avx2(x, n, ld, d, assign, sums, counts);
    return;
  }
#endif
  accumulate_c(x, n, ld, d, assign, sums, counts);
}

ma_status km_accumulate(const ma_rows *x, int64_t d, const int64_t *assign, int64_t k, int64_t *sums,
                        int64_t *counts)
{
  (void)k;
  if (x->type == MA_F32) {
    accumulate_f32(x->data, x->rows, x->ld, d, assign, sums, counts);
    return MA_OK;
  }
  float *wide = malloc((size_t)(KM_BLOCK * d) * sizeof *wide);
  if (!wide) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t i0 = 0; i0 < x->rows; i0 += KM_BLOCK) {
    int64_t m = x->rows - i0 < KM_BLOCK ? x->rows - i0 : KM_BLOCK;
    for (int64_t i = 0; i < m; i++) f16_to_f32((const uint16_t *)x->data + (i0 + i) * x->ld, wide + i * d, d);
    accumulate_f32(wide, m, d, d, assign + i0, sums, counts);
  }
  free(wide);
  return MA_OK;
}

void km_accumulate_ref(const ma_rows *x, int64_t d, const int64_t *assign, int64_t k, int64_t *sums,
                       int64_t *counts)
{
  (void)k;
  for (int64_t i = 0; i < x->rows; i++) {
    counts[assign[i]]++;
    for (int64_t j = 0; j < d; j++) {
      float v = x->type == MA_F32 ? ((const float *)x->data)[i * x->ld + j]
                                  : f16_to_f32_ref(((const uint16_t *)x->data)[i * x->ld + j]);
      sums[assign[i] * d + j] += (int64_t)lround((double)v * KM_FIXED_ONE);
    }
  }
}

int64_t km_fixed_sum(const float *v, int64_t n)
{
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++) s += (int64_t)llround((double)v[i] * KM_FIXED_ONE);
  return s;
}

int64_t km_centroids(const int64_t *sums, const int64_t *counts, int64_t k, int64_t d, float *centroids,
                     unsigned char *empty)
{
  int64_t nempty = 0;
  for (int64_t c = 0; c < k; c++) {
    const int64_t *s = sums + c * d;
    double norm = 0;
    for (int64_t j = 0; j < d; j++) norm += (double)s[j] * (double)s[j];
    empty[c] = counts[c] == 0 || norm == 0;
    if (empty[c]) {
      nempty++;
      continue;
    }
    double inv = 1 / sqrt(norm);
    for (int64_t j = 0; j < d; j++) centroids[c * d + j] = (float)((double)s[j] * inv);
  }
  return nempty;
}

static void normalize_row(float *v, int64_t d)
{
  double s = 0;
  for (int64_t j = 0; j < d; j++) s += (double)v[j] * v[j];
  double inv = s > 0 ? 1 / sqrt(s) : 0;
  for (int64_t j = 0; j < d; j++) v[j] = (float)(v[j] * inv);
}

void km_split_into(float *centroids, int64_t big, int64_t e, int64_t d, uint64_t seed, uint64_t stream)
{
  const double eps = 1.0 / 1024;
  float *ce = centroids + e * d, *cb = centroids + big * d;
  for (int64_t j = 0; j < d; j++) {
    double r = eps * (2 * rng_uniform(seed, stream, (uint64_t)(e * d + j)) - 1);
    ce[j] = (float)(cb[j] + r);
    cb[j] = (float)(cb[j] - r);
  }
  normalize_row(ce, d);
  normalize_row(cb, d);
}

int64_t km_split_empty(float *centroids, int64_t *counts, const unsigned char *empty, int64_t k, int64_t d,
                       uint64_t seed, uint64_t stream)
{
  int64_t repaired = 0;
  for (int64_t e = 0; e < k; e++) {
    if (!empty[e]) continue;
    int64_t big = 0;
    for (int64_t c = 1; c < k; c++)
      if (counts[c] > counts[big]) big = c;
    if (counts[big] < 2) break; /* nothing left to split */
    km_split_into(centroids, big, e, d, seed, stream);
    counts[e] = counts[big] / 2;
    counts[big] -= counts[e];
    repaired++;
  }
  return repaired;
}

/* Index of the first i with cum[i] > u (cum ascending, cum[n-1] > u). */
static int64_t pick(const double *cum, int64_t n, double u)
{
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (cum[mid] > u) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* Whether the nc x nc candidate similarities fit in gram_bytes. */
static int gram_fits(int64_t nc, int64_t gram_bytes) { return (double)nc * (double)nc * sizeof(float) <= (double)gram_bytes; }

/* Trial seeds per k-means++ step. */
static int pp_trials(int64_t k) { return 2 + (int)(2 * log((double)k)); }

/* The squared distance of a candidate's items (spread) to a seed at similarity sim: see kmeanspp. */
static inline double cost_to(double spread, float sim)
{
  double c = 2.0 - 2.0 * (double)sim;
  return c > spread ? c : spread;
}

/* Greedy weighted k-means++ over candidates that stand for groups of items (Arthur & Vassilvitskii,
 * with the local trials of scikit-learn: each step draws 2 + 2 ln k candidates and keeps the one that
 * lowers the potential most).
 *
 * Candidate i stands for w[i] items whose mean squared distance to it is spread[i]. In high dimensions
 * those items are about as far from any other candidate of their blob as from i itself, so the items'
 * squared distance to a seed t is taken as max(spread[i], |c_i - c_t|^2), never less than spread[i]:
 * with plain weighted D^2 a heavy candidate looks like a large gain when it is none, and small blobs go
 * without a seed. Candidates are drawn by the part of their cost a seed could still remove,
 * w[i] * (dist[i] - spread[i]). seeds[0..k) are candidate indices. */
static ma_status kmeanspp(const float *cand, const double *w, const double *spread, int64_t nc, int64_t d, int64_t k,
                          uint64_t seed, uint64_t stream, int64_t gram_bytes, int64_t *seeds)
{
  ma_status st = MA_OK;
  const int trials = pp_trials(k);
  double *dist = NULL, *cum = NULL;
  float *sim = NULL, *tv = NULL, *gram = NULL;
  const float *row[128];
  int64_t pick_idx[128];
  MA_ALLOC(dist, nc);
  MA_ALLOC(cum, nc);
  /* Every candidate against every other once (one large SGEMM) when that fits in gram_bytes; else each
   * step's trials against all candidates (a thin SGEMM, several times slower per flop). */
  if (gram_fits(nc, gram_bytes)) {
    MA_ALLOC(gram, nc * nc);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nc, (int)nc, (int)d, 1.0f, cand, (int)d, cand, (int)d,
                0.0f, gram, (int)nc);
  } else {
    MA_ALLOC(sim, nc * trials);
    MA_ALLOC(tv, d * trials);
  }
  double acc = 0;
  for (int64_t i = 0; i < nc; i++) cum[i] = acc += w[i];
  seeds[0] = pick(cum, nc, rng_uniform(seed, stream, 0) * acc);
  if (gram) row[0] = gram + seeds[0] * nc;
  else {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)nc, (int)d, 1.0f, cand, (int)d, cand + seeds[0] * d, 1, 0.0f, sim, 1);
    row[0] = sim;
  }
  for (int64_t i = 0; i < nc; i++) dist[i] = cost_to(spread[i], row[0][i]);
  for (int64_t s = 1; s < k; s++) {
    acc = 0;
    for (int64_t i = 0; i < nc; i++) cum[i] = acc += w[i] * (dist[i] - spread[i]);
    if (acc <= 0) { /* nothing left that a seed could improve: take candidates in turn */
      seeds[s] = s % nc;
      continue;
    }
    for (int t = 0; t < trials; t++) pick_idx[t] = pick(cum, nc, rng_uniform(seed, stream, (uint64_t)(s * 128 + t)) * acc);
    /* row[t][i]: trial t against every candidate */
    if (gram) {
      for (int t = 0; t < trials; t++) row[t] = gram + pick_idx[t] * nc;
    } else {
      for (int t = 0; t < trials; t++) memcpy(tv + t * d, cand + pick_idx[t] * d, (size_t)d * sizeof *tv);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, trials, (int)nc, (int)d, 1.0f, tv, (int)d, cand, (int)d,
                  0.0f, sim, (int)nc);
      for (int t = 0; t < trials; t++) row[t] = sim + t * nc;
    }
    int best_t = 0;
    double best_pot = INFINITY;
    for (int t = 0; t < trials; t++) {
      double pot = 0;
      for (int64_t i = 0; i < nc; i++) {
        double c = cost_to(spread[i], row[t][i]);
        pot += w[i] * (c < dist[i] ? c : dist[i]);
      }
      if (pot < best_pot) {
        best_pot = pot;
        best_t = t;
      }
    }
    seeds[s] = pick_idx[best_t];
    for (int64_t i = 0; i < nc; i++) {
      double c = cost_to(spread[i], row[best_t][i]);
      if (c < dist[i]) dist[i] = c;
    }
  }
done:
  free(dist);
  free(cum);
  free(sim);
  free(tv);
  free(gram);
  return st;
}

ma_status km_seed_from_candidates(const float *cand, const double *weight, const double *spread, int64_t nc, int64_t d,
                                  int64_t k, uint64_t seed, uint64_t stream, int iters, int64_t gram_bytes,
                                  float *centroids)
{
  ma_status st = MA_OK;
  int64_t *seeds = NULL, *best = NULL, *counts = NULL;
  float *best_sim = NULL;
  double *sums = NULL;
  if (nc <= k) {
    for (int64_t c = 0; c < k; c++) memcpy(centroids + c * d, cand + (c % nc) * d, (size_t)d * sizeof *cand);
    return MA_OK;
  }
  MA_ALLOC(seeds, k);
  MA_TRY(kmeanspp(cand, weight, spread, nc, d, k, seed, stream, gram_bytes, seeds));
  for (int64_t c = 0; c < k; c++) memcpy(centroids + c * d, cand + seeds[c] * d, (size_t)d * sizeof *cand);

  MA_ALLOC(best, nc);
  MA_ALLOC(best_sim, nc);
  MA_ALLOC(sums, k * d);
  MA_ALLOC(counts, k);
  ma_rows x = {cand, MA_F32, nc, d}, y = {centroids, MA_F32, k, d};
  for (int it = 0; it < iters; it++) {
    ip_argmax_ctx am;
    ip_argmax_init(&am, &x, &y, d, best, best_sim);
    ip_handler h = ip_argmax_handler(&am);
    MA_TRY(ip_search(&x, &y, d, &h, NULL));
    memset(sums, 0, (size_t)(k * d) * sizeof *sums);
    memset(counts, 0, (size_t)k * sizeof *counts);
    for (int64_t i = 0; i < nc; i++) {
      counts[best[i]]++;
      for (int64_t j = 0; j < d; j++) sums[best[i] * d + j] += weight[i] * cand[i * d + j];
    }
    for (int64_t c = 0; c < k; c++) {
      if (!counts[c]) continue; /* keeps its seed */
      double norm = 0;
      for (int64_t j = 0; j < d; j++) norm += sums[c * d + j] * sums[c * d + j];
      if (norm == 0) continue;
      for (int64_t j = 0; j < d; j++) centroids[c * d + j] = (float)(sums[c * d + j] / sqrt(norm));
    }
  }
done:
  free(seeds);
  free(best);
  free(best_sim);
  free(sums);
  free(counts);
  return st;
}

double km_search_flops(const int64_t *counts, int64_t k, int64_t sample, int64_t n, int64_t d)
{
  double scale = sample > 0 ? (double)n / (double)sample : 0, total = 0;
  for (int64_t c = 0; c < k; c++) total += ((double)counts[c] * scale) * ((double)counts[c] * scale);
  return total * (double)d;
}

double km_seed_flops(int64_t nc, int64_t d, int64_t k, int iters, int64_t gram_bytes)
{
  if (nc <= k) return 0;
  double per = 2.0 * (double)nc * (double)d; /* one row against every candidate */
  double pp = gram_fits(nc, gram_bytes) ? per * (double)nc : per * (1 + (double)(k - 1) * pp_trials(k));
  return pp + per * (double)k * iters;
}

ma_status km_fine_counts(const int64_t *sizes, int64_t k1, int64_t k, int64_t *kj)
{
  ma_status st = MA_OK;
  double *rem = NULL;
  int64_t n = 0, total = 0;
  for (int64_t j = 0; j < k1; j++) n += sizes[j];
  MA_ALLOC(rem, k1);
  for (int64_t j = 0; j < k1; j++) {
    double share = (double)k * (double)sizes[j] / (double)n;
    kj[j] = (int64_t)floor(share);
    if (kj[j] < 1 && sizes[j] > 0) kj[j] = 1;
    if (kj[j] > sizes[j]) kj[j] = sizes[j];
    rem[j] = share - (double)kj[j];
    total += kj[j];
  }
  /* Hand out (or take back) one at a time: the largest remainder that still has room. */
  while (total != k) {
    int64_t pick = -1;
    for (int64_t j = 0; j < k1; j++) {
      int room = total < k ? kj[j] < sizes[j] : kj[j] > 1;
      if (!room) continue;
      if (pick < 0 || (total < k ? rem[j] > rem[pick] : rem[j] < rem[pick])) pick = j;
    }
    if (pick < 0) {
      st = ma_fail(MA_ERR_DATA, "%lld rows cannot hold %lld clusters", (long long)n, (long long)k);
      goto done;
    }
    kj[pick] += total < k ? 1 : -1;
    rem[pick] += total < k ? -1.0 : 1.0;
    total += total < k ? 1 : -1;
  }
done:
  free(rem);
  return st;
}

/* Sorts ids[0..m) by size, descending when desc (ties: the lower id first). */
static void sort_by_size(int64_t *ids, int64_t m, const int64_t *sizes, int desc)
{
  for (int64_t a = 1; a < m; a++) { /* insertion: a coarse cluster holds about sqrt(k) fine ones */
    int64_t v = ids[a], b = a;
    for (; b > 0; b--) {
      int64_t u = ids[b - 1];
      int before = desc ? sizes[v] > sizes[u] : sizes[v] < sizes[u];
      if (!(before || (sizes[v] == sizes[u] && v < u))) break;
      ids[b] = u;
    }
    ids[b] = v;
  }
}

int64_t km_cap_pairs(const int64_t *sizes, int64_t k1, const int64_t *first, int64_t big_above, int64_t donor_at_most,
                     int64_t *big, int64_t *donor)
{
  int64_t npair = 0;
  for (int64_t j = 0; j < k1; j++) {
    int64_t lo = first[j], hi = first[j + 1], nb = 0, nd = 0;
    /* bigs fill big[npair ..] and donors donor[npair ..]: both fit, as they are disjoint clusters of j */
    for (int64_t c = lo; c < hi; c++) {
      if (sizes[c] > big_above) big[npair + nb++] = c;
      else if (sizes[c] <= donor_at_most) donor[npair + nd++] = c;
    }
    sort_by_size(big + npair, nb, sizes, 1);
    sort_by_size(donor + npair, nd, sizes, 0);
    npair += nb < nd ? nb : nd;
  }
  return npair;
}
