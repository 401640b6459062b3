/* The report's page model and its pages (see io/report/section.h). */
#include "io/report/section.h"

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

/* ---- the page model: sections of rows ("strips") of cells ---- */




ma_status section_row(section *s, int64_t more, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ma_status section_row(section *s, int64_t more, const char *fmt, ...)
{
  MA_CALL(rp_grow((void **)&s->rows, &s->cap_rows, s->nrows + 1, sizeof *s->rows));
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

ma_status section_cell(section *s, int64_t id, int generated, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
ma_status section_cell(section *s, int64_t id, int generated, const char *cls, const char *fmt, ...)
{
  MA_CALL(rp_grow((void **)&s->cells, &s->cap_cells, s->ncells + 1, sizeof *s->cells));
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

void section_free(section *s)
{
  free(s->rows);
  free(s->cells);
  memset(s, 0, sizeof *s);
}

/* ---- the report being written ---- */


const sheet_paths *rp_cell_paths(const report *r, const cell *c)
{
  if (c->generated) return r->have_gen ? &r->gen : NULL;
  return r->have_train ? &r->train : NULL;
}

char *rp_join(const char *dir, const char *name)
{
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

ma_status rp_write_file(const report *r, const char *name, const html_buf *b)
{
  char *path = rp_join(r->tmpdir, name);
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
    const sheet_paths *p = rp_cell_paths(r, c);
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
    *drawn = rp_cell_paths(r, &s->cells[c]) != NULL;
  if (!*drawn) return MA_OK;
  MA_TRY(sheet_new(s->cols, (int)(r1 - r0), (int)r->cfg->thumb, &sh));
  for (int64_t i = r0; i < r1; i++) {
    for (int j = 0; j < s->rows[i].ncells; j++) {
      cell *c = &s->cells[s->rows[i].first + j];
      const sheet_paths *p = rp_cell_paths(r, c);
      if (!p) continue;
      MA_TRY(sheet_put(sh, j, (int)(i - r0), sheet_paths_get(p, c->id), &c->state));
      c->tile = 1;
      r->tiles_missing += c->state != SHEET_PICTURE;
      log_progress(++r->tiles_done, r->tiles);
    }
  }
  if (!(path = rp_join(r->tmpdir, name))) MA_TRY(ma_fail(MA_ERR_RUNTIME, "out of memory"));
  MA_TRY(sheet_write(sh, path));
done:
  free(path);
  sheet_free(&sh);
  return st;
}

ma_status rp_write_section(report *r, section *s, const char *title)
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
    MA_TRY(rp_write_file(r, page, &b));
  }
done:
  hb_free(&b);
  return st;
}

/* The section on the overview page: its intro, the first rows, links to every page. */
void rp_section_preview(report *r, const section *s)
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
  for (int64_t i = 0; i < s->nrows && i < RP_PREVIEW_ROWS; i++)
    strip_html(b, r, s, i, (int)i, s->sheet1 ? sheet_jpg : NULL);
  hb_puts(b, "</ol>\n");
  hb_printf(b, "<p><a href=\"%s-1.html\">all of them</a> (", s->name);
  hb_count(b, s->nrows);
  hb_printf(b, " on %d page%s)</p>\n", s->pages, s->pages == 1 ? "" : "s");
  html_pager(b, s->name, 0, s->pages);
  hb_puts(b, "</section>\n");
}

