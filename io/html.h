/* HTML for the report: a growable text buffer with escaping, the page frame (inline style, no scripts,
 * nothing loaded from the network), and the pieces every report page shares (fact tables, page links,
 * picture cells cut from a contact sheet). */
#ifndef MA_IO_HTML_H
#define MA_IO_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Text being built. An allocation failure sets `oom` and later appends do nothing; html_status()
 * turns it into the one error, so callers check once at the end rather than after every append. */
typedef struct html_buf {
  char *data;
  size_t len, cap;
  int oom;
} html_buf;

/* Appends formatted text, unescaped. Not collective. */
void hb_printf(html_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hb_puts(html_buf *b, const char *s);

/* Appends s with &, <, >, " and ' escaped (safe in text and in quoted attributes). Not collective. */
void hb_text(html_buf *b, const char *s);

/* Appends v with thousands separators: 100000 -> "100,000". Not collective. */
void hb_count(html_buf *b, int64_t v);

/* The same into buf (at least 32 bytes), which it returns. Not collective. */
const char *html_count_str(char *buf, int64_t v);

/* MA_ERR_RUNTIME when an append ran out of memory, else MA_OK. Not collective. */
ma_status html_status(const html_buf *b);
void hb_free(html_buf *b);

/* Starts a page: doctype, <head> with the shared style and a generator tag that marks the folder as a
 * memaudit report, <body>, and a header with the title and a link back to index.html (unless this is
 * the index). Ends it with html_end(). Not collective. */
void html_begin(html_buf *b, const char *title, int is_index);
void html_end(html_buf *b);

/* The generator tag html_begin writes; a folder whose index.html holds it may be replaced. */
#define HTML_GENERATOR "<meta name=\"generator\" content=\"memaudit report"

/* A row of the facts table: <tr><th>name</th><td>value</td></tr>, value escaped. Not collective. */
void html_fact(html_buf *b, const char *name, const char *value);

/* Links to the pages prefix-1.html .. prefix-pages.html, the current one marked. Not collective. */
void html_pager(html_buf *b, const char *prefix, int page, int pages);

/* One picture with its caption. With sheet != NULL the picture is the tile at (col, row) of that
 * contact sheet (px pixels square), shown by an <img> of the whole sheet cropped with object-position;
 * otherwise the cell is caption only. cls adds CSS classes, tooltip is the title attribute (escaped),
 * caption_html goes into <figcaption> as given. Not collective. */
void html_cell(html_buf *b, const char *sheet, int col, int row, int px, const char *cls, const char *alt,
               const char *tooltip, const char *caption_html);

/* Writes the buffer to path (plain write: the report folder as a whole is what appears atomically).
 * Not collective. */
ma_status html_write(const html_buf *b, const char *path);

#endif
