/* Facts and charts of the overview page: a fact line, an SVG figure, size-class bar charts. */
#ifndef MA_IO_REPORT_CHARTS_H
#define MA_IO_REPORT_CHARTS_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/html.h"
#include "io/svg.h"

/* Counts by size class, for the bar charts of group and cluster sizes. */
typedef struct size_classes {
  int n;
  double count[64];
  char label[64][32];
  const char *labels[64];
} size_classes;

void rp_fact_num(html_buf *b, const char *name, int64_t v, int64_t of);

void rp_chart_figure(html_buf *b, const svg_chart *c);

double rp_max_of(const double *v, int n, double floor_);

/* Classes 2, 3, 4, 5-8, 9-16, ... (group sizes) or 0, 1, 2-3, 4-7, ... (cluster sizes). */
int rp_size_class(int64_t size, int groups);

void rp_size_classes_label(size_classes *sc, int groups);

void rp_size_chart(html_buf *b, size_classes *sc, int groups, const char *id, const char *title, const char *desc,
                       const char *xlabel, const char *ylabel);

#endif
