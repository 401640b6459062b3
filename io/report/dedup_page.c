/* The report of a dedup result (see io/report/pages.h). */
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

/* ---- dedup ---- */

typedef struct pair_rec {
  int64_t a, b;
  float sim;
} pair_rec;

typedef struct near_pair {
  int64_t a, b;
  float sim;
  double dist; /* |sim - (float)T| */
} near_pair;

static int near_pair_cmp(const void *x, const void *y)
{
  const near_pair *p = x, *q = y;
  if (p->dist != q->dist) return p->dist < q->dist ? -1 : 1;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return (p->b > q->b) - (p->b < q->b);
}

static int near_pair_by_sim(const void *x, const void *y)
{
  const near_pair *p = x, *q = y;
  if (p->sim != q->sim) return p->sim > q->sim ? -1 : 1;
  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  return (p->b > q->b) - (p->b < q->b);
}

typedef struct group {
  int64_t rep, removed; /* the kept item; how many removed items it represents */
  int nm;
  int64_t *members; /* the lowest ids of the removed ones, ascending */
  float *sims;      /* their similarity to rep (NaN: not a found pair, e.g. along a chain) */
} group;

static int group_cmp(const void *x, const void *y)
{
  const group *p = x, *q = y;
  if (p->removed != q->removed) return p->removed > q->removed ? -1 : 1;
  return (p->rep > q->rep) - (p->rep < q->rep);
}

enum { MAX_RECALL = 256 };

typedef struct recall_row {
  int32_t k;
  double recall, lo, hi;
} recall_row;

typedef struct dedup_data {
  int64_t n, npairs, removed, ngroups;
  double thr, tlow;
  int nthr;
  double thresholds[64];
  int64_t sweep_removed[64];
  group *groups;  /* the largest, shown */
  int64_t shown;
  size_classes group_sizes, cluster_sizes;
  int64_t clusters_k, largest_cluster;
  fhist pairs_hist;
  best near;
  idmap keep_of; /* id of a near pair's item -> keep flag */
  recall_row recall[MAX_RECALL];
  int nrecall;
  int64_t against;     /* kept items of a dedup --against result (0: none) */
  idmap is_new;        /* with against: the ids of /ids (the new items) */
  best kept_pairs;     /* the most similar new-kept pairs */
  int64_t nkept_pairs; /* how many pairs join a new item and a kept one */
} dedup_data;

static void dedup_data_free(dedup_data *d)
{
  for (int64_t i = 0; d->groups && i < d->shown; i++) {
    free(d->groups[i].members);
    free(d->groups[i].sims);
  }
  free(d->groups);
  free(d->near.buf);
  free(d->kept_pairs.buf);
  idmap_free(&d->keep_of);
  idmap_free(&d->is_new);
}

/* With --against: pass over /ids for the set of new items (a pair with an id outside it joins a new
 * item and a kept one). Memory grows with the new items, not the kept corpus. */
static ma_status dedup_new_ids(report *r, dedup_data *d, hid_t dids)
{
  ma_status st = MA_OK;
  int64_t *ids = NULL, *v;
  MA_ALLOC(ids, RP_CHUNK);
  for (int64_t lo = 0; lo < d->n; lo += RP_CHUNK) {
    int64_t cnt = d->n - lo < RP_CHUNK ? d->n - lo : RP_CHUNK;
    MA_TRY(rp_read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    for (int64_t i = 0; i < cnt; i++) MA_TRY(idmap_put(&d->is_new, ids[i], 0, 1, &v));
  }
done:
  free(ids);
  return st;
}

/* Pass over /ids and /representative: how many items each kept item represents; the largest groups. */
static ma_status dedup_groups(report *r, dedup_data *d, hid_t dids, hid_t drep)
{
  ma_status st = MA_OK;
  idmap counts = {0}, shown = {0};
  int64_t *ids = NULL, *rep = NULL, cap = r->cfg->per_page * r->cfg->max_pages, mcap = r->cfg->members - 1;
  MA_ALLOC(ids, RP_CHUNK);
  MA_ALLOC(rep, RP_CHUNK);
  for (int64_t lo = 0; lo < d->n; lo += RP_CHUNK) {
    int64_t cnt = d->n - lo < RP_CHUNK ? d->n - lo : RP_CHUNK, *v;
    MA_TRY(rp_read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    MA_TRY(rp_read_part(r, drep, "/representative", H5T_NATIVE_INT64, lo, cnt, 0, 0, rep));
    for (int64_t i = 0; i < cnt; i++) {
      if (rep[i] == ids[i]) continue;
      MA_TRY(idmap_put(&counts, rep[i], 0, 0, &v));
      ++*v;
    }
  }
  d->ngroups = counts.n;
  MA_ALLOC(d->groups, counts.n + 1);
  for (int64_t i = 0, g = 0; i < counts.cap; i++) {
    if (!counts.used[i]) continue;
    d->groups[g++] = (group){.rep = counts.ka[i], .removed = counts.val[i]};
    int c = rp_size_class(counts.val[i] + 1, 1);
    if (c >= d->group_sizes.n) d->group_sizes.n = c + 1;
    d->group_sizes.count[c]++;
  }
  qsort(d->groups, (size_t)counts.n, sizeof *d->groups, group_cmp);
  d->shown = counts.n < cap ? counts.n : cap;
  for (int64_t g = 0; g < d->shown; g++) {
    int64_t *v;
    MA_ALLOC(d->groups[g].members, mcap);
    MA_ALLOC(d->groups[g].sims, mcap);
    for (int64_t j = 0; j < mcap; j++) d->groups[g].sims[j] = NAN;
    MA_TRY(idmap_put(&shown, d->groups[g].rep, 0, g, &v));
  }
  /* second pass: the lowest ids of each shown group's removed items */
  for (int64_t lo = 0; lo < d->n && d->shown > 0; lo += RP_CHUNK) {
    int64_t cnt = d->n - lo < RP_CHUNK ? d->n - lo : RP_CHUNK;
    MA_TRY(rp_read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    MA_TRY(rp_read_part(r, drep, "/representative", H5T_NATIVE_INT64, lo, cnt, 0, 0, rep));
    for (int64_t i = 0; i < cnt; i++) {
      int64_t *gi = rep[i] == ids[i] ? NULL : idmap_get(&shown, rep[i], 0);
      if (!gi) continue;
      group *g = &d->groups[*gi];
      if (g->nm == mcap && ids[i] > g->members[mcap - 1]) continue;
      int at = g->nm < mcap ? g->nm++ : (int)mcap - 1;
      while (at > 0 && g->members[at - 1] > ids[i]) {
        g->members[at] = g->members[at - 1];
        at--;
      }
      g->members[at] = ids[i];
    }
  }
done:
  free(ids);
  free(rep);
  idmap_free(&counts);
  idmap_free(&shown);
  return st;
}

/* Pass over /pairs: the histogram, the pairs closest to the threshold, the similarities of shown members. */
static ma_status dedup_pairs(report *r, dedup_data *d, hid_t dpairs)
{
  ma_status st = MA_OK;
  idmap slot = {0};
  pair_rec *buf = NULL;
  hid_t ft = -1, mt = -1;
  int64_t mcap = r->cfg->members - 1;
  MA_H5_TRY(ft = H5Dget_type(dpairs));
  if (H5Tget_class(ft) != H5T_COMPOUND || H5Tget_member_index(ft, "a") < 0 || H5Tget_member_index(ft, "b") < 0 ||
      H5Tget_member_index(ft, "sim") < 0) {
    H5Eclear2(H5E_DEFAULT);
    MA_TRY(ma_fail(MA_ERR_DATA, "%s:/pairs is not a compound of {a, b, sim, ...}", r->file));
  }
  MA_H5_TRY(mt = H5Tcreate(H5T_COMPOUND, sizeof(pair_rec)));
  MA_H5_TRY(H5Tinsert(mt, "a", offsetof(pair_rec, a), H5T_NATIVE_INT64));
  MA_H5_TRY(H5Tinsert(mt, "b", offsetof(pair_rec, b), H5T_NATIVE_INT64));
  MA_H5_TRY(H5Tinsert(mt, "sim", offsetof(pair_rec, sim), H5T_NATIVE_FLOAT));
  for (int64_t g = 0; g < d->shown; g++)
    for (int j = 0; j < d->groups[g].nm; j++) {
      int64_t a = d->groups[g].rep, b = d->groups[g].members[j], *v;
      MA_TRY(idmap_put(&slot, a < b ? a : b, a < b ? b : a, g * mcap + j, &v));
    }
  MA_TRY(best_init(&d->near, sizeof(near_pair), r->cfg->borderline, near_pair_cmp));
  MA_TRY(best_init(&d->kept_pairs, sizeof(near_pair), d->against ? r->cfg->borderline : 0, near_pair_by_sim));
  MA_ALLOC(buf, RP_CHUNK);
  for (int64_t lo = 0; lo < d->npairs; lo += RP_CHUNK) {
    int64_t cnt = d->npairs - lo < RP_CHUNK ? d->npairs - lo : RP_CHUNK;
    MA_TRY(rp_read_part(r, dpairs, "/pairs", mt, lo, cnt, 0, 0, buf));
    for (int64_t i = 0; i < cnt; i++) {
      const pair_rec *p = &buf[i];
      fh_add(&d->pairs_hist, p->sim);
      near_pair np = {p->a, p->b, p->sim, fabs((double)p->sim - (float)d->thr)};
      best_add(&d->near, &np);
      if (d->against && (!idmap_get(&d->is_new, p->a, 0) || !idmap_get(&d->is_new, p->b, 0))) {
        d->nkept_pairs++;
        best_add(&d->kept_pairs, &np);
      }
      int64_t *s = idmap_get(&slot, p->a, p->b);
      if (s) d->groups[*s / mcap].sims[*s % mcap] = p->sim;
    }
  }
  best_finish(&d->near);
  qsort(d->near.buf, (size_t)d->near.n, sizeof(near_pair), near_pair_by_sim);
  best_finish(&d->kept_pairs);
  qsort(d->kept_pairs.buf, (size_t)d->kept_pairs.n, sizeof(near_pair), near_pair_by_sim);
done:
  h5_close(&mt);
  h5_close(&ft);
  free(buf);
  idmap_free(&slot);
  return st;
}

/* Pass over /ids and /keep for the items of the pairs shown. */
static ma_status dedup_keep_flags(report *r, dedup_data *d, hid_t dids, hid_t dkeep)
{
  ma_status st = MA_OK;
  int64_t *ids = NULL, *v;
  uint8_t *keep = NULL;
  const near_pair *np = (const near_pair *)d->near.buf, *kp = (const near_pair *)d->kept_pairs.buf;
  for (int64_t i = 0; i < d->near.n; i++) {
    MA_TRY(idmap_put(&d->keep_of, np[i].a, 0, -1, &v));
    MA_TRY(idmap_put(&d->keep_of, np[i].b, 0, -1, &v));
  }
  for (int64_t i = 0; i < d->kept_pairs.n; i++) {
    MA_TRY(idmap_put(&d->keep_of, kp[i].a, 0, -1, &v));
    MA_TRY(idmap_put(&d->keep_of, kp[i].b, 0, -1, &v));
  }
  if (d->near.n == 0 && d->kept_pairs.n == 0) return MA_OK;
  MA_ALLOC(ids, RP_CHUNK);
  MA_ALLOC(keep, RP_CHUNK);
  for (int64_t lo = 0; lo < d->n; lo += RP_CHUNK) {
    int64_t cnt = d->n - lo < RP_CHUNK ? d->n - lo : RP_CHUNK;
    MA_TRY(rp_read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    MA_TRY(rp_read_part(r, dkeep, "/keep", H5T_NATIVE_UINT8, lo, cnt, 0, 0, keep));
    for (int64_t i = 0; i < cnt; i++)
      if ((v = idmap_get(&d->keep_of, ids[i], 0))) *v = keep[i];
  }
done:
  free(ids);
  free(keep);
  return st;
}

static ma_status dedup_thresholds(report *r, dedup_data *d)
{
  double v;
  MA_CALL(rp_attr_num(r, "threshold", &d->thr));
  d->thresholds[0] = d->tlow = d->thr;
  d->nthr = 1;
  for (int i = 0; d->nthr < 64; i++) {
    char name[32];
    snprintf(name, sizeof name, "/sweep/%d", i);
    if (!rp_has(r->f, "/sweep") || !rp_has(r->f, name)) break;
    hid_t g = H5Oopen(r->f, name, H5P_DEFAULT);
    if (g < 0) return h5_fail(MA_ERR_DATA, "%s: cannot open %s", r->file, name);
    ma_status st = h5_attr_f64(g, "threshold", &v);
    int64_t removed = -1;
    if (st == MA_OK && h5_attr_i64(g, "removed", &removed) != MA_OK) {
      ma_err_clear();
      removed = -1;
    }
    H5Oclose(g);
    if (st != MA_OK) {
      ma_err_clear();
      return ma_fail(MA_ERR_DATA, "%s:%s lacks its threshold attribute", r->file, name);
    }
    d->sweep_removed[d->nthr] = removed;
    d->thresholds[d->nthr++] = v;
    if (v < d->tlow) d->tlow = v;
  }
  return MA_OK;
}

static ma_status dedup_cluster_sizes(report *r, dedup_data *d)
{
  ma_status st = MA_OK;
  hid_t ds = -1;
  int64_t dims[2], *sizes = NULL;
  if (!rp_has(r->f, "/clusterings") || !rp_has(r->f, "/clusterings/0")) return MA_OK;
  MA_TRY(rp_open_dset(r, "/clusterings/0/sizes", 1, -1, 1, &ds, dims));
  if (ds < 0) goto done;
  MA_ALLOC(sizes, dims[0] + 1);
  MA_TRY(rp_read_part(r, ds, "/clusterings/0/sizes", H5T_NATIVE_INT64, 0, dims[0], 0, 0, sizes));
  d->clusters_k = dims[0];
  for (int64_t i = 0; i < dims[0]; i++) {
    int c = rp_size_class(sizes[i], 0);
    if (c >= d->cluster_sizes.n) d->cluster_sizes.n = c + 1;
    d->cluster_sizes.count[c]++;
    if (sizes[i] > d->largest_cluster) d->largest_cluster = sizes[i];
  }
done:
  h5_close(&ds);
  free(sizes);
  return st;
}

/* /recall, when there is one: the estimate after 1..R clusterings (the first MAX_RECALL rows). */
static ma_status dedup_recall(report *r, dedup_data *d, hid_t drecall)
{
  ma_status st = MA_OK;
  hid_t mt = -1, sp = -1;
  hsize_t rows = 0;
  if (drecall < 0) return MA_OK;
  MA_H5_TRY(sp = H5Dget_space(drecall));
  MA_H5_TRY(H5Sget_simple_extent_dims(sp, &rows, NULL));
  MA_H5_TRY(mt = H5Tcreate(H5T_COMPOUND, sizeof(recall_row)));
  MA_H5_TRY(H5Tinsert(mt, "clusterings", offsetof(recall_row, k), H5T_NATIVE_INT32));
  MA_H5_TRY(H5Tinsert(mt, "recall", offsetof(recall_row, recall), H5T_NATIVE_DOUBLE));
  MA_H5_TRY(H5Tinsert(mt, "ci_low", offsetof(recall_row, lo), H5T_NATIVE_DOUBLE));
  MA_H5_TRY(H5Tinsert(mt, "ci_high", offsetof(recall_row, hi), H5T_NATIVE_DOUBLE));
  d->nrecall = rows < MAX_RECALL ? (int)rows : MAX_RECALL;
  MA_TRY(rp_read_part(r, drecall, "/recall", mt, 0, d->nrecall, 0, 0, d->recall));
done:
  h5_close(&mt);
  h5_close(&sp);
  return st;
}

static const char *keep_word(const dedup_data *d, int64_t id)
{
  int64_t *v = idmap_get(&d->keep_of, id, 0);
  if (d->against && !idmap_get(&d->is_new, id, 0)) return "kept (--against)";
  return !v || *v < 0 ? "" : *v ? "kept" : "removed";
}

static ma_status dedup_sections(report *r, dedup_data *d)
{
  section *s = &r->sec[r->nsec++];
  s->name = "groups";
  s->title = "Largest groups";
  for (int64_t g = 0; g < d->shown; g++) {
    const group *gr = &d->groups[g];
    MA_CALL(section_row(s, gr->removed - gr->nm, "#%lld &middot; group of <b>%lld</b>: kept <b>%lld</b>, %lld removed",
                        (long long)g + 1, (long long)gr->removed + 1, (long long)gr->rep, (long long)gr->removed));
    MA_CALL(section_cell(s, gr->rep, 0, "kept", "%lld<br>kept", (long long)gr->rep));
    for (int j = 0; j < gr->nm; j++) {
      long long m = (long long)gr->members[j];
      if (isnan(gr->sims[j])) MA_CALL(section_cell(s, m, 0, "removed", "%lld<br>(chain)", m));
      else MA_CALL(section_cell(s, m, 0, "removed", "%lld<br>%.5f", m, gr->sims[j]));
    }
  }
  char c1[32], c2[32];
  snprintf(s->intro, sizeof s->intro,
           "%s of %s groups, largest first (ties: lower id). A group is a kept item and the items removed as its "
           "duplicates (whose /representative it is); the removed ones are shown lowest id first, with their "
           "similarity to the kept item.%s",
           html_count_str(c1, d->shown), html_count_str(c2, d->ngroups),
           d->shown < d->ngroups ? " The rest are counted, not shown (raise --max-pages or --per-page)." : "");

  s = &r->sec[r->nsec++];
  s->name = "pairs";
  s->title = "Pairs closest to the threshold";
  const near_pair *np = (const near_pair *)d->near.buf;
  for (int64_t i = 0; i < d->near.n; i++) {
    double diff = (double)np[i].sim - (float)d->thr; /* dedup compares in float */
    MA_CALL(section_row(s, 0, "similarity <b>%.6f</b> &middot; %s the threshold by %.6f", np[i].sim,
                        diff >= 0 ? "above" : "below", fabs(diff)));
    const char *ka = keep_word(d, np[i].a), *kb = keep_word(d, np[i].b);
    MA_CALL(section_cell(s, np[i].a, 0, ka, "%lld<br>%s", (long long)np[i].a, ka));
    MA_CALL(section_cell(s, np[i].b, 0, kb, "%lld<br>%s", (long long)np[i].b, kb));
  }
  snprintf(s->intro, sizeof s->intro,
           "The %s found pairs whose similarity is closest to the primary threshold %g (above it, or below it down "
           "to the lowest threshold), most similar first: look at them to judge the threshold.",
           html_count_str(c1, d->near.n), d->thr);
  if (!d->against) return MA_OK;

  s = &r->sec[r->nsec++];
  s->name = "against";
  s->title = "New items that duplicate a kept item";
  char c3[32], c4[32];
  const near_pair *kp = (const near_pair *)d->kept_pairs.buf;
  for (int64_t i = 0; i < d->kept_pairs.n; i++) {
    /* the new item first, then the kept one */
    int a_new = idmap_get(&d->is_new, kp[i].a, 0) != NULL;
    int64_t nw = a_new ? kp[i].a : kp[i].b, kept = a_new ? kp[i].b : kp[i].a;
    MA_CALL(section_row(s, 0, "similarity <b>%.6f</b>", kp[i].sim));
    const char *kn = keep_word(d, nw);
    MA_CALL(section_cell(s, nw, 0, kn, "%lld<br>%s", (long long)nw, kn));
    MA_CALL(section_cell(s, kept, 0, "kept", "%lld<br>kept (--against)", (long long)kept));
  }
  snprintf(s->intro, sizeof s->intro,
           "This result checked %s new items against %s kept ones (dedup --against), which are never removed nor "
           "compared with each other. %s pairs join a new item and a kept one; the %s most similar are shown, the "
           "new item first.",
           html_count_str(c1, d->n), html_count_str(c2, d->against), html_count_str(c3, d->nkept_pairs),
           html_count_str(c4, d->kept_pairs.n));
  return MA_OK;
}

static void dedup_charts(report *r, dedup_data *d)
{
  html_buf *b = &r->index;
  char desc[512];
  dbins db;
  double y[128];
  fh_display_bins(floor((d->tlow - 0.005) * 100.0) / 100.0, &db);
  for (int i = 0; i < db.n; i++) y[i] = fh_dbin_sum(&d->pairs_hist, &db, i);
  svg_marker mk[64];
  char labels[64][48];
  for (int i = 0; i < d->nthr; i++) {
    snprintf(labels[i], sizeof labels[i], "%s%g", i == 0 ? "threshold " : "", d->thresholds[i]);
    mk[i] = (svg_marker){d->thresholds[i], labels[i], i == 0};
  }
  snprintf(desc, sizeof desc, "Histogram of the similarities of the %lld pairs found (at or above %g), %d bins "
           "from %.3f to 1; thresholds marked.", (long long)d->npairs, d->tlow, db.n, db.edges[0]);
  svg_series sp = {.name = "pairs", .kind = SVG_BARS, .n = db.n, .x = db.edges, .y = y};
  svg_chart c = {.id = "chart-similarity", .title = "Similarity of the pairs found", .desc = desc,
                 .xlabel = "cosine similarity", .ylabel = "pairs", .xmin = db.edges[0], .xmax = db.edges[db.n],
                 .ymin = 0, .ymax = 1.1 * rp_max_of(y, db.n, 1), .series = &sp, .nseries = 1, .markers = mk,
                 .nmarkers = d->nthr};
  hb_puts(b, "<section id=\"charts\"><h2>Charts</h2>\n<div class=\"charts\">\n");
  rp_chart_figure(b, &c);

  snprintf(desc, sizeof desc, "Number of groups by size, log scale: %lld groups, each a kept item and the items "
           "removed as its duplicates (whose representative it is).", (long long)d->ngroups);
  rp_size_chart(b, &d->group_sizes, 1, "chart-group-sizes", "Groups by size (a kept item and its removed duplicates)",
             desc, "items in the group", "groups");
  if (d->clusters_k > 0) {
    snprintf(desc, sizeof desc, "Number of k-means clusters (clustering 0) by size, log scale: %lld clusters, the "
             "largest %lld items (%.1f times the mean).", (long long)d->clusters_k, (long long)d->largest_cluster,
             (double)d->largest_cluster * (double)d->clusters_k / (double)(d->n ? d->n : 1));
    rp_size_chart(b, &d->cluster_sizes, 0, "chart-cluster-sizes", "k-means clusters by size (clustering 0)", desc,
               "items in the cluster", "clusters");
  }
  if (d->nrecall > 0) {
    double x[MAX_RECALL], rv[MAX_RECALL], lo[MAX_RECALL], hi[MAX_RECALL], ymin = 1;
    int len = snprintf(desc, sizeof desc, "Estimated pair recall after 1..%d clusterings with 95%% intervals:",
                       d->nrecall);
    for (int i = 0; i < d->nrecall; i++) {
      const recall_row *rr = &d->recall[i];
      x[i] = rr->k;
      rv[i] = rr->recall;
      lo[i] = rr->lo;
      hi[i] = rr->hi;
      ymin = fmin(ymin, lo[i]);
      if (len < (int)sizeof desc - 40)
        len += snprintf(desc + len, sizeof desc - (size_t)len, " %d: %.3f (%.3f-%.3f)%s", rr->k, rv[i], lo[i], hi[i],
                        i + 1 < d->nrecall ? ";" : ".");
    }
    svg_series s = {.name = "recall", .kind = SVG_POINTS, .n = d->nrecall, .x = x, .y = rv, .ylo = lo, .yhi = hi};
    svg_chart rc = {.id = "chart-recall", .title = "Recall after 1..R clusterings", .desc = desc,
                    .xlabel = "clusterings", .ylabel = "estimated recall", .xmin = 0.5, .xmax = d->nrecall + 0.5,
                    .ymin = fmax(0, floor(ymin * 10 - 0.5) / 10), .ymax = 1, .xint = 1, .series = &s, .nseries = 1};
    rp_chart_figure(b, &rc);
  }
  hb_puts(b, "</div>\n");
  if (d->nrecall == 0)
    hb_puts(b, "<p class=\"note\">No recall estimate in this result (dedup ran with --recall-sample 0 or --exact)."
               "</p>\n");
  hb_puts(b, "</section>\n");
}

ma_status rp_dedup_page(report *r)
{
  ma_status st = MA_OK;
  dedup_data d = {0};
  hid_t dids = -1, dkeep = -1, drep = -1, dpairs = -1, drecall = -1;
  int64_t dims[2];
  char text[4096];
  html_buf *b = &r->index;
  MA_TRY(rp_open_dset(r, "/ids", 1, -1, 0, &dids, dims));
  d.n = dims[0];
  MA_TRY(rp_open_dset(r, "/keep", 1, d.n, 0, &dkeep, dims));
  MA_TRY(rp_open_dset(r, "/representative", 1, d.n, 0, &drep, dims));
  MA_TRY(rp_open_dset(r, "/pairs", 1, -1, 0, &dpairs, dims));
  d.npairs = dims[0];
  MA_TRY(rp_open_dset(r, "/recall", 1, -1, 1, &drecall, dims));
  MA_TRY(dedup_thresholds(r, &d));

  log_phase_begin("read");
  if (h5_attr_i64(r->f, "against", &d.against) != MA_OK) {
    ma_err_clear();
    d.against = 0;
  }
  if (d.against) MA_TRY(dedup_new_ids(r, &d, dids));
  MA_TRY(dedup_groups(r, &d, dids, drep));
  MA_TRY(dedup_pairs(r, &d, dpairs));
  MA_TRY(dedup_keep_flags(r, &d, dids, dkeep));
  MA_TRY(dedup_cluster_sizes(r, &d));
  MA_TRY(dedup_recall(r, &d, drecall));
  if (h5_attr_i64(r->f, "removed", &d.removed) != MA_OK) {
    ma_err_clear();
    d.removed = 0;
  }
  MA_TRY(dedup_sections(r, &d));

  html_begin(b, "memaudit dedup report", 1);
  hb_puts(b, "<section id=\"summary\"><table class=\"facts\">\n");
  html_fact(b, "result", r->file);
  rp_attr_text(r->f, "command_line", text, sizeof text);
  if (text[0]) html_fact(b, "command", text);
  rp_fact_num(b, "items", d.n, 0);
  rp_fact_num(b, "removed", d.removed, d.n);
  int64_t connected;
  if (h5_attr_i64(r->f, "groups", &connected) == MA_OK) rp_fact_num(b, "duplicate groups (connected)", connected, 0);
  else ma_err_clear();
  rp_fact_num(b, "kept items standing for removed ones", d.ngroups, 0);
  rp_fact_num(b, "pairs found", d.npairs, 0);
  if (d.against) {
    rp_fact_num(b, "kept items (--against)", d.against, 0);
    rp_fact_num(b, "pairs of a new item and a kept one", d.nkept_pairs, d.npairs);
  }
  {
    int len = snprintf(text, sizeof text, "%g (primary)", d.thr);
    for (int i = 1; i < d.nthr; i++) {
      len += snprintf(text + len, sizeof text - (size_t)len, ", %g", d.thresholds[i]);
      if (d.sweep_removed[i] >= 0)
        len += snprintf(text + len, sizeof text - (size_t)len, " (removes %lld)", (long long)d.sweep_removed[i]);
    }
    html_fact(b, "thresholds", text);
  }
  {
    char k[64], rr[64];
    rp_attr_text(r->f, "clusters", k, sizeof k);
    rp_attr_text(r->f, "reclusterings", rr, sizeof rr);
    rp_attr_text(r->f, "exact", text, sizeof text);
    if (!strcmp(text, "1")) html_fact(b, "search", "exact (all pairs)");
    else if (k[0]) {
      snprintf(text, sizeof text, "%s clusterings of %s clusters", rr[0] ? rr : "?", k);
      html_fact(b, "search", text);
    }
  }
  rp_attr_text(r->f, "keep_rule", text, sizeof text);
  if (text[0]) html_fact(b, "keep rule", text);
  rp_attr_text(r->f, "priority", text, sizeof text);
  if (text[0]) html_fact(b, "priority", text);
  rp_attr_text(r->f, "version", text, sizeof text);
  if (text[0]) html_fact(b, "memaudit version", text);
  hb_puts(b, "</table></section>\n");
  dedup_charts(r, &d);
done:
  h5_close(&dids);
  h5_close(&dkeep);
  h5_close(&drep);
  h5_close(&dpairs);
  h5_close(&drecall);
  dedup_data_free(&d);
  return st;
}

