/* Similarity histograms of the report (see io/report/hist.h). */
#include "io/report/hist.h"

#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "io/h5util.h"
#include "io/html.h"
#include "io/report/charts.h"
#include "io/report/h5read.h"
#include "io/report/hist.h"
#include "io/report/idmap.h"
#include "io/report/section.h"
#include "io/sheet.h"
#include "io/svg.h"

static const double fine_w = 2.0 / RP_FINE_BINS;

static int fine_bin(double v)
{
  int i = (int)floor((v + 1.0) / fine_w);
  return i < 0 ? 0 : i >= RP_FINE_BINS ? RP_FINE_BINS - 1 : i;
}

void fh_add(fhist *h, double v)
{
  if (isnan(v)) return;
  if (h->n == 0 || v < h->vmin) h->vmin = v;
  if (h->n == 0 || v > h->vmax) h->vmax = v;
  h->c[fine_bin(v)]++;
  h->n++;
}


void fh_display_bins(double lo, dbins *d)
{
  static const int groups[] = {1, 2, 4, 5, 10, 20, 40, 50, 100, 200};
  lo = fmax(-1.0, lo);
  d->first = fine_bin(lo + fine_w / 2);
  int fine = RP_FINE_BINS - d->first;
  d->group = groups[9];
  for (int i = 0; i < 10; i++)
    if ((fine + groups[i] - 1) / groups[i] <= 60) {
      d->group = groups[i];
      break;
    }
  d->n = (fine + d->group - 1) / d->group;
  for (int i = 0; i <= d->n; i++) d->edges[i] = -1.0 + (d->first + (double)i * d->group) * fine_w;
}

double fh_dbin_sum(const fhist *h, const dbins *d, int i)
{
  int64_t s = 0;
  for (int j = d->first + i * d->group; j < d->first + (i + 1) * d->group && j < RP_FINE_BINS; j++) s += h->c[j];
  return (double)s;
}

/* Items of h at or above fine bin of x. */
double fh_at_least(const fhist *h, double x)
{
  int64_t s = 0;
  for (int j = fine_bin(x + fine_w / 2); j < RP_FINE_BINS; j++) s += h->c[j];
  return (double)s;
}

