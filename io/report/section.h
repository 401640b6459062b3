/* The report's page model and its pages: sections of rows ("strips") of cells, each section written
 * as numbered pages with their contact sheets, and its preview on the overview page. */
#ifndef MA_IO_REPORT_SECTION_H
#define MA_IO_REPORT_SECTION_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "io/html.h"
#include "io/sheet.h"
#include "io/report/hist.h"

enum { RP_CHUNK = 1 << 20, RP_PREVIEW_ROWS = 5 };

/* What the pages show: the report options that shape them. */
typedef struct report_opts {
  int64_t per_page, max_pages, members, neighbors, borderline, thumb;
} report_opts;

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

typedef struct report {
  const report_opts *cfg;
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

ma_status section_row(section *s, int64_t more, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ma_status section_row(section *s, int64_t more, const char *fmt, ...);

ma_status section_cell(section *s, int64_t id, int generated, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
ma_status section_cell(section *s, int64_t id, int generated, const char *cls, const char *fmt, ...);

void section_free(section *s);

const sheet_paths *rp_cell_paths(const report *r, const cell *c);

char *rp_join(const char *dir, const char *name);

ma_status rp_write_file(const report *r, const char *name, const html_buf *b);

ma_status rp_write_section(report *r, section *s, const char *title);

/* The section on the overview page: its intro, the first rows, links to every page. */
void rp_section_preview(report *r, const section *s);

#endif
