/* Recall estimate and its interval. */
#include "kernels/stats.h"

#include <math.h>

#define Z95 1.959963984540054

void stats_wilson(int64_t k, int64_t n, double *lo, double *hi)
{
  if (n <= 0) {
    *lo = 0;
    *hi = 1;
    return;
  }
  double p = (double)k / (double)n, z2 = Z95 * Z95, nn = (double)n;
  double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  double half = Z95 * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  /* At k = 0 and k = n the bounds are exactly 0 and 1; rounding would leave them a hair off. */
  *lo = k == 0 ? 0 : fmax(0, centre - half);
  *hi = k == n ? 1 : fmin(1, centre + half);
}

void stats_ratio_ci(const int64_t *f, const int64_t *t, int64_t n, double *recall, double *lo, double *hi)
{
  double sf = 0, st = 0;
  int64_t units = 0;
  for (int64_t i = 0; i < n; i++) {
    sf += (double)f[i];
    st += (double)t[i];
    units += t[i] > 0;
  }
  if (st == 0) {
    *recall = NAN;
    *lo = 0;
    *hi = 1;
    return;
  }
  double r = sf / st;
  *recall = r;
  stats_wilson((int64_t)sf, (int64_t)st, lo, hi);
  if (units < 2) return;
  /* Delta method for a ratio of sums over the units that have true pairs. */
  double tbar = st / (double)units, ss = 0;
  for (int64_t i = 0; i < n; i++)
    if (t[i] > 0) {
      double resid = (double)f[i] - r * (double)t[i];
      ss += resid * resid;
    }
  double se = sqrt(ss / (double)(units - 1) / (double)units) / tbar;
  *lo = fmin(*lo, fmax(0, r - Z95 * se));
  *hi = fmax(*hi, fmin(1, r + Z95 * se));
}
