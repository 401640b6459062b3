/* Facts and charts of the overview page (see io/report/charts.h). */
#include "io/report/charts.h"

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

void rp_fact_num(html_buf *b, const char *name, int64_t v, int64_t of)
{
  hb_puts(b, "<tr><th>");
  hb_text(b, name);
  hb_puts(b, "</th><td>");
  hb_count(b, v);
  if (of > 0) {
    hb_printf(b, " (%.2f%% of ", 100.0 * (double)v / (double)of);
    hb_count(b, of);
    hb_puts(b, ")");
  }
  hb_puts(b, "</td></tr>\n");
}

void rp_chart_figure(html_buf *b, const svg_chart *c)
{
  hb_puts(b, "<figure>");
  svg_chart_write(b, c);
  hb_puts(b, "</figure>\n");
}

double rp_max_of(const double *v, int n, double floor_)
{
  double m = floor_;
  for (int i = 0; i < n; i++)
    if (!isnan(v[i]) && v[i] > m) m = v[i];
  return m;
}


/* Classes 2, 3, 4, 5-8, 9-16, ... (group sizes) or 0, 1, 2-3, 4-7, ... (cluster sizes). */
int rp_size_class(int64_t size, int groups)
{
  if (groups) {
    if (size <= 4) return (int)size - 2;
    int c = 2;
    for (int64_t hi = 4; hi < size; hi *= 2) c++;
    return c;
  }
  if (size <= 0) return 0;
  int c = 1;
  for (int64_t hi = 2; hi <= size; hi *= 2) c++;
  return c;
}

void rp_size_classes_label(size_classes *sc, int groups)
{
  for (int c = 0; c < sc->n; c++) {
    int64_t lo, hi;
    if (groups) {
      lo = c <= 2 ? c + 2 : ((int64_t)1 << (c - 1)) + 1;
      hi = c <= 2 ? lo : (int64_t)1 << c;
    } else {
      lo = c == 0 ? 0 : (int64_t)1 << (c - 1);
      hi = c == 0 ? 0 : ((int64_t)1 << c) - 1;
    }
    if (lo == hi) snprintf(sc->label[c], sizeof sc->label[c], "%lld", (long long)lo);
    else snprintf(sc->label[c], sizeof sc->label[c], "%lld\xe2\x80\x93%lld", (long long)lo, (long long)hi);
    sc->labels[c] = sc->label[c];
  }
}

void rp_size_chart(html_buf *b, size_classes *sc, int groups, const char *id, const char *title, const char *desc,
                       const char *xlabel, const char *ylabel)
{
  double edges[65];
  int first = 0;
  if (sc->n == 0) sc->n = 1; /* nothing to count: one empty class keeps the axes */
  while (first + 1 < sc->n && sc->count[first] == 0) first++;
  int n = sc->n - first;
  rp_size_classes_label(sc, groups);
  for (int i = 0; i <= n; i++) edges[i] = i;
  svg_series s = {.name = ylabel, .kind = SVG_BARS, .n = n, .x = edges, .y = sc->count + first};
  svg_chart c = {.id = id, .title = title, .desc = desc, .xlabel = xlabel, .ylabel = ylabel, .xmin = 0, .xmax = n,
                 .ymin = 0.5, .ymax = 2 * rp_max_of(sc->count, sc->n, 1), .ylog = 1, .xcats = sc->labels + first,
                 .series = &s, .nseries = 1};
  rp_chart_figure(b, &c);
}

