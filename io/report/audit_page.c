/* The report of an audit result (see io/report/pages.h). */
#include "io/report/pages.h"

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

/* ---- audit ---- */

typedef struct sample_rec {
  int64_t row, id;
  float sim;
} sample_rec;

static int sample_cmp(const void *x, const void *y)
{
  const sample_rec *p = x, *q = y;
  if (p->sim != q->sim) return p->sim > q->sim ? -1 : 1;
  return (p->id > q->id) - (p->id < q->id);
}

typedef struct audit_data {
  int64_t m, k, nflagged, shown;
  double thr;
  hid_t dnb, dsim, dflag, dids, dnear, dsrc, dsrcsim;
  sample_rec *flagged;
  int64_t cap_flagged;
  best closest;
  fhist gen, base;
  char base_name[128];
} audit_data;

/* Rows of one sample for its strip: neighbours, similarities, near count, source. */
static ma_status audit_strip(report *r, audit_data *d, section *s, const sample_rec *sr, int64_t rank)
{
  ma_status st = MA_OK;
  int64_t *nb = NULL, near = -1, src = -1, show = d->k < r->cfg->neighbors ? d->k : r->cfg->neighbors;
  float *sim = NULL, srcsim = NAN;
  char extra[160] = "";
  MA_ALLOC(nb, d->k);
  MA_ALLOC(sim, d->k);
  MA_TRY(rp_read_part(r, d->dnb, "/neighbors", H5T_NATIVE_INT64, sr->row, 1, 0, d->k, nb));
  MA_TRY(rp_read_part(r, d->dsim, "/similarity", H5T_NATIVE_FLOAT, sr->row, 1, 0, d->k, sim));
  if (d->dnear >= 0) MA_TRY(rp_read_part(r, d->dnear, "/near_count", H5T_NATIVE_INT64, sr->row, 1, 0, 0, &near));
  if (d->dsrc >= 0 && d->dsrcsim >= 0) {
    MA_TRY(rp_read_part(r, d->dsrc, "/source_ids", H5T_NATIVE_INT64, sr->row, 1, 0, 0, &src));
    MA_TRY(rp_read_part(r, d->dsrcsim, "/source_similarity", H5T_NATIVE_FLOAT, sr->row, 1, 0, 0, &srcsim));
    snprintf(extra, sizeof extra, " &middot; source %lld (%.5f)%s", (long long)src, srcsim,
             src == nb[0] ? ", its nearest" : "");
  }
  char counted[96] = "";
  if (near >= 0)
    snprintf(counted, sizeof counted, " &middot; %lld training item%s at or above %g", (long long)near,
             near == 1 ? "" : "s", d->thr);
  MA_TRY(section_row(s, d->k - show, "#%lld &middot; sample <b>%lld</b> &middot; nearest <b>%.6f</b>%s%s",
                     (long long)rank + 1, (long long)sr->id, sr->sim, counted, extra));
  MA_TRY(section_cell(s, sr->id, 1, "sample", "sample %lld", (long long)sr->id));
  for (int64_t j = 0; j < show; j++)
    MA_TRY(section_cell(s, nb[j], 0, "neighbor", "%lld<br>%.5f", (long long)nb[j], sim[j]));
done:
  free(nb);
  free(sim);
  return st;
}

static ma_status audit_scan(report *r, audit_data *d)
{
  ma_status st = MA_OK;
  float *sim = NULL;
  uint8_t *flag = NULL;
  int64_t *ids = NULL;
  MA_ALLOC(sim, RP_CHUNK);
  MA_ALLOC(flag, RP_CHUNK);
  MA_ALLOC(ids, RP_CHUNK);
  MA_TRY(best_init(&d->closest, sizeof(sample_rec), r->cfg->borderline, sample_cmp));
  for (int64_t lo = 0; lo < d->m; lo += RP_CHUNK) {
    int64_t cnt = d->m - lo < RP_CHUNK ? d->m - lo : RP_CHUNK;
    MA_TRY(rp_read_part(r, d->dsim, "/similarity", H5T_NATIVE_FLOAT, lo, cnt, 0, 1, sim));
    MA_TRY(rp_read_part(r, d->dflag, "/flagged", H5T_NATIVE_UINT8, lo, cnt, 0, 0, flag));
    if (d->dids >= 0) MA_TRY(rp_read_part(r, d->dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    else
      for (int64_t i = 0; i < cnt; i++) ids[i] = lo + i;
    for (int64_t i = 0; i < cnt; i++) {
      sample_rec s = {lo + i, ids[i], sim[i]};
      fh_add(&d->gen, sim[i]);
      if (flag[i]) {
        MA_TRY(rp_grow((void **)&d->flagged, &d->cap_flagged, d->nflagged + 1, sizeof *d->flagged));
        d->flagged[d->nflagged++] = s;
      } else {
        best_add(&d->closest, &s);
      }
    }
  }
  best_finish(&d->closest);
  qsort(d->flagged, (size_t)d->nflagged, sizeof *d->flagged, sample_cmp);
  /* the baseline: holdout, else the train-to-train sample */
  const char *bname = rp_has(r->f, "/holdout/similarity") ? "/holdout/similarity"
                      : rp_has(r->f, "/baseline/similarity") ? "/baseline/similarity" : NULL;
  if (bname) {
    hid_t db = -1;
    int64_t dims[2];
    st = rp_open_dset(r, bname, 1, -1, 0, &db, dims);
    for (int64_t lo = 0; st == MA_OK && lo < dims[0]; lo += RP_CHUNK) {
      int64_t cnt = dims[0] - lo < RP_CHUNK ? dims[0] - lo : RP_CHUNK;
      st = rp_read_part(r, db, bname, H5T_NATIVE_FLOAT, lo, cnt, 0, 0, sim);
      for (int64_t i = 0; st == MA_OK && i < cnt; i++) fh_add(&d->base, sim[i]);
    }
    h5_close(&db);
    if (st != MA_OK) goto done;
    char c1[32];
    snprintf(d->base_name, sizeof d->base_name, "%s (%s)", bname[1] == 'h' ? "holdout" : "train-to-train baseline",
             html_count_str(c1, d->base.n));
  }
done:
  free(sim);
  free(flag);
  free(ids);
  return st;
}

static void audit_charts(report *r, audit_data *d)
{
  html_buf *b = &r->index;
  char desc[512], gen_name[96], tlabel[96];
  double lo = d->gen.n ? d->gen.vmin : 0, yg[128], yb[128], cg[129], cb[129];
  if (d->base.n && d->base.vmin < lo) lo = d->base.vmin;
  dbins db;
  fh_display_bins(fmin(floor(lo * 20.0) / 20.0, floor((d->thr - 0.01) * 20.0) / 20.0), &db);
  for (int i = 0; i < db.n; i++) {
    yg[i] = d->gen.n ? fh_dbin_sum(&d->gen, &db, i) / (double)d->gen.n : 0;
    yb[i] = d->base.n ? fh_dbin_sum(&d->base, &db, i) / (double)d->base.n : 0;
  }
  char c1[32], c2[32];
  snprintf(gen_name, sizeof gen_name, "generated samples (%s)", html_count_str(c1, d->gen.n));
  svg_series hs[2] = {{.name = gen_name, .kind = SVG_STEP, .n = db.n, .x = db.edges, .y = yg},
                      {.name = d->base_name, .kind = SVG_STEP, .n = db.n, .x = db.edges, .y = yb, .dashed = 1}};
  snprintf(tlabel, sizeof tlabel, "threshold %g: %s flagged", d->thr, html_count_str(c1, d->nflagged));
  svg_marker mk = {d->thr, tlabel, 1};
  snprintf(desc, sizeof desc, "Histograms (share of items per bin) of each generated sample's nearest training "
           "similarity%s%s, %d bins from %.3f to 1; the threshold marked.", d->base.n ? " and of the " : "",
           d->base.n ? d->base_name : "", db.n, db.edges[0]);
  double ymax = fmax(rp_max_of(yg, db.n, 0), rp_max_of(yb, db.n, 0));
  svg_chart c = {.id = "chart-nearest", .title = "Nearest training similarity", .desc = desc,
                 .xlabel = "cosine similarity to the nearest training item", .ylabel = "share of items",
                 .xmin = db.edges[0], .xmax = db.edges[db.n], .ymin = 0, .ymax = ymax > 0 ? 1.1 * ymax : 1,
                 .series = hs, .nseries = d->base.n ? 2 : 1, .markers = &mk, .nmarkers = 1};
  hb_puts(b, "<section id=\"charts\"><h2>Charts</h2>\n<div class=\"charts\">\n");
  rp_chart_figure(b, &c);

  for (int i = 0; i <= db.n; i++) {
    cg[i] = fh_at_least(&d->gen, db.edges[i]);
    cb[i] = d->base.n ? fh_at_least(&d->base, db.edges[i]) / (double)d->base.n * (double)d->gen.n : NAN;
  }
  char bscaled[160];
  snprintf(bscaled, sizeof bscaled, "%s, scaled to %s", d->base_name, html_count_str(c1, d->gen.n));
  svg_series fs[2] = {{.name = gen_name, .kind = SVG_LINE, .n = db.n + 1, .x = db.edges, .y = cg},
                      {.name = bscaled, .kind = SVG_LINE, .n = db.n + 1, .x = db.edges, .y = cb, .dashed = 1}};
  snprintf(desc, sizeof desc, "How many generated samples would be flagged at each threshold (nearest similarity at "
           "or above it), log scale%s; at %g: %s of %s.", d->base.n ? ", with the baseline's rate for comparison" : "",
           d->thr, html_count_str(c1, d->nflagged), html_count_str(c2, d->m));
  svg_chart fc = {.id = "chart-flagged-by-threshold", .title = "Flagged count by threshold", .desc = desc,
                  .xlabel = "threshold", .ylabel = "samples flagged", .xmin = db.edges[0], .xmax = db.edges[db.n],
                  .ymin = 0.5, .ymax = 2.0 * fmax(1, (double)d->gen.n), .ylog = 1, .series = fs,
                  .nseries = d->base.n ? 2 : 1, .markers = &mk, .nmarkers = 1};
  rp_chart_figure(b, &fc);
  hb_puts(b, "</div>\n</section>\n");
}

ma_status rp_audit_page(report *r)
{
  ma_status st = MA_OK;
  audit_data d = {.dnb = -1, .dsim = -1, .dflag = -1, .dids = -1, .dnear = -1, .dsrc = -1, .dsrcsim = -1};
  int64_t dims[2], cap = r->cfg->per_page * r->cfg->max_pages;
  char text[4096], c1[32], c2[32];
  html_buf *b = &r->index;
  MA_TRY(rp_open_dset(r, "/neighbors", 2, -1, 0, &d.dnb, dims));
  d.m = dims[0];
  d.k = dims[1];
  MA_TRY(rp_open_dset(r, "/similarity", 2, d.m, 0, &d.dsim, dims));
  if (dims[1] != d.k || d.k < 1)
    MA_TRY(ma_fail(MA_ERR_DATA, "%s:/similarity has %lld columns, /neighbors %lld", r->file, (long long)dims[1],
                   (long long)d.k));
  MA_TRY(rp_open_dset(r, "/flagged", 1, d.m, 0, &d.dflag, dims));
  MA_TRY(rp_open_dset(r, "/ids", 1, d.m, 1, &d.dids, dims));
  MA_TRY(rp_open_dset(r, "/near_count", 1, d.m, 1, &d.dnear, dims));
  MA_TRY(rp_open_dset(r, "/source_ids", 1, d.m, 1, &d.dsrc, dims));
  MA_TRY(rp_open_dset(r, "/source_similarity", 1, d.m, 1, &d.dsrcsim, dims));
  MA_TRY(rp_attr_num(r, "threshold", &d.thr));

  log_phase_begin("read");
  MA_TRY(audit_scan(r, &d));
  d.shown = d.nflagged < cap ? d.nflagged : cap;

  section *s = &r->sec[r->nsec++];
  s->name = "flagged";
  s->title = "Flagged samples";
  for (int64_t i = 0; i < d.shown; i++) MA_TRY(audit_strip(r, &d, s, &d.flagged[i], i));
  if (d.nflagged == 0)
    snprintf(s->intro, sizeof s->intro, "No sample is flagged: none has a training item at or above %g.", d.thr);
  else
    snprintf(s->intro, sizeof s->intro,
             "%s of %s flagged samples (nearest training similarity at or above %g), most similar first (ties: "
             "lower id), each beside its nearest training items, most similar first.%s",
             html_count_str(c1, d.shown), html_count_str(c2, d.nflagged), d.thr,
             d.shown < d.nflagged ? " The rest are counted, not shown: raise --max-pages or --per-page, or read "
                                    "them all in the CSV (audit --csv)." : "");
  s = &r->sec[r->nsec++];
  s->name = "closest";
  s->title = "Closest below the threshold";
  const sample_rec *cl = (const sample_rec *)d.closest.buf;
  for (int64_t i = 0; i < d.closest.n; i++) MA_TRY(audit_strip(r, &d, s, &cl[i], i));
  snprintf(s->intro, sizeof s->intro,
           "The %s unflagged samples closest to the training set, most similar first: what sits just below the "
           "threshold %g. Look at them, and at the flagged ones, to judge the threshold.",
           html_count_str(c1, d.closest.n), d.thr);

  html_begin(b, "memaudit audit report", 1);
  rp_attr_text(r->f, "verdict", text, sizeof text);
  if (text[0]) {
    hb_puts(b, "<p class=\"verdict\" id=\"verdict\">");
    hb_text(b, text);
    hb_puts(b, "</p>\n");
  }
  hb_puts(b, "<section id=\"summary\"><table class=\"facts\">\n");
  html_fact(b, "result", r->file);
  rp_attr_text(r->f, "command_line", text, sizeof text);
  if (text[0]) html_fact(b, "command", text);
  rp_fact_num(b, "generated samples", d.m, 0);
  rp_fact_num(b, "flagged", d.nflagged, d.m);
  snprintf(text, sizeof text, "%g", d.thr);
  html_fact(b, "threshold", text);
  snprintf(text, sizeof text, "%lld", (long long)d.k);
  html_fact(b, "neighbours per sample (k)", text);
  int64_t ntrain;
  if (h5_attr_i64(r->f, "n", &ntrain) == MA_OK) rp_fact_num(b, "training items", ntrain, 0);
  else ma_err_clear();
  rp_attr_text(r->f, "baseline", text, sizeof text);
  if (text[0]) html_fact(b, "baseline", text);
  rp_attr_text(r->f, "mann_whitney_p", text, sizeof text);
  if (text[0]) html_fact(b, "Mann-Whitney p", text);
  rp_attr_text(r->f, "version", text, sizeof text);
  if (text[0]) html_fact(b, "memaudit version", text);
  hb_puts(b, "</table></section>\n");
  audit_charts(r, &d);
done:
  h5_close(&d.dnb);
  h5_close(&d.dsim);
  h5_close(&d.dflag);
  h5_close(&d.dids);
  h5_close(&d.dnear);
  h5_close(&d.dsrc);
  h5_close(&d.dsrcsim);
  free(d.flagged);
  free(d.closest.buf);
  return st;
}

