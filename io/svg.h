/* Charts as inline SVG for the report: one plot with axes, ticks, a legend, vertical markers (e.g.
 * thresholds) and series drawn as bars, steps (histogram outlines, for overlays), lines or points
 * with error bars. Every chart carries an id, a <title> and a <desc> (read by screen readers and by
 * the tests), and each series a class naming its kind. */
#ifndef MA_IO_SVG_H
#define MA_IO_SVG_H

#include "io/html.h"

typedef enum { SVG_BARS, SVG_STEP, SVG_LINE, SVG_POINTS } svg_kind;

typedef struct svg_series {
  const char *name;        /* legend text */
  svg_kind kind;
  int n;                   /* values */
  const double *x;         /* BARS / STEP: n + 1 bin edges; LINE / POINTS: n positions */
  const double *y;         /* n values; NaN is not drawn (nor <= 0 on a log axis) */
  const double *ylo, *yhi; /* POINTS: error bar ends, or NULL */
  int dashed;
} svg_series;

typedef struct svg_marker {
  double x;
  const char *label;
  int strong; /* drawn thicker (the primary threshold) */
} svg_marker;

typedef struct svg_chart {
  const char *id;     /* the svg element's id, e.g. "chart-similarity" */
  const char *title;  /* <title>, also printed above the plot */
  const char *desc;   /* <desc>: what the chart shows, in words */
  const char *xlabel, *ylabel;
  double xmin, xmax, ymin, ymax; /* ymin > 0 when ylog */
  int ylog;
  const char *const *xcats; /* when set: category labels under bins [i, i + 1), x running 0 .. ncats */
  int xint;                 /* integer ticks on x */
  const svg_series *series;
  int nseries;
  const svg_marker *markers;
  int nmarkers;
} svg_chart;

/* Appends the chart as an <svg> element. Not collective. */
void svg_chart_write(html_buf *b, const svg_chart *c);

#endif
