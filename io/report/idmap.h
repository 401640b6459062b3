/* Small containers of the report: a growable array, a map from one or two int64 keys to an int64
 * (the ids shown and their flags), and the best N records of a stream in bounded memory. */
#ifndef MA_IO_REPORT_IDMAP_H
#define MA_IO_REPORT_IDMAP_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Open-addressing map from a key of one or two int64 to an int64. */
typedef struct idmap {
  int64_t cap, n;
  int64_t *ka, *kb, *val;
  uint8_t *used;
} idmap;

/* The `keep` best records of a stream under cmp (smaller is better), in bounded memory. */
typedef struct best {
  char *buf;
  size_t elem;
  int64_t n, keep, cap;
  int (*cmp)(const void *, const void *);
} best;

ma_status rp_grow(void **p, int64_t *cap, int64_t need, size_t elem);

void idmap_free(idmap *m);

/* The value of (a, b), inserted as init when absent; valid until the next insertion. */
ma_status idmap_put(idmap *m, int64_t a, int64_t b, int64_t init, int64_t **val);

int64_t *idmap_get(const idmap *m, int64_t a, int64_t b);

ma_status best_init(best *b, size_t elem, int64_t keep, int (*cmp)(const void *, const void *));

void best_add(best *b, const void *rec);

void best_finish(best *b);

#endif
