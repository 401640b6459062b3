/* Small containers of the report (see io/report/idmap.h). */
#include "io/report/idmap.h"

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

/* ---- small containers ---- */

ma_status rp_grow(void **p, int64_t *cap, int64_t need, size_t elem)
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

void idmap_free(idmap *m)
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
ma_status idmap_put(idmap *m, int64_t a, int64_t b, int64_t init, int64_t **val)
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

int64_t *idmap_get(const idmap *m, int64_t a, int64_t b)
{
  if (!m->cap) return NULL;
  int64_t i = idmap_slot(m, a, b);
  return m->used[i] ? &m->val[i] : NULL;
}


ma_status best_init(best *b, size_t elem, int64_t keep, int (*cmp)(const void *, const void *))
{
  ma_status st = MA_OK;
  *b = (best){.elem = elem, .keep = keep, .cap = keep ? 2 * keep + 1024 : 0, .cmp = cmp};
  MA_ALLOC(b->buf, (size_t)b->cap * elem);
done:
  return st;
}

void best_add(best *b, const void *rec)
{
  if (!b->keep) return;
  if (b->n == b->cap) {
    qsort(b->buf, (size_t)b->n, b->elem, b->cmp);
    b->n = b->keep;
  }
  memcpy(b->buf + (size_t)b->n++ * b->elem, rec, b->elem);
}

void best_finish(best *b)
{
  qsort(b->buf, (size_t)b->n, b->elem, b->cmp);
  if (b->n > b->keep) b->n = b->keep;
}

