/* Similarity histograms of the report: RP_FINE_BINS fine bins over [-1, 1], regrouped for display. */
#ifndef MA_IO_REPORT_HIST_H
#define MA_IO_REPORT_HIST_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

enum { RP_FINE_BINS = 4000 };

/* A histogram of similarities over [-1, 1] in RP_FINE_BINS bins, regrouped for display. */
typedef struct fhist {
  int64_t c[RP_FINE_BINS];
  int64_t n;
  double vmin, vmax;
} fhist;

/* Display bins from lo to 1: the smallest width (a multiple of the fine width) giving <= 60 bins. */
typedef struct dbins {
  int n, group, first; /* bins, fine bins per bin, first fine bin */
  double edges[128];
} dbins;

void fh_add(fhist *h, double v);

void fh_display_bins(double lo, dbins *d);

double fh_dbin_sum(const fhist *h, const dbins *d, int i);

/* Items of h at or above fine bin of x. */
double fh_at_least(const fhist *h, double x);

#endif
