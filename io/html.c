/* The report's HTML text: buffer, escaping, page frame, shared pieces. */
#include "io/html.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hb_reserve(html_buf *b, size_t extra)
{
  if (b->oom) return 0;
  if (b->len + extra + 1 <= b->cap) return 1;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = 1;
    return 0;
  }
  b->data = p;
  b->cap = cap;
  return 1;
}

void hb_printf(html_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int need = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (need < 0 || !hb_reserve(b, (size_t)need)) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)need + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)need;
}

void hb_puts(html_buf *b, const char *s)
{
  size_t n = strlen(s);
  if (!hb_reserve(b, n)) return;
  memcpy(b->data + b->len, s, n + 1);
  b->len += n;
}

void hb_text(html_buf *b, const char *s)
{
  for (; *s; s++) {
    switch (*s) {
    case '&': hb_puts(b, "&amp;"); break;
    case '<': hb_puts(b, "&lt;"); break;
    case '>': hb_puts(b, "&gt;"); break;
    case '"': hb_puts(b, "&quot;"); break;
    case '\'': hb_puts(b, "&#39;"); break;
    default:
      if (hb_reserve(b, 1)) {
        b->data[b->len++] = *s;
        b->data[b->len] = '\0';
      }
    }
  }
}

const char *html_count_str(char *buf, int64_t v)
{
  char digits[24];
  uint64_t a = v < 0 ? -(uint64_t)v : (uint64_t)v;
  int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)a), k = 0;
  if (v < 0) buf[k++] = '-';
  for (int i = 0; i < n; i++) {
    if (i > 0 && (n - i) % 3 == 0) buf[k++] = ',';
    buf[k++] = digits[i];
  }
  buf[k] = '\0';
  return buf;
}

void hb_count(html_buf *b, int64_t v)
{
  char s[32];
  hb_puts(b, html_count_str(s, v));
}

ma_status html_status(const html_buf *b)
{
  return b->oom ? ma_fail(MA_ERR_RUNTIME, "out of memory building the report's HTML") : MA_OK;
}

void hb_free(html_buf *b)
{
  free(b->data);
  *b = (html_buf){0};
}

static const char page_style[] =
    "body{font-family:system-ui,'DejaVu Sans',sans-serif;margin:0 auto;max-width:1500px;padding:0 16px 40px;"
    "background:#fbfbfa;color:#1d1d1d;font-size:14px}"
    "header{border-bottom:1px solid #ccc;margin-bottom:12px}h1{font-size:22px;margin:14px 0 4px}"
    "h2{font-size:18px;margin:26px 0 6px}header p{margin:2px 0 10px;color:#555}"
    "a{color:#1f5fbf}table.facts{border-collapse:collapse}"
    "table.facts th,table.facts td{text-align:left;padding:2px 14px 2px 0;vertical-align:top}"
    "table.facts th{font-weight:600;color:#444;white-space:nowrap}"
    "table.facts td{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:13px;word-break:break-all}"
    ".verdict{font-size:16px;padding:8px 12px;background:#fff4e0;border-left:4px solid #d98c00}"
    ".note{color:#555}.count{color:#444}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.charts figure{margin:0;background:#fff;border:1px solid #ddd;"
    "padding:6px;flex:1 1 520px;max-width:700px}svg.chart{display:block;width:100%;height:auto}"
    "ol.strips{list-style:none;padding:0;margin:0}li.strip{padding:8px 0;border-bottom:1px solid #e2e2e2}"
    ".strip-head{font-size:13px;margin-bottom:4px}.strip-head b{font-family:ui-monospace,monospace}"
    ".cells{display:flex;flex-wrap:wrap;gap:6px;align-items:flex-start}"
    "figure.cell{margin:0;background:#fff;border:2px solid #ddd;padding:1px}"
    "figure.cell.text{min-width:9em;padding:3px}"
    "figure.cell img.thumb{display:block;object-fit:none;background:#888}"
    "figure.cell figcaption{font-size:11px;line-height:1.3;font-family:ui-monospace,monospace;"
    "overflow-wrap:anywhere;padding:1px 2px}"
    "figure.kept,figure.sample{border-color:#2e8b57}figure.removed,figure.neighbor{border-color:#c9c9c9}"
    "figure.sample{border-color:#c0392b}.flag-missing{color:#b00}.more{color:#666;font-size:12px;align-self:center}"
    "nav.pager{margin:10px 0}nav.pager a,nav.pager span{display:inline-block;padding:1px 7px;margin:1px;"
    "border:1px solid #ccc;text-decoration:none}nav.pager span.current{background:#1f5fbf;color:#fff}";

void html_begin(html_buf *b, const char *title, int is_index)
{
  hb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" HTML_GENERATOR " ");
  hb_text(b, MEMAUDIT_VERSION);
  hb_puts(b, "\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
  hb_text(b, title);
  hb_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<header><h1>", page_style);
  hb_text(b, title);
  hb_puts(b, "</h1>");
  if (!is_index) hb_puts(b, "<p><a href=\"index.html\">&larr; report overview</a></p>");
  hb_puts(b, "</header>\n<main>\n");
}

void html_end(html_buf *b) { hb_puts(b, "</main>\n</body>\n</html>\n"); }

void html_fact(html_buf *b, const char *name, const char *value)
{
  hb_puts(b, "<tr><th>");
  hb_text(b, name);
  hb_puts(b, "</th><td>");
  hb_text(b, value);
  hb_puts(b, "</td></tr>\n");
}

void html_pager(html_buf *b, const char *prefix, int page, int pages)
{
  if (pages <= 1) return;
  hb_puts(b, "<nav class=\"pager\" aria-label=\"pages\">pages: ");
  for (int p = 1; p <= pages; p++) {
    if (p == page) hb_printf(b, "<span class=\"current\" aria-current=\"page\">%d</span>", p);
    else hb_printf(b, "<a href=\"%s-%d.html\">%d</a>", prefix, p, p);
  }
  hb_puts(b, "</nav>\n");
}

void html_cell(html_buf *b, const char *sheet, int col, int row, int px, const char *cls, const char *alt,
               const char *tooltip, const char *caption_html)
{
  hb_printf(b, "<figure class=\"cell %s%s\"", sheet ? "" : "text ", cls);
  if (sheet) hb_printf(b, " style=\"width:%dpx\"", px);
  if (tooltip) {
    hb_puts(b, " title=\"");
    hb_text(b, tooltip);
    hb_puts(b, "\"");
  }
  hb_puts(b, ">");
  if (sheet) {
    hb_printf(b, "<img class=\"thumb\" src=\"%s\" width=\"%d\" height=\"%d\" "
                 "style=\"object-position:%dpx %dpx\" alt=\"", sheet, px, px, -col * px, -row * px);
    hb_text(b, alt);
    hb_puts(b, "\">");
  }
  hb_printf(b, "<figcaption>%s</figcaption></figure>", caption_html);
}

ma_status html_write(const html_buf *b, const char *path)
{
  MA_CALL(html_status(b));
  FILE *f = fopen(path, "w");
  if (!f) return ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno));
  size_t put = fwrite(b->data ? b->data : "", 1, b->len, f);
  if (fclose(f) != 0 || put != b->len) return ma_fail(MA_ERR_RUNTIME, "cannot write %s: %s", path, strerror(errno));
  return MA_OK;
}
