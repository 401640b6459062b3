/* memaudit report: a self-contained HTML folder (inline SVG charts, JPEG contact sheets) from a dedup
 * or audit result. A result is a summary, so rank 0 does all the work; other ranks only join the final
 * agreement. Every dataset is streamed in chunks and only what is shown is kept, so the report of a
 * result with a hundred million rows needs memory for its pages, not for the rows. */
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "io/h5util.h"
#include "io/html.h"
#include "io/sheet.h"
#include "io/svg.h"
#include "jobs/commands.h"
#include "jobs/options.h"
#include "mpi/comm.h"

static const char report_help[] =
    "usage: memaudit report RESULT.h5 -o DIR [options]\n\n"
    "Writes DIR/index.html and its pages: a self-contained folder (no network, no scripts) with charts\n"
    "as inline SVG and, given the image paths, contact sheets as JPEG. RESULT is a dedup result (pair\n"
    "similarities, group sizes, cluster sizes, recall; the largest groups and the pairs closest to the\n"
    "threshold) or an audit result (nearest similarity of the samples against the holdout or baseline,\n"
    "flagged count by threshold; each flagged sample beside its nearest training items). DIR appears\n"
    "whole or not at all; an existing report there is replaced, any other non-empty directory refused.\n\n"
    "  -o, --output DIR                 the report folder\n"
    "      --images PATH[:DATASET]      id -> image path for the items of the result (dedup) or the\n"
    "                                   training set (audit): a file with /ids and a string dataset\n"
    "                                   (default /paths), as embed writes; repeatable (shards in order,\n"
    "                                   @LIST: one a line); without /ids, ids are row numbers\n"
    "      --generated-images PATH[:DATASET]  the same for the generated samples (audit)\n"
    "      --image-root DIR             relative image paths are taken relative to DIR (default: as they\n"
    "                                   are, i.e. to the current directory)\n"
    "      --per-page N                 groups, pairs or samples per page (default 50)\n"
    "      --max-pages N                pages per list at most (default 20); the rest is counted, not shown\n"
    "      --group-members N            dedup: items shown per group (default 12)\n"
    "      --neighbors N                audit: nearest training items shown per sample (default 10)\n"
    "      --borderline N               dedup: the N pairs closest to the threshold; audit: the N unflagged\n"
    "                                   samples closest below it (default 100; 0: none)\n"
    "      --thumb PX                   thumbnail size in pixels (default 128)\n"
    "  -q, --quiet / -v, --verbose      less / more progress on stderr\n";

enum {
  OPT_IMAGES = OPT_COMMAND,
  OPT_GEN_IMAGES,
  OPT_IMAGE_ROOT,
  OPT_PER_PAGE,
  OPT_MAX_PAGES,
  OPT_MEMBERS,
  OPT_NEIGHBORS,
  OPT_BORDERLINE,
  OPT_THUMB
};

enum { CHUNK = 1 << 20, PREVIEW_ROWS = 5, FINE_BINS = 4000, JPEG_MAX_SIDE = 65000 };

typedef struct report_cfg {
  const char *result, *outdir, *image_root;
  ma_opts images, gen_images; /* only their input lists are used */
  int64_t per_page, max_pages, members, neighbors, borderline, thumb;
  int verbosity, help;
} report_cfg;

static ma_status parse(int argc, char **argv, report_cfg *c)
{
  static const struct option longopts[] = {{"output", required_argument, 0, 'o'},
                                            {"quiet", no_argument, 0, 'q'},
                                            {"verbose", no_argument, 0, 'v'},
                                            {"help", no_argument, 0, 'h'},
                                            {"images", required_argument, 0, OPT_IMAGES},
                                            {"generated-images", required_argument, 0, OPT_GEN_IMAGES},
                                            {"image-root", required_argument, 0, OPT_IMAGE_ROOT},
                                            {"per-page", required_argument, 0, OPT_PER_PAGE},
                                            {"max-pages", required_argument, 0, OPT_MAX_PAGES},
                                            {"group-members", required_argument, 0, OPT_MEMBERS},
                                            {"neighbors", required_argument, 0, OPT_NEIGHBORS},
                                            {"borderline", required_argument, 0, OPT_BORDERLINE},
                                            {"thumb", required_argument, 0, OPT_THUMB},
                                            {0, 0, 0, 0}};
  int opt;
  opts_init(&c->images);
  opts_init(&c->gen_images);
  c->per_page = 50;
  c->max_pages = 20;
  c->members = 12;
  c->neighbors = 10;
  c->borderline = 100;
  c->thumb = 128;
  c->verbosity = LOG_NORMAL;
  opts_reset();
  while ((opt = getopt_long(argc, argv, "o:qvh", longopts, NULL)) != -1) {
    switch (opt) {
    case 'o': c->outdir = optarg; break;
    case 'q': c->verbosity = LOG_QUIET; break;
    case 'v': c->verbosity = LOG_VERBOSE; break;
    case 'h': c->help = 1; break;
    case OPT_IMAGES: MA_CALL(opts_add_input(&c->images, optarg)); break;
    case OPT_GEN_IMAGES: MA_CALL(opts_add_input(&c->gen_images, optarg)); break;
    case OPT_IMAGE_ROOT: c->image_root = optarg; break;
    case OPT_PER_PAGE: MA_CALL(opts_int64(optarg, "--per-page", 1, 500, &c->per_page)); break;
    case OPT_MAX_PAGES: MA_CALL(opts_int64(optarg, "--max-pages", 1, 10000, &c->max_pages)); break;
    case OPT_MEMBERS: MA_CALL(opts_int64(optarg, "--group-members", 2, 200, &c->members)); break;
    case OPT_NEIGHBORS: MA_CALL(opts_int64(optarg, "--neighbors", 1, 200, &c->neighbors)); break;
    case OPT_BORDERLINE: MA_CALL(opts_int64(optarg, "--borderline", 0, 100000, &c->borderline)); break;
    case OPT_THUMB: MA_CALL(opts_int64(optarg, "--thumb", 32, 512, &c->thumb)); break;
    default: return opts_unknown("report", argc, argv);
    }
  }
  if (c->help) return MA_OK;
  if (optind >= argc)
    return ma_fail(MA_ERR_USAGE, "usage: memaudit report RESULT.h5 -o DIR [options] (see memaudit report --help)");
  c->result = argv[optind++];
  if (optind < argc) return ma_fail(MA_ERR_USAGE, "report takes one result file, not '%s' as well", argv[optind]);
  if (!c->outdir) return ma_fail(MA_ERR_USAGE, "report needs -o DIR (the report folder)");
  /* a contact sheet is one JPEG of (cells in a row) x (rows on a page) thumbnails */
  int64_t cols = c->members > c->neighbors + 1 ? c->members : c->neighbors + 1;
  if (c->per_page * c->thumb > JPEG_MAX_SIDE || cols * c->thumb > JPEG_MAX_SIDE)
    return ma_fail(MA_ERR_USAGE, "a contact sheet of %lld x %lld thumbnails of %lld px exceeds JPEG's %d px: lower "
                   "--per-page, --group-members, --neighbors or --thumb", (long long)cols, (long long)c->per_page,
                   (long long)c->thumb, JPEG_MAX_SIDE);
  return MA_OK;
}

/* ---- small containers ---- */

static ma_status grow(void **p, int64_t *cap, int64_t need, size_t elem)
{
  if (need <= *cap) return MA_OK;
  int64_t n = *cap ? *cap : 64;
  while (n < need) n *= 2;
  void *q = realloc(*p, (size_t)n * elem);
  if (!q) return ma_fail(MA_ERR_RUNTIME, "out of memory (%lld records)", (long long)n);
  *p = q;
  *cap = n;
  return MA_OK;
}

/* Open-addressing map from a key of one or two int64 to an int64. */
typedef struct idmap {
  int64_t cap, n;
  int64_t *ka, *kb, *val;
  uint8_t *used;
} idmap;

static uint64_t mix64(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static int64_t idmap_slot(const idmap *m, int64_t a, int64_t b)
{
  uint64_t i = mix64((uint64_t)a * 0x9e3779b97f4a7c15ULL ^ mix64((uint64_t)b)) & (uint64_t)(m->cap - 1);
  while (m->used[i] && (m->ka[i] != a || m->kb[i] != b)) i = (i + 1) & (uint64_t)(m->cap - 1);
  return (int64_t)i;
}

static void idmap_free(idmap *m)
{
  free(m->ka);
  free(m->kb);
  free(m->val);
  free(m->used);
  *m = (idmap){0};
}

static ma_status idmap_resize(idmap *m, int64_t cap)
{
  ma_status st = MA_OK;
  idmap t = {.cap = cap};
  MA_ALLOC(t.ka, cap);
  MA_ALLOC(t.kb, cap);
  MA_ALLOC(t.val, cap);
  MA_ALLOC(t.used, cap);
  for (int64_t i = 0; i < m->cap; i++) {
    if (!m->used[i]) continue;
    int64_t j = idmap_slot(&t, m->ka[i], m->kb[i]);
    t.used[j] = 1;
    t.ka[j] = m->ka[i];
    t.kb[j] = m->kb[i];
    t.val[j] = m->val[i];
  }
  t.n = m->n;
  idmap_free(m);
  *m = t;
  return MA_OK;
done:
  idmap_free(&t);
  return st;
}

/* The value of (a, b), inserted as init when absent; valid until the next insertion. */
static ma_status idmap_put(idmap *m, int64_t a, int64_t b, int64_t init, int64_t **val)
{
  if ((m->n + 1) * 2 > m->cap) MA_CALL(idmap_resize(m, m->cap ? m->cap * 2 : 1024));
  int64_t i = idmap_slot(m, a, b);
  if (!m->used[i]) {
    m->used[i] = 1;
    m->ka[i] = a;
    m->kb[i] = b;
    m->val[i] = init;
    m->n++;
  }
  *val = &m->val[i];
  return MA_OK;
}

static int64_t *idmap_get(const idmap *m, int64_t a, int64_t b)
{
  if (!m->cap) return NULL;
  int64_t i = idmap_slot(m, a, b);
  return m->used[i] ? &m->val[i] : NULL;
}

/* The `keep` best records of a stream under cmp (smaller is better), in bounded memory. */
typedef struct best {
  char *buf;
  size_t elem;
  int64_t n, keep, cap;
  int (*cmp)(const void *, const void *);
} best;

static ma_status best_init(best *b, size_t elem, int64_t keep, int (*cmp)(const void *, const void *))
{
  ma_status st = MA_OK;
  *b = (best){.elem = elem, .keep = keep, .cap = keep ? 2 * keep + 1024 : 0, .cmp = cmp};
  MA_ALLOC(b->buf, (size_t)b->cap * elem);
done:
  return st;
}

static void best_add(best *b, const void *rec)
{
  if (!b->keep) return;
  if (b->n == b->cap) {
    qsort(b->buf, (size_t)b->n, b->elem, b->cmp);
    b->n = b->keep;
  }
  memcpy(b->buf + (size_t)b->n++ * b->elem, rec, b->elem);
}

static void best_finish(best *b)
{
  qsort(b->buf, (size_t)b->n, b->elem, b->cmp);
  if (b->n > b->keep) b->n = b->keep;
}

/* A histogram of similarities over [-1, 1] in FINE_BINS bins, regrouped for display. */
typedef struct fhist {
  int64_t c[FINE_BINS];
  int64_t n;
  double vmin, vmax;
} fhist;

static const double fine_w = 2.0 / FINE_BINS;

static int fine_bin(double v)
{
  int i = (int)floor((v + 1.0) / fine_w);
  return i < 0 ? 0 : i >= FINE_BINS ? FINE_BINS - 1 : i;
}

static void fh_add(fhist *h, double v)
{
  if (isnan(v)) return;
  if (h->n == 0 || v < h->vmin) h->vmin = v;
  if (h->n == 0 || v > h->vmax) h->vmax = v;
  h->c[fine_bin(v)]++;
  h->n++;
}

/* Display bins from lo to 1: the smallest width (a multiple of the fine width) giving <= 60 bins. */
typedef struct dbins {
  int n, group, first; /* bins, fine bins per bin, first fine bin */
  double edges[128];
} dbins;

static void display_bins(double lo, dbins *d)
{
  static const int groups[] = {1, 2, 4, 5, 10, 20, 40, 50, 100, 200};
  lo = fmax(-1.0, lo);
  d->first = fine_bin(lo + fine_w / 2);
  int fine = FINE_BINS - d->first;
  d->group = groups[9];
  for (int i = 0; i < 10; i++)
    if ((fine + groups[i] - 1) / groups[i] <= 60) {
      d->group = groups[i];
      break;
    }
  d->n = (fine + d->group - 1) / d->group;
  for (int i = 0; i <= d->n; i++) d->edges[i] = -1.0 + (d->first + (double)i * d->group) * fine_w;
}

static double dbin_sum(const fhist *h, const dbins *d, int i)
{
  int64_t s = 0;
  for (int j = d->first + i * d->group; j < d->first + (i + 1) * d->group && j < FINE_BINS; j++) s += h->c[j];
  return (double)s;
}

/* Items of h at or above fine bin of x. */
static double fh_at_least(const fhist *h, double x)
{
  int64_t s = 0;
  for (int j = fine_bin(x + fine_w / 2); j < FINE_BINS; j++) s += h->c[j];
  return (double)s;
}

/* ---- the page model: sections of rows ("strips") of cells ---- */

typedef struct cell {
  int64_t id;
  int generated;          /* a generated sample's id (audit) rather than a training / result item's */
  const char *cls;        /* kept, removed, sample, neighbor */
  char caption[112];      /* HTML */
  int tile;               /* drawn on the page's sheet */
  sheet_tile_state state;
} cell;

typedef struct strip {
  char head[320]; /* HTML */
  int64_t first;  /* its first cell */
  int ncells;
  int64_t more; /* items of this row not shown */
} strip;

typedef struct section {
  const char *name, *title; /* file prefix and HTML id; heading */
  char intro[640];          /* HTML */
  strip *rows;
  int64_t nrows, cap_rows;
  cell *cells;
  int64_t ncells, cap_cells;
  int cols, pages, sheet1;
} section;

static ma_status section_row(section *s, int64_t more, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ma_status section_row(section *s, int64_t more, const char *fmt, ...)
{
  MA_CALL(grow((void **)&s->rows, &s->cap_rows, s->nrows + 1, sizeof *s->rows));
  strip *r = &s->rows[s->nrows++];
  memset(r, 0, sizeof *r);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->head, sizeof r->head, fmt, ap);
  va_end(ap);
  r->first = s->ncells;
  r->more = more;
  return MA_OK;
}

static ma_status section_cell(section *s, int64_t id, int generated, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static ma_status section_cell(section *s, int64_t id, int generated, const char *cls, const char *fmt, ...)
{
  MA_CALL(grow((void **)&s->cells, &s->cap_cells, s->ncells + 1, sizeof *s->cells));
  cell *c = &s->cells[s->ncells++];
  memset(c, 0, sizeof *c);
  c->id = id;
  c->generated = generated;
  c->cls = cls;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->caption, sizeof c->caption, fmt, ap);
  va_end(ap);
  strip *r = &s->rows[s->nrows - 1];
  if (++r->ncells > s->cols) s->cols = r->ncells;
  return MA_OK;
}

static void section_free(section *s)
{
  free(s->rows);
  free(s->cells);
  memset(s, 0, sizeof *s);
}

/* ---- the report being written ---- */

typedef struct report {
  const report_cfg *cfg;
  const char *file; /* the result */
  hid_t f;
  char *tmpdir;
  sheet_paths train, gen; /* image paths of the ids shown */
  int have_train, have_gen;
  section sec[3];
  int nsec;
  html_buf index;
  int64_t tiles, tiles_done, tiles_missing;
} report;

static const sheet_paths *cell_paths(const report *r, const cell *c)
{
  if (c->generated) return r->have_gen ? &r->gen : NULL;
  return r->have_train ? &r->train : NULL;
}

static char *join(const char *dir, const char *name)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static ma_status write_file(const report *r, const char *name, const html_buf *b)
{
  char *path = join(r->tmpdir, name);
  if (!path) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  ma_status st = html_write(b, path);
  free(path);
  return st;
}

static void strip_html(html_buf *b, const report *r, const section *s, int64_t i, int page_row, const char *sheet_jpg)
{
  const strip *row = &s->rows[i];
  hb_printf(b, "<li class=\"strip\" id=\"%s-%lld\"><div class=\"strip-head\">%s</div><div class=\"cells\">", s->name,
            (long long)i + 1, row->head);
  for (int j = 0; j < row->ncells; j++) {
    const cell *c = &s->cells[row->first + j];
    const sheet_paths *p = cell_paths(r, c);
    const char *path = p ? sheet_paths_get(p, c->id) : NULL;
    char alt[64], caption[256];
    snprintf(alt, sizeof alt, "%s %lld", c->generated ? "sample" : "id", (long long)c->id);
    if (c->tile && c->state != SHEET_PICTURE)
      snprintf(caption, sizeof caption, "%s<br><span class=\"flag-missing\">%s</span>", c->caption,
               sheet_tile_state_name(c->state));
    else snprintf(caption, sizeof caption, "%s", c->caption);
    html_cell(b, c->tile ? sheet_jpg : NULL, j, page_row, (int)r->cfg->thumb, c->cls, alt, path, caption);
  }
  if (row->more > 0) {
    hb_puts(b, "<span class=\"more\">+");
    hb_count(b, row->more);
    hb_puts(b, " more</span>");
  }
  hb_puts(b, "</div></li>\n");
}

/* Draws the sheet of rows [r0, r1) when any of their cells has an image source; *drawn says so. */
static ma_status page_sheet(report *r, section *s, int64_t r0, int64_t r1, const char *name, int *drawn)
{
  ma_status st = MA_OK;
  sheet *sh = NULL;
  char *path = NULL;
  *drawn = 0;
  for (int64_t c = s->rows[r0].first; c < s->rows[r1 - 1].first + s->rows[r1 - 1].ncells && !*drawn; c++)
    *drawn = cell_paths(r, &s->cells[c]) != NULL;
  if (!*drawn) return MA_OK;
  MA_TRY(sheet_new(s->cols, (int)(r1 - r0), (int)r->cfg->thumb, &sh));
  for (int64_t i = r0; i < r1; i++) {
    for (int j = 0; j < s->rows[i].ncells; j++) {
      cell *c = &s->cells[s->rows[i].first + j];
      const sheet_paths *p = cell_paths(r, c);
      if (!p) continue;
      MA_TRY(sheet_put(sh, j, (int)(i - r0), sheet_paths_get(p, c->id), &c->state));
      c->tile = 1;
      r->tiles_missing += c->state != SHEET_PICTURE;
      log_progress(++r->tiles_done, r->tiles);
    }
  }
  if (!(path = join(r->tmpdir, name))) MA_TRY(ma_fail(MA_ERR_RUNTIME, "out of memory"));
  MA_TRY(sheet_write(sh, path));
done:
  free(path);
  sheet_free(&sh);
  return st;
}

static ma_status write_section(report *r, section *s, const char *title)
{
  ma_status st = MA_OK;
  int64_t per = r->cfg->per_page;
  html_buf b = {0};
  s->pages = (int)((s->nrows + per - 1) / per);
  for (int p = 0; p < s->pages; p++) {
    int64_t r0 = p * per, r1 = r0 + per < s->nrows ? r0 + per : s->nrows;
    char sheet_jpg[64], page[64], head[512];
    int drawn;
    snprintf(sheet_jpg, sizeof sheet_jpg, "%s-%d.jpg", s->name, p + 1);
    snprintf(page, sizeof page, "%s-%d.html", s->name, p + 1);
    MA_TRY(page_sheet(r, s, r0, r1, sheet_jpg, &drawn));
    if (p == 0) s->sheet1 = drawn;
    snprintf(head, sizeof head, "%s: %s, page %d of %d", title, s->title, p + 1, s->pages);
    hb_free(&b);
    html_begin(&b, head, 0);
    hb_printf(&b, "<section id=\"%s\"><p class=\"count\">%s</p>\n", s->name, s->intro);
    html_pager(&b, s->name, p + 1, s->pages);
    hb_puts(&b, "<ol class=\"strips\">\n");
    for (int64_t i = r0; i < r1; i++) strip_html(&b, r, s, i, (int)(i - r0), drawn ? sheet_jpg : NULL);
    hb_puts(&b, "</ol>\n");
    html_pager(&b, s->name, p + 1, s->pages);
    hb_puts(&b, "</section>\n");
    html_end(&b);
    MA_TRY(write_file(r, page, &b));
  }
done:
  hb_free(&b);
  return st;
}

/* The section on the overview page: its intro, the first rows, links to every page. */
static void section_preview(report *r, const section *s)
{
  html_buf *b = &r->index;
  char sheet_jpg[64];
  snprintf(sheet_jpg, sizeof sheet_jpg, "%s-1.jpg", s->name);
  hb_printf(b, "<section id=\"%s\"><h2>", s->name);
  hb_text(b, s->title);
  hb_printf(b, "</h2>\n<p class=\"count\">%s</p>\n", s->intro);
  if (s->nrows == 0) {
    hb_puts(b, "</section>\n");
    return;
  }
  hb_puts(b, "<ol class=\"strips\">\n");
  for (int64_t i = 0; i < s->nrows && i < PREVIEW_ROWS; i++)
    strip_html(b, r, s, i, (int)i, s->sheet1 ? sheet_jpg : NULL);
  hb_puts(b, "</ol>\n");
  hb_printf(b, "<p><a href=\"%s-1.html\">all of them</a> (", s->name);
  hb_count(b, s->nrows);
  hb_printf(b, " on %d page%s)</p>\n", s->pages, s->pages == 1 ? "" : "s");
  html_pager(b, s->name, 0, s->pages);
  hb_puts(b, "</section>\n");
}

/* ---- reading the result ---- */

static int has(hid_t f, const char *name)
{
  int yes = H5Lexists(f, name, H5P_DEFAULT) > 0;
  H5Eclear2(H5E_DEFAULT);
  return yes;
}

/* Opens name as a dataset of `rank` dimensions whose first is rows (when rows >= 0). Optional and
 * absent: *d = -1. */
static ma_status open_dset(const report *r, const char *name, int rank, int64_t rows, int optional, hid_t *d,
                           int64_t dims[2])
{
  hsize_t hd[2] = {0, 0};
  *d = -1;
  if (!has(r->f, name)) return optional ? MA_OK : ma_fail(MA_ERR_DATA, "%s: no dataset %s", r->file, name);
  if ((*d = H5Dopen2(r->f, name, H5P_DEFAULT)) < 0) return h5_fail(MA_ERR_DATA, "%s: cannot open %s", r->file, name);
  hid_t s = H5Dget_space(*d);
  int nd = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
  if (nd == rank) H5Sget_simple_extent_dims(s, hd, NULL);
  if (s >= 0) H5Sclose(s);
  if (nd != rank) return ma_fail(MA_ERR_DATA, "%s:%s is not %d-D", r->file, name, rank);
  dims[0] = (int64_t)hd[0];
  dims[1] = (int64_t)hd[1];
  if (rows >= 0 && dims[0] != rows)
    return ma_fail(MA_ERR_DATA, "%s:%s has %lld rows, not %lld like the rest of the result", r->file, name,
                   (long long)dims[0], (long long)rows);
  return MA_OK;
}

/* Rows [lo, lo + count) of a 1-D dataset, or of columns [c0, c0 + nc) of a 2-D one (nc > 0). */
static ma_status read_part(const report *r, hid_t d, const char *name, hid_t mtype, int64_t lo, int64_t count,
                           int64_t c0, int64_t nc, void *buf)
{
  if (count == 0) return MA_OK;
  int rank = nc > 0 ? 2 : 1;
  hsize_t start[2] = {(hsize_t)lo, (hsize_t)c0}, cnt[2] = {(hsize_t)count, (hsize_t)nc};
  hid_t fs = H5Dget_space(d), ms = H5Screate_simple(rank, cnt, NULL);
  herr_t e = fs < 0 || ms < 0 ? -1 : H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
  if (e >= 0) e = H5Dread(d, mtype, ms, fs, H5P_DEFAULT, buf);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (e < 0)
    return h5_fail(MA_ERR_DATA, "%s:%s: cannot read rows %lld..%lld", r->file, name, (long long)lo,
                   (long long)(lo + count - 1));
  return MA_OK;
}

/* A root (or object) attribute as text, "" when absent. */
static void attr_text(hid_t obj, const char *name, char *buf, size_t len)
{
  buf[0] = '\0';
  if (H5Aexists(obj, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return;
  }
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1, m = -1;
  if (t < 0) goto done;
  if (H5Tget_class(t) == H5T_STRING) {
    m = H5Tcopy(H5T_C_S1);
    H5Tset_cset(m, H5Tget_cset(t));
    if (H5Tis_variable_str(t) > 0) {
      char *s = NULL;
      if (H5Tset_size(m, H5T_VARIABLE) >= 0 && H5Aread(a, m, &s) >= 0 && s) {
        snprintf(buf, len, "%s", s);
        H5free_memory(s);
      }
    } else {
      size_t n = H5Tget_size(t);
      char *s = calloc(n + 2, 1);
      if (s && H5Tset_size(m, n + 1) >= 0 && H5Tset_strpad(m, H5T_STR_NULLTERM) >= 0 && H5Aread(a, m, s) >= 0)
        snprintf(buf, len, "%s", s);
      free(s);
    }
  } else if (H5Tget_class(t) == H5T_INTEGER) {
    long long v;
    if (H5Aread(a, H5T_NATIVE_LLONG, &v) >= 0) snprintf(buf, len, "%lld", v);
  } else if (H5Tget_class(t) == H5T_FLOAT) {
    double v;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) snprintf(buf, len, "%.9g", v);
  }
done:
  h5_close(&m);
  h5_close(&t);
  h5_close(&a);
  H5Eclear2(H5E_DEFAULT);
}

static ma_status attr_num(const report *r, const char *name, double *v)
{
  if (h5_attr_f64(r->f, name, v) != MA_OK) {
    ma_err_clear();
    return ma_fail(MA_ERR_DATA, "%s: the root attribute %s is missing or not a number", r->file, name);
  }
  return MA_OK;
}

static void fact_num(html_buf *b, const char *name, int64_t v, int64_t of)
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

static void chart_figure(html_buf *b, const svg_chart *c)
{
  hb_puts(b, "<figure>");
  svg_chart_write(b, c);
  hb_puts(b, "</figure>\n");
}

static double max_of(const double *v, int n, double floor_)
{
  double m = floor_;
  for (int i = 0; i < n; i++)
    if (!isnan(v[i]) && v[i] > m) m = v[i];
  return m;
}

/* Counts by size class, for the bar charts of group and cluster sizes. */
typedef struct size_classes {
  int n;
  double count[64];
  char label[64][32];
  const char *labels[64];
} size_classes;

/* Classes 2, 3, 4, 5-8, 9-16, ... (group sizes) or 0, 1, 2-3, 4-7, ... (cluster sizes). */
static int size_class(int64_t size, int groups)
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

static void size_classes_label(size_classes *sc, int groups)
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

static void size_chart(html_buf *b, size_classes *sc, int groups, const char *id, const char *title, const char *desc,
                       const char *xlabel, const char *ylabel)
{
  double edges[65];
  int first = 0;
  if (sc->n == 0) sc->n = 1; /* nothing to count: one empty class keeps the axes */
  while (first + 1 < sc->n && sc->count[first] == 0) first++;
  int n = sc->n - first;
  size_classes_label(sc, groups);
  for (int i = 0; i <= n; i++) edges[i] = i;
  svg_series s = {.name = ylabel, .kind = SVG_BARS, .n = n, .x = edges, .y = sc->count + first};
  svg_chart c = {.id = id, .title = title, .desc = desc, .xlabel = xlabel, .ylabel = ylabel, .xmin = 0, .xmax = n,
                 .ymin = 0.5, .ymax = 2 * max_of(sc->count, sc->n, 1), .ylog = 1, .xcats = sc->labels + first,
                 .series = &s, .nseries = 1};
  chart_figure(b, &c);
}

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
  MA_ALLOC(ids, CHUNK);
  for (int64_t lo = 0; lo < d->n; lo += CHUNK) {
    int64_t cnt = d->n - lo < CHUNK ? d->n - lo : CHUNK;
    MA_TRY(read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
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
  MA_ALLOC(ids, CHUNK);
  MA_ALLOC(rep, CHUNK);
  for (int64_t lo = 0; lo < d->n; lo += CHUNK) {
    int64_t cnt = d->n - lo < CHUNK ? d->n - lo : CHUNK, *v;
    MA_TRY(read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    MA_TRY(read_part(r, drep, "/representative", H5T_NATIVE_INT64, lo, cnt, 0, 0, rep));
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
    int c = size_class(counts.val[i] + 1, 1);
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
  for (int64_t lo = 0; lo < d->n && d->shown > 0; lo += CHUNK) {
    int64_t cnt = d->n - lo < CHUNK ? d->n - lo : CHUNK;
    MA_TRY(read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    MA_TRY(read_part(r, drep, "/representative", H5T_NATIVE_INT64, lo, cnt, 0, 0, rep));
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
  MA_ALLOC(buf, CHUNK);
  for (int64_t lo = 0; lo < d->npairs; lo += CHUNK) {
    int64_t cnt = d->npairs - lo < CHUNK ? d->npairs - lo : CHUNK;
    MA_TRY(read_part(r, dpairs, "/pairs", mt, lo, cnt, 0, 0, buf));
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
  MA_ALLOC(ids, CHUNK);
  MA_ALLOC(keep, CHUNK);
  for (int64_t lo = 0; lo < d->n; lo += CHUNK) {
    int64_t cnt = d->n - lo < CHUNK ? d->n - lo : CHUNK;
    MA_TRY(read_part(r, dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    MA_TRY(read_part(r, dkeep, "/keep", H5T_NATIVE_UINT8, lo, cnt, 0, 0, keep));
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
  MA_CALL(attr_num(r, "threshold", &d->thr));
  d->thresholds[0] = d->tlow = d->thr;
  d->nthr = 1;
  for (int i = 0; d->nthr < 64; i++) {
    char name[32];
    snprintf(name, sizeof name, "/sweep/%d", i);
    if (!has(r->f, "/sweep") || !has(r->f, name)) break;
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
  if (!has(r->f, "/clusterings") || !has(r->f, "/clusterings/0")) return MA_OK;
  MA_TRY(open_dset(r, "/clusterings/0/sizes", 1, -1, 1, &ds, dims));
  if (ds < 0) goto done;
  MA_ALLOC(sizes, dims[0] + 1);
  MA_TRY(read_part(r, ds, "/clusterings/0/sizes", H5T_NATIVE_INT64, 0, dims[0], 0, 0, sizes));
  d->clusters_k = dims[0];
  for (int64_t i = 0; i < dims[0]; i++) {
    int c = size_class(sizes[i], 0);
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
  MA_TRY(read_part(r, drecall, "/recall", mt, 0, d->nrecall, 0, 0, d->recall));
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
  display_bins(floor((d->tlow - 0.005) * 100.0) / 100.0, &db);
  for (int i = 0; i < db.n; i++) y[i] = dbin_sum(&d->pairs_hist, &db, i);
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
                 .ymin = 0, .ymax = 1.1 * max_of(y, db.n, 1), .series = &sp, .nseries = 1, .markers = mk,
                 .nmarkers = d->nthr};
  hb_puts(b, "<section id=\"charts\"><h2>Charts</h2>\n<div class=\"charts\">\n");
  chart_figure(b, &c);

  snprintf(desc, sizeof desc, "Number of groups by size, log scale: %lld groups, each a kept item and the items "
           "removed as its duplicates (whose representative it is).", (long long)d->ngroups);
  size_chart(b, &d->group_sizes, 1, "chart-group-sizes", "Groups by size (a kept item and its removed duplicates)",
             desc, "items in the group", "groups");
  if (d->clusters_k > 0) {
    snprintf(desc, sizeof desc, "Number of k-means clusters (clustering 0) by size, log scale: %lld clusters, the "
             "largest %lld items (%.1f times the mean).", (long long)d->clusters_k, (long long)d->largest_cluster,
             (double)d->largest_cluster * (double)d->clusters_k / (double)(d->n ? d->n : 1));
    size_chart(b, &d->cluster_sizes, 0, "chart-cluster-sizes", "k-means clusters by size (clustering 0)", desc,
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
    chart_figure(b, &rc);
  }
  hb_puts(b, "</div>\n");
  if (d->nrecall == 0)
    hb_puts(b, "<p class=\"note\">No recall estimate in this result (dedup ran with --recall-sample 0 or --exact)."
               "</p>\n");
  hb_puts(b, "</section>\n");
}

static ma_status report_dedup(report *r)
{
  ma_status st = MA_OK;
  dedup_data d = {0};
  hid_t dids = -1, dkeep = -1, drep = -1, dpairs = -1, drecall = -1;
  int64_t dims[2];
  char text[4096];
  html_buf *b = &r->index;
  MA_TRY(open_dset(r, "/ids", 1, -1, 0, &dids, dims));
  d.n = dims[0];
  MA_TRY(open_dset(r, "/keep", 1, d.n, 0, &dkeep, dims));
  MA_TRY(open_dset(r, "/representative", 1, d.n, 0, &drep, dims));
  MA_TRY(open_dset(r, "/pairs", 1, -1, 0, &dpairs, dims));
  d.npairs = dims[0];
  MA_TRY(open_dset(r, "/recall", 1, -1, 1, &drecall, dims));
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
  attr_text(r->f, "command_line", text, sizeof text);
  if (text[0]) html_fact(b, "command", text);
  fact_num(b, "items", d.n, 0);
  fact_num(b, "removed", d.removed, d.n);
  int64_t connected;
  if (h5_attr_i64(r->f, "groups", &connected) == MA_OK) fact_num(b, "duplicate groups (connected)", connected, 0);
  else ma_err_clear();
  fact_num(b, "kept items standing for removed ones", d.ngroups, 0);
  fact_num(b, "pairs found", d.npairs, 0);
  if (d.against) {
    fact_num(b, "kept items (--against)", d.against, 0);
    fact_num(b, "pairs of a new item and a kept one", d.nkept_pairs, d.npairs);
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
    attr_text(r->f, "clusters", k, sizeof k);
    attr_text(r->f, "reclusterings", rr, sizeof rr);
    attr_text(r->f, "exact", text, sizeof text);
    if (!strcmp(text, "1")) html_fact(b, "search", "exact (all pairs)");
    else if (k[0]) {
      snprintf(text, sizeof text, "%s clusterings of %s clusters", rr[0] ? rr : "?", k);
      html_fact(b, "search", text);
    }
  }
  attr_text(r->f, "keep_rule", text, sizeof text);
  if (text[0]) html_fact(b, "keep rule", text);
  attr_text(r->f, "priority", text, sizeof text);
  if (text[0]) html_fact(b, "priority", text);
  attr_text(r->f, "version", text, sizeof text);
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
  MA_TRY(read_part(r, d->dnb, "/neighbors", H5T_NATIVE_INT64, sr->row, 1, 0, d->k, nb));
  MA_TRY(read_part(r, d->dsim, "/similarity", H5T_NATIVE_FLOAT, sr->row, 1, 0, d->k, sim));
  if (d->dnear >= 0) MA_TRY(read_part(r, d->dnear, "/near_count", H5T_NATIVE_INT64, sr->row, 1, 0, 0, &near));
  if (d->dsrc >= 0 && d->dsrcsim >= 0) {
    MA_TRY(read_part(r, d->dsrc, "/source_ids", H5T_NATIVE_INT64, sr->row, 1, 0, 0, &src));
    MA_TRY(read_part(r, d->dsrcsim, "/source_similarity", H5T_NATIVE_FLOAT, sr->row, 1, 0, 0, &srcsim));
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
  MA_ALLOC(sim, CHUNK);
  MA_ALLOC(flag, CHUNK);
  MA_ALLOC(ids, CHUNK);
  MA_TRY(best_init(&d->closest, sizeof(sample_rec), r->cfg->borderline, sample_cmp));
  for (int64_t lo = 0; lo < d->m; lo += CHUNK) {
    int64_t cnt = d->m - lo < CHUNK ? d->m - lo : CHUNK;
    MA_TRY(read_part(r, d->dsim, "/similarity", H5T_NATIVE_FLOAT, lo, cnt, 0, 1, sim));
    MA_TRY(read_part(r, d->dflag, "/flagged", H5T_NATIVE_UINT8, lo, cnt, 0, 0, flag));
    if (d->dids >= 0) MA_TRY(read_part(r, d->dids, "/ids", H5T_NATIVE_INT64, lo, cnt, 0, 0, ids));
    else
      for (int64_t i = 0; i < cnt; i++) ids[i] = lo + i;
    for (int64_t i = 0; i < cnt; i++) {
      sample_rec s = {lo + i, ids[i], sim[i]};
      fh_add(&d->gen, sim[i]);
      if (flag[i]) {
        MA_TRY(grow((void **)&d->flagged, &d->cap_flagged, d->nflagged + 1, sizeof *d->flagged));
        d->flagged[d->nflagged++] = s;
      } else {
        best_add(&d->closest, &s);
      }
    }
  }
  best_finish(&d->closest);
  qsort(d->flagged, (size_t)d->nflagged, sizeof *d->flagged, sample_cmp);
  /* the baseline: holdout, else the train-to-train sample */
  const char *bname = has(r->f, "/holdout/similarity") ? "/holdout/similarity"
                      : has(r->f, "/baseline/similarity") ? "/baseline/similarity" : NULL;
  if (bname) {
    hid_t db = -1;
    int64_t dims[2];
    st = open_dset(r, bname, 1, -1, 0, &db, dims);
    for (int64_t lo = 0; st == MA_OK && lo < dims[0]; lo += CHUNK) {
      int64_t cnt = dims[0] - lo < CHUNK ? dims[0] - lo : CHUNK;
      st = read_part(r, db, bname, H5T_NATIVE_FLOAT, lo, cnt, 0, 0, sim);
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
  display_bins(fmin(floor(lo * 20.0) / 20.0, floor((d->thr - 0.01) * 20.0) / 20.0), &db);
  for (int i = 0; i < db.n; i++) {
    yg[i] = d->gen.n ? dbin_sum(&d->gen, &db, i) / (double)d->gen.n : 0;
    yb[i] = d->base.n ? dbin_sum(&d->base, &db, i) / (double)d->base.n : 0;
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
  double ymax = fmax(max_of(yg, db.n, 0), max_of(yb, db.n, 0));
  svg_chart c = {.id = "chart-nearest", .title = "Nearest training similarity", .desc = desc,
                 .xlabel = "cosine similarity to the nearest training item", .ylabel = "share of items",
                 .xmin = db.edges[0], .xmax = db.edges[db.n], .ymin = 0, .ymax = ymax > 0 ? 1.1 * ymax : 1,
                 .series = hs, .nseries = d->base.n ? 2 : 1, .markers = &mk, .nmarkers = 1};
  hb_puts(b, "<section id=\"charts\"><h2>Charts</h2>\n<div class=\"charts\">\n");
  chart_figure(b, &c);

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
  chart_figure(b, &fc);
  hb_puts(b, "</div>\n</section>\n");
}

static ma_status report_audit(report *r)
{
  ma_status st = MA_OK;
  audit_data d = {.dnb = -1, .dsim = -1, .dflag = -1, .dids = -1, .dnear = -1, .dsrc = -1, .dsrcsim = -1};
  int64_t dims[2], cap = r->cfg->per_page * r->cfg->max_pages;
  char text[4096], c1[32], c2[32];
  html_buf *b = &r->index;
  MA_TRY(open_dset(r, "/neighbors", 2, -1, 0, &d.dnb, dims));
  d.m = dims[0];
  d.k = dims[1];
  MA_TRY(open_dset(r, "/similarity", 2, d.m, 0, &d.dsim, dims));
  if (dims[1] != d.k || d.k < 1)
    MA_TRY(ma_fail(MA_ERR_DATA, "%s:/similarity has %lld columns, /neighbors %lld", r->file, (long long)dims[1],
                   (long long)d.k));
  MA_TRY(open_dset(r, "/flagged", 1, d.m, 0, &d.dflag, dims));
  MA_TRY(open_dset(r, "/ids", 1, d.m, 1, &d.dids, dims));
  MA_TRY(open_dset(r, "/near_count", 1, d.m, 1, &d.dnear, dims));
  MA_TRY(open_dset(r, "/source_ids", 1, d.m, 1, &d.dsrc, dims));
  MA_TRY(open_dset(r, "/source_similarity", 1, d.m, 1, &d.dsrcsim, dims));
  MA_TRY(attr_num(r, "threshold", &d.thr));

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
  attr_text(r->f, "verdict", text, sizeof text);
  if (text[0]) {
    hb_puts(b, "<p class=\"verdict\" id=\"verdict\">");
    hb_text(b, text);
    hb_puts(b, "</p>\n");
  }
  hb_puts(b, "<section id=\"summary\"><table class=\"facts\">\n");
  html_fact(b, "result", r->file);
  attr_text(r->f, "command_line", text, sizeof text);
  if (text[0]) html_fact(b, "command", text);
  fact_num(b, "generated samples", d.m, 0);
  fact_num(b, "flagged", d.nflagged, d.m);
  snprintf(text, sizeof text, "%g", d.thr);
  html_fact(b, "threshold", text);
  snprintf(text, sizeof text, "%lld", (long long)d.k);
  html_fact(b, "neighbours per sample (k)", text);
  int64_t ntrain;
  if (h5_attr_i64(r->f, "n", &ntrain) == MA_OK) fact_num(b, "training items", ntrain, 0);
  else ma_err_clear();
  attr_text(r->f, "baseline", text, sizeof text);
  if (text[0]) html_fact(b, "baseline", text);
  attr_text(r->f, "mann_whitney_p", text, sizeof text);
  if (text[0]) html_fact(b, "Mann-Whitney p", text);
  attr_text(r->f, "version", text, sizeof text);
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

/* ---- the output folder ---- */

static int is_report_file(const char *name)
{
  size_t n = strlen(name);
  return (n > 5 && !strcmp(name + n - 5, ".html")) || (n > 4 && !strcmp(name + n - 4, ".jpg"));
}

/* DIR may be written when it does not exist, is empty, or holds a memaudit report and nothing else. */
static ma_status check_outdir(const char *dir)
{
  struct stat sb;
  if (stat(dir, &sb) != 0) return MA_OK;
  if (!S_ISDIR(sb.st_mode)) return ma_fail(MA_ERR_USAGE, "-o %s exists and is not a directory", dir);
  DIR *dd = opendir(dir);
  if (!dd) return ma_fail(MA_ERR_RUNTIME, "cannot read the directory %s: %s", dir, strerror(errno));
  ma_status st = MA_OK;
  int entries = 0;
  struct dirent *e;
  while (st == MA_OK && (e = readdir(dd))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    entries++;
    if (!is_report_file(e->d_name))
      st = ma_fail(MA_ERR_USAGE, "-o %s is not a memaudit report folder (it holds %s): give a new or empty directory",
                   dir, e->d_name);
  }
  closedir(dd);
  if (st != MA_OK || entries == 0) return st;
  char *index = join(dir, "index.html"), head[2048] = "";
  FILE *f = index ? fopen(index, "r") : NULL;
  if (f) {
    size_t got = fread(head, 1, sizeof head - 1, f);
    head[got] = '\0';
    fclose(f);
  }
  free(index);
  if (!strstr(head, HTML_GENERATOR))
    return ma_fail(MA_ERR_USAGE, "-o %s is not a memaudit report folder (no index.html written by memaudit report): "
                   "give a new or empty directory", dir);
  return MA_OK;
}

/* Removes the files of a folder this command wrote (flat: no subfolders), then the folder. */
static void remove_folder(const char *dir)
{
  DIR *dd = opendir(dir);
  if (!dd) return;
  struct dirent *e;
  while ((e = readdir(dd))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *p = join(dir, e->d_name);
    if (p) unlink(p);
    free(p);
  }
  closedir(dd);
  rmdir(dir);
}

static ma_status make_tmpdir(const char *dir, char **tmp)
{
  size_t n = strlen(dir) + 16;
  while (n > 16 && dir[n - 17] == '/') n--;
  *tmp = malloc(n + 1);
  if (!*tmp) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  snprintf(*tmp, n + 1, "%.*s.tmp-XXXXXX", (int)(n - 16), dir);
  if (!mkdtemp(*tmp)) {
    ma_status st = ma_fail(MA_ERR_RUNTIME, "cannot create a folder beside %s: %s", dir, strerror(errno));
    free(*tmp);
    *tmp = NULL;
    return st;
  }
  chmod(*tmp, 0755);
  return MA_OK;
}

/* Puts the finished folder in place of dir; an old report there is removed once the new one is in. */
static ma_status commit_folder(const char *tmp, const char *dir)
{
  struct stat sb;
  if (stat(dir, &sb) != 0) {
    if (rename(tmp, dir) != 0) return ma_fail(MA_ERR_RUNTIME, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    return MA_OK;
  }
  size_t n = strlen(tmp) + 8;
  char *old = malloc(n);
  if (!old) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  snprintf(old, n, "%s.old", tmp);
  ma_status st = MA_OK;
  if (rename(dir, old) != 0)
    st = ma_fail(MA_ERR_RUNTIME, "cannot move the old report %s aside: %s", dir, strerror(errno));
  else if (rename(tmp, dir) != 0) {
    st = ma_fail(MA_ERR_RUNTIME, "cannot rename %s to %s: %s", tmp, dir, strerror(errno));
    rename(old, dir);
  } else {
    remove_folder(old);
  }
  free(old);
  return st;
}

/* ---- the command ---- */

static ma_status lookup_images(report *r)
{
  int64_t ntrain = 0, ngen = 0, *train = NULL, *gen = NULL;
  ma_status st = MA_OK;
  int64_t total = 0;
  for (int i = 0; i < r->nsec; i++) total += r->sec[i].ncells;
  MA_ALLOC(train, total + 1);
  MA_ALLOC(gen, total + 1);
  for (int i = 0; i < r->nsec; i++)
    for (int64_t c = 0; c < r->sec[i].ncells; c++) {
      const cell *ce = &r->sec[i].cells[c];
      if (ce->generated) gen[ngen++] = ce->id;
      else train[ntrain++] = ce->id;
    }
  if (r->cfg->images.ninputs) {
    log_phase_begin("image paths");
    MA_TRY(sheet_paths_lookup(r->cfg->images.inputs, r->cfg->images.ninputs, r->cfg->image_root, train, ntrain,
                              &r->train));
    r->have_train = 1;
    log_verbose("--images: %lld of %lld ids have a path", (long long)r->train.found, (long long)r->train.n);
  }
  if (r->cfg->gen_images.ninputs && ngen) {
    MA_TRY(sheet_paths_lookup(r->cfg->gen_images.inputs, r->cfg->gen_images.ninputs, r->cfg->image_root, gen, ngen,
                              &r->gen));
    r->have_gen = 1;
    log_verbose("--generated-images: %lld of %lld ids have a path", (long long)r->gen.found, (long long)r->gen.n);
  }
  for (int i = 0; i < r->nsec; i++)
    for (int64_t c = 0; c < r->sec[i].ncells; c++) r->tiles += cell_paths(r, &r->sec[i].cells[c]) != NULL;
done:
  free(train);
  free(gen);
  return st;
}

static ma_status report_run(const report_cfg *cfg)
{
  ma_status st = MA_OK;
  report r = {.cfg = cfg, .file = cfg->result, .f = -1};
  int kind = 0;
  MA_TRY(check_outdir(cfg->outdir));
  if (access(cfg->result, R_OK) != 0)
    MA_TRY(ma_fail(MA_ERR_DATA, "cannot open %s: %s", cfg->result, strerror(errno)));
  if (H5Fis_hdf5(cfg->result) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    MA_TRY(ma_fail(MA_ERR_DATA, "%s is not an HDF5 file", cfg->result));
  }
  if ((r.f = H5Fopen(cfg->result, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
    MA_TRY(h5_fail(MA_ERR_DATA, "cannot open %s", cfg->result));
  if (has(r.f, "/pairs") && has(r.f, "/keep") && has(r.f, "/representative")) kind = 1;
  else if (has(r.f, "/neighbors") && has(r.f, "/similarity") && has(r.f, "/flagged")) kind = 2;
  else
    MA_TRY(ma_fail(MA_ERR_DATA, "%s is neither a dedup result (/pairs, /keep, /representative) nor an audit result "
                   "(/neighbors, /similarity, /flagged)", cfg->result));
  MA_TRY(make_tmpdir(cfg->outdir, &r.tmpdir));
  log_info("report of the %s result %s", kind == 1 ? "dedup" : "audit", cfg->result);
  MA_TRY(kind == 1 ? report_dedup(&r) : report_audit(&r));
  MA_TRY(lookup_images(&r));

  log_phase_begin("contact sheets and pages");
  const char *title = kind == 1 ? "memaudit dedup report" : "memaudit audit report";
  for (int i = 0; i < r.nsec; i++) MA_TRY(write_section(&r, &r.sec[i], title));
  if (!cfg->images.ninputs || (kind == 2 && !cfg->gen_images.ninputs))
    hb_puts(&r.index, kind == 1 ? "<p class=\"note\" id=\"no-images\">Contact sheets need the image paths: run "
                                  "report with <code>--images EMBED.h5</code> (the embed output, with /ids and /paths)."
                                  "</p>\n"
                                : "<p class=\"note\" id=\"no-images\">Contact sheets need the image paths: run report "
                                  "with <code>--images TRAIN_EMBED.h5</code> for the training images and "
                                  "<code>--generated-images GENERATED_EMBED.h5</code> for the samples (embed outputs, "
                                  "with /ids and /paths).</p>\n");
  for (int i = 0; i < r.nsec; i++) section_preview(&r, &r.sec[i]);
  html_end(&r.index);
  MA_TRY(write_file(&r, "index.html", &r.index));
  MA_TRY(commit_folder(r.tmpdir, cfg->outdir));
  log_phase_end();
  if (r.tiles_missing)
    log_info("%lld of %lld pictures were missing or unreadable (grey placeholders)", (long long)r.tiles_missing,
             (long long)r.tiles);
  log_info("wrote %s/index.html (%d list%s, %lld pictures)", cfg->outdir, r.nsec, r.nsec == 1 ? "" : "s",
           (long long)r.tiles);
done:
  if (st != MA_OK && r.tmpdir) remove_folder(r.tmpdir);
  free(r.tmpdir);
  h5_close(&r.f);
  sheet_paths_free(&r.train);
  sheet_paths_free(&r.gen);
  for (int i = 0; i < r.nsec; i++) section_free(&r.sec[i]);
  hb_free(&r.index);
  return st;
}

/* Every rank but 0 waits here while rank 0 writes the report, sleeping rather than spinning in a
 * collective (they may share its node). Collective on comm. */
static ma_status wait_for_rank0(MPI_Comm comm)
{
  MPI_Request req;
  int arrived = 0;
  MA_MPI(MPI_Ibarrier(comm, &req));
  for (;;) {
    MA_MPI(MPI_Test(&req, &arrived, MPI_STATUS_IGNORE));
    if (arrived) return MA_OK;
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  }
}

ma_status cmd_report(MPI_Comm comm, int argc, char **argv)
{
  ma_status st = MA_OK;
  report_cfg c;
  int rank;
  memset(&c, 0, sizeof c);
  MA_MPI_TRY(MPI_Comm_rank(comm, &rank));
  st = parse(argc, argv, &c);
  if (st == MA_OK && !c.help) {
    paths p = {0};
    paths_add_in(&p, "RESULT", c.result);
    opts_paths_inputs(&c.images, "--images", &p);
    opts_paths_inputs(&c.gen_images, "--generated-images", &p);
    paths_add_in(&p, "--image-root", c.image_root);
    paths_add_out(&p, "-o", c.outdir, PATHS_FOLDER);
    st = paths_check(comm, &p);
  }
  if (st == MA_OK) {
    log_init(rank, c.verbosity);
    if (c.help) {
      if (rank == 0) fputs(report_help, stdout);
    } else if (rank == 0) {
      st = report_run(&c);
    }
  }
  ma_status waited = wait_for_rank0(comm);
  st = mpi_agree(comm, st != MA_OK ? st : waited);
done:
  opts_free(&c.images);
  opts_free(&c.gen_images);
  return st;
}
