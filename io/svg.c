/* Inline SVG charts. Geometry: a fixed 680 x 330 viewBox (the page scales it down on narrow screens),
 * the plot area inside fixed margins, ticks at 1-2-5 steps (linear) or decades (log). */
#include "io/svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum { W = 680, H = 340, ML = 70, MR = 18, MT = 56, MB = 50 };
#define PW (W - ML - MR)
#define PH (H - MT - MB)

static const char *const palette[] = {"#3b6fb6", "#d9822b", "#2e8b57", "#8e44ad"};

static double px_x(const svg_chart *c, double x)
{
  double t = (x - c->xmin) / (c->xmax - c->xmin);
  return ML + fmin(fmax(t, 0.0), 1.0) * PW;
}

static double px_y(const svg_chart *c, double y)
{
  double t;
  if (c->ylog) t = (log10(fmax(y, c->ymin)) - log10(c->ymin)) / (log10(c->ymax) - log10(c->ymin));
  else t = (y - c->ymin) / (c->ymax - c->ymin);
  return MT + PH - fmin(fmax(t, 0.0), 1.0) * PH;
}

static int drawable(const svg_chart *c, double y) { return !isnan(y) && (!c->ylog || y > 0); }

/* A short tick label: 0.95, 12, 3.4k, 2M. */
static void tick_label(char *buf, size_t len, double v)
{
  double a = fabs(v);
  if (a >= 1e6) snprintf(buf, len, "%gM", v / 1e6);
  else if (a >= 1e4) snprintf(buf, len, "%gk", v / 1e3);
  else snprintf(buf, len, "%.6g", fabs(v) < 1e-12 ? 0.0 : v);
}

static double nice_step(double range, int want)
{
  double raw = range / want, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
  return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * mag;
}

static void ytick(html_buf *b, const svg_chart *c, double v)
{
  char label[32];
  double y = px_y(c, v);
  tick_label(label, sizeof label, v);
  hb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", ML, ML + PW, y, y);
  hb_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" dominant-baseline=\"middle\">%s</text>", ML - 6, y,
            label);
}

static void xtick(html_buf *b, double x, const char *label)
{
  hb_printf(b, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#888\"/>", x, x, MT + PH, MT + PH + 4);
  hb_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">", x, MT + PH + 17);
  hb_text(b, label);
  hb_puts(b, "</text>");
}

static void axes(html_buf *b, const svg_chart *c)
{
  char label[32];
  hb_puts(b, "<g class=\"axes\" font-size=\"11\" fill=\"#333\">");
  if (c->ylog) {
    int d0 = (int)floor(log10(c->ymin) + 1e-9), d1 = (int)ceil(log10(c->ymax) - 1e-9);
    for (int d = d0; d <= d1; d++) {
      static const double sub[] = {1, 2, 5};
      for (int s = 0; s < (d1 - d0 <= 2 ? 3 : 1); s++) {
        double v = sub[s] * pow(10.0, d);
        if (v >= c->ymin * (1 - 1e-9) && v <= c->ymax * (1 + 1e-9)) ytick(b, c, v);
      }
    }
  } else {
    double step = nice_step(c->ymax - c->ymin, 5);
    for (double v = ceil(c->ymin / step - 1e-9) * step; v <= c->ymax + step * 1e-9; v += step) ytick(b, c, v);
  }
  if (c->xcats) {
    int n = (int)lround(c->xmax), every = (60 * n + PW - 1) / PW; /* about 60 px per label */
    for (int i = 0; i < n; i += every) xtick(b, px_x(c, i + 0.5), c->xcats[i]);
  } else {
    double step = nice_step(c->xmax - c->xmin, 8);
    if (c->xint && step < 1) step = 1;
    for (double v = ceil(c->xmin / step - 1e-9) * step; v <= c->xmax + step * 1e-9; v += step) {
      tick_label(label, sizeof label, v);
      xtick(b, px_x(c, v), label);
    }
  }
  hb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>", ML, ML + PW, MT + PH, MT + PH);
  hb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#555\"/>", ML, ML, MT, MT + PH);
  hb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">", ML + PW / 2, H - 8);
  hb_text(b, c->xlabel);
  hb_printf(b, "</text><text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\" font-size=\"12\">",
            MT + PH / 2);
  hb_text(b, c->ylabel);
  hb_puts(b, "</text></g>\n");
}

/* Each bar carries its bin and value as a tooltip: "9-16: 5 groups", "0.95-0.951: 12 pairs". */
static void series_bars(html_buf *b, const svg_chart *c, const svg_series *s, const char *col)
{
  double base = MT + PH;
  for (int i = 0; i < s->n; i++) {
    if (!drawable(c, s->y[i]) || (!c->ylog && s->y[i] <= c->ymin)) continue;
    double x0 = px_x(c, s->x[i]), x1 = px_x(c, s->x[i + 1]), y = px_y(c, s->y[i]);
    double w = x1 - x0 > 2 ? x1 - x0 - 1 : fmax(x1 - x0, 0.6);
    hb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" fill-opacity=\"0.85\"><title>",
              x0, y, w, base - y, col);
    if (c->xcats) hb_text(b, c->xcats[i]);
    else hb_printf(b, "%.6g\xe2\x80\x93%.6g", s->x[i], s->x[i + 1]);
    hb_printf(b, ": %.15g ", s->y[i]);
    hb_text(b, s->name);
    hb_puts(b, "</title></rect>");
  }
}

static void series_step(html_buf *b, const svg_chart *c, const svg_series *s, const char *col)
{
  double base = MT + PH;
  hb_printf(b, "<path d=\"M%.1f %.1f", px_x(c, s->x[0]), base);
  for (int i = 0; i < s->n; i++) {
    double y = drawable(c, s->y[i]) ? px_y(c, s->y[i]) : base;
    hb_printf(b, "V%.1fH%.1f", y, px_x(c, s->x[i + 1]));
  }
  hb_printf(b, "V%.1fZ\" fill=\"%s\" fill-opacity=\"0.12\" stroke=\"%s\" stroke-width=\"2\"%s/>", base, col, col,
            s->dashed ? " stroke-dasharray=\"6 3\"" : "");
}

static void series_line(html_buf *b, const svg_chart *c, const svg_series *s, const char *col)
{
  int open = 0;
  for (int i = 0; i < s->n; i++) {
    if (!drawable(c, s->y[i])) {
      if (open) hb_puts(b, "\"/>");
      open = 0;
      continue;
    }
    if (!open)
      hb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", col,
                s->dashed ? " stroke-dasharray=\"6 3\"" : "");
    hb_printf(b, "%s%.1f,%.1f", open ? " " : "", px_x(c, s->x[i]), px_y(c, s->y[i]));
    open = 1;
  }
  if (open) hb_puts(b, "\"/>");
}

static void series_points(html_buf *b, const svg_chart *c, const svg_series *s, const char *col)
{
  series_line(b, c, s, col);
  for (int i = 0; i < s->n; i++) {
    if (!drawable(c, s->y[i])) continue;
    double x = px_x(c, s->x[i]);
    if (s->ylo && s->yhi) {
      double y0 = px_y(c, s->ylo[i]), y1 = px_y(c, s->yhi[i]);
      hb_printf(b, "<path class=\"errorbar\" d=\"M%.1f %.1fV%.1fM%.1f %.1fh10M%.1f %.1fh10\" stroke=\"%s\" "
                   "stroke-width=\"1.5\"/>", x, y0, y1, x - 5, y0, x - 5, y1, col);
    }
    hb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>%.6g: %.4f", x, px_y(c, s->y[i]), col,
              s->x[i], s->y[i]);
    if (s->ylo && s->yhi) hb_printf(b, " (%.4f\xe2\x80\x93%.4f)", s->ylo[i], s->yhi[i]);
    hb_puts(b, "</title></circle>");
  }
}

static void markers(html_buf *b, const svg_chart *c)
{
  for (int i = 0; i < c->nmarkers; i++) {
    const svg_marker *m = &c->markers[i];
    if (m->x < c->xmin || m->x > c->xmax) continue;
    double x = px_x(c, m->x);
    hb_printf(b, "<g class=\"marker\"><line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#c0392b\" "
                 "stroke-width=\"%s\"%s/>", x, x, MT, MT + PH, m->strong ? "2" : "1.2",
              m->strong ? "" : " stroke-dasharray=\"4 3\"");
    hb_printf(b, "<text transform=\"translate(%.1f,%d) rotate(90)\" font-size=\"11\" fill=\"#c0392b\">", x + 4, MT + 4);
    hb_text(b, m->label);
    hb_puts(b, "</text></g>\n");
  }
}

/* One line under the title, entries side by side (widths estimated from the text length). */
static void legend(html_buf *b, const svg_chart *c)
{
  if (c->nseries < 2) return;
  double x = ML;
  hb_puts(b, "<g class=\"legend\" font-size=\"11\">");
  for (int i = 0; i < c->nseries; i++) {
    hb_printf(b, "<rect x=\"%.1f\" y=\"33\" width=\"14\" height=\"10\" fill=\"%s\"/>", x, palette[i % 4]);
    hb_printf(b, "<text x=\"%.1f\" y=\"38\" dominant-baseline=\"middle\">", x + 19);
    hb_text(b, c->series[i].name);
    hb_puts(b, "</text>");
    x += 19 + 6.2 * (double)strlen(c->series[i].name) + 18;
  }
  hb_puts(b, "</g>\n");
}

void svg_chart_write(html_buf *b, const svg_chart *c)
{
  hb_printf(b, "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
               "width=\"%d\" height=\"%d\" role=\"img\" aria-labelledby=\"%s-title %s-desc\" "
               "font-family=\"system-ui,'DejaVu Sans',sans-serif\">\n<title id=\"%s-title\">",
            c->id, W, H, W, H, c->id, c->id, c->id);
  hb_text(b, c->title);
  hb_printf(b, "</title>\n<desc id=\"%s-desc\">", c->id);
  hb_text(b, c->desc);
  hb_printf(b, "</desc>\n<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<text x=\"%d\" y=\"22\" font-size=\"14\" "
               "font-weight=\"600\">", W, H, ML - 50);
  hb_text(b, c->title);
  hb_puts(b, "</text>\n");
  axes(b, c);
  for (int i = 0; i < c->nseries; i++) {
    const svg_series *s = &c->series[i];
    static const char *const kind[] = {"bars", "step", "line", "points"};
    const char *col = palette[i % 4];
    hb_printf(b, "<g class=\"series series-%s\" data-series=\"%d\" aria-label=\"", kind[s->kind], i);
    hb_text(b, s->name);
    hb_puts(b, "\">");
    if (s->n > 0) {
      switch (s->kind) {
      case SVG_BARS: series_bars(b, c, s, col); break;
      case SVG_STEP: series_step(b, c, s, col); break;
      case SVG_LINE: series_line(b, c, s, col); break;
      case SVG_POINTS: series_points(b, c, s, col); break;
      }
    }
    hb_puts(b, "</g>\n");
  }
  markers(b, c);
  legend(b, c);
  hb_puts(b, "</svg>\n");
}
