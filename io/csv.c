/* CSV of flagged samples, formatted in memory and written with file_write_result. */
#include "io/csv.h"

#include <stdio.h>
#include <stdlib.h>

#include "io/atomic.h"

/* Longest line: four int64 (20 characters each), two floats (%.9g: 16 at most), separators. */
enum { CSV_LINE_MAX = 160 };

ma_status csv_write_flagged(const char *path, const csv_flagged *rows, int64_t n, int paired)
{
  size_t cap = (size_t)(n + 1) * CSV_LINE_MAX, len = 0;
  char *text = malloc(cap);
  if (!text) return ma_fail(MA_ERR_RUNTIME, "out of memory formatting %lld CSV lines", (long long)n);
  len += (size_t)snprintf(text, cap, "sample_id,nearest_id,similarity,near_count%s\n",
                          paired ? ",source_id,source_similarity" : "");
  for (int64_t i = 0; i < n; i++) {
    const csv_flagged *r = &rows[i];
    len += (size_t)snprintf(text + len, cap - len, "%lld,%lld,%.9g,%lld", (long long)r->sample_id,
                            (long long)r->nearest_id, (double)r->similarity, (long long)r->near_count);
    if (paired)
      len += (size_t)snprintf(text + len, cap - len, ",%lld,%.9g", (long long)r->source_id,
                              (double)r->source_similarity);
    text[len++] = '\n';
  }
  ma_status st = file_write_result(path, text, len);
  free(text);
  return st;
}
