/* Mann–Whitney U by midranks of the pooled sample, and type-7 quantiles. */
#include "kernels/mannwhitney.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  float v;
  int from_a;
} pooled;

static int cmp_pooled(const void *pa, const void *pb)
{
  float a = ((const pooled *)pa)->v, b = ((const pooled *)pb)->v;
  return (a > b) - (a < b);
}

static int cmp_float(const void *pa, const void *pb)
{
  float a = *(const float *)pa, b = *(const float *)pb;
  return (a > b) - (a < b);
}

static int any_nan(const float *v, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    if (isnan(v[i])) return 1;
  return 0;
}

ma_status mw_test(const float *a, int64_t na, const float *b, int64_t nb, mw_result *r)
{
  ma_status st = MA_OK;
  pooled *all = NULL;
  if (na < 1 || nb < 1 || !a || !b || !r)
    return ma_fail(MA_ERR_USAGE, "mw_test: samples of %lld and %lld values", (long long)na, (long long)nb);
  if (any_nan(a, na) || any_nan(b, nb)) return ma_fail(MA_ERR_USAGE, "mw_test: a value is NaN");
  int64_t n = na + nb;
  MA_ALLOC(all, n);
  for (int64_t i = 0; i < na; i++) all[i] = (pooled){a[i], 1};
  for (int64_t j = 0; j < nb; j++) all[na + j] = (pooled){b[j], 0};
  qsort(all, (size_t)n, sizeof *all, cmp_pooled);

  /* Ranks 1..n; a run of t equal values [s, e) shares the midrank (s + 1 + e) / 2. */
  double rank_sum_a = 0, ties = 0;
  for (int64_t s = 0, e; s < n; s = e) {
    int64_t in_a = 0;
    for (e = s; e < n && all[e].v == all[s].v; e++) in_a += all[e].from_a;
    double t = (double)(e - s);
    rank_sum_a += (double)in_a * ((double)s + 1 + (double)e) / 2;
    ties += t * t * t - t;
  }
  double dna = (double)na, dnb = (double)nb, dn = (double)n;
  r->na = na;
  r->nb = nb;
  r->u = rank_sum_a - dna * (dna + 1) / 2;
  r->auc = r->u / (dna * dnb);
  double var = dna * dnb / 12 * ((dn + 1) - (n > 1 ? ties / (dn * (dn - 1)) : 0));
  if (var > 0) {
    r->z = (r->u - dna * dnb / 2 - 0.5) / sqrt(var);
    r->p_greater = 0.5 * erfc(r->z / sqrt(2.0));
  } else {
    r->z = 0;
    r->p_greater = 1;
  }
done:
  free(all);
  return st;
}

ma_status mw_quantiles(const float *v, int64_t n, const double *probs, int np, double *out)
{
  ma_status st = MA_OK;
  float *s = NULL;
  if (n < 1 || !v || (np > 0 && (!probs || !out))) return ma_fail(MA_ERR_USAGE, "mw_quantiles: %lld values", (long long)n);
  for (int i = 0; i < np; i++)
    if (!(probs[i] >= 0 && probs[i] <= 1)) return ma_fail(MA_ERR_USAGE, "mw_quantiles: probability %g", probs[i]);
  MA_ALLOC(s, n);
  memcpy(s, v, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, cmp_float);
  for (int i = 0; i < np; i++) {
    double h = (double)(n - 1) * probs[i];
    int64_t lo = (int64_t)floor(h);
    if (lo >= n - 1) {
      out[i] = s[n - 1];
      continue;
    }
    double lv = s[lo], hv = s[lo + 1];
    out[i] = h == (double)lo ? lv : lv + (h - (double)lo) * (hv - lv);
  }
done:
  free(s);
  return st;
}
