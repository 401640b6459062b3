/* The distributed, sorted set of found pairs. */
#include "mpi/pairs.h"

#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "mpi/xchg.h"

#define PAIRS_SAMPLES_PER_RANK 256

ma_status pairbuf_push(pairbuf *b, const dd_pair *p)
{
  if (b->n == b->cap) {
    int64_t cap = b->cap ? 2 * b->cap : 1024;
    dd_pair *v = realloc(b->v, (size_t)cap * sizeof *v);
    if (!v) return ma_fail(MA_ERR_RUNTIME, "out of memory for %lld pairs", (long long)cap);
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = *p;
  return MA_OK;
}

void pairbuf_free(pairbuf *b)
{
  free(b->v);
  memset(b, 0, sizeof *b);
}

static int cmp_i64(const void *pa, const void *pb)
{
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  return (a > b) - (a < b);
}

static int cmp_pair(const void *pa, const void *pb)
{
  const dd_pair *a = pa, *b = pb;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  if (a->b != b->b) return a->b < b->b ? -1 : 1;
  return a->clustering - b->clustering;
}

ma_status pairset_init(MPI_Comm comm, const int64_t *ids, int64_t n, pairset *ps)
{
  ma_status st = MA_OK;
  int64_t *sorted = NULL, *all = NULL, nall = 0, take = n < PAIRS_SAMPLES_PER_RANK ? n : PAIRS_SAMPLES_PER_RANK;
  int64_t sample[PAIRS_SAMPLES_PER_RANK];
  memset(ps, 0, sizeof *ps);
  MA_MPI(MPI_Comm_size(comm, &ps->nranks));
  sorted = malloc((size_t)(n + 1) * sizeof *sorted);
  ps->split = calloc((size_t)ps->nranks, sizeof *ps->split);
  if (!sorted || !ps->split) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  else {
    memcpy(sorted, ids, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_i64);
    for (int64_t k = 0; k < take; k++) sample[k] = sorted[k * n / take];
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_allgather_records(comm, sample, take, sizeof(int64_t), (void **)&all, &nall));
  qsort(all, (size_t)nall, sizeof *all, cmp_i64);
  for (int r = 1; r < ps->nranks; r++) ps->split[r - 1] = nall ? all[(int64_t)r * nall / ps->nranks] : 0;
done:
  free(sorted);
  free(all);
  return st;
}

int pairset_owner(const pairset *ps, int64_t a)
{
  int lo = 0, hi = ps->nranks - 1; /* the number of splitters <= a */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (ps->split[mid] <= a) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int64_t first_id(const char *rec)
{
  int64_t a;
  memcpy(&a, rec, sizeof a);
  return a;
}

ma_status pairset_route(const pairset *ps, const void *recs, int64_t n, size_t elem, int64_t *counts, void **out)
{
  ma_status st = MA_OK;
  int64_t *at = NULL;
  char *buf = NULL;
  const char *in = recs;
  MA_ALLOC(at, ps->nranks + 1);
  MA_ALLOC(buf, (size_t)n * elem + 1);
  for (int64_t i = 0; i < n; i++) counts[pairset_owner(ps, first_id(in + (size_t)i * elem))]++;
  for (int r = 0; r < ps->nranks; r++) at[r + 1] = at[r] + counts[r];
  for (int64_t i = 0; i < n; i++)
    memcpy(buf + (size_t)at[pairset_owner(ps, first_id(in + (size_t)i * elem))]++ * elem, in + (size_t)i * elem, elem);
  *out = buf;
  buf = NULL;
done:
  free(at);
  free(buf);
  return st;
}

/* Sorts v (old pairs and new) and keeps the first of each (a, b): the lowest clustering. */
static void sort_unique(dd_pair *v, int64_t *n)
{
  qsort(v, (size_t)*n, sizeof *v, cmp_pair);
  int64_t w = 0;
  for (int64_t i = 0; i < *n; i++)
    if (w == 0 || v[i].a != v[w - 1].a || v[i].b != v[w - 1].b) v[w++] = v[i];
  *n = w;
}

ma_status pairset_merge(MPI_Comm comm, pairset *ps, pairbuf *add)
{
  ma_status st = MA_OK;
  int64_t *counts = calloc((size_t)ps->nranks, sizeof *counts), *rcounts = calloc((size_t)ps->nranks, sizeof *rcounts);
  int64_t nrecv = 0;
  dd_pair *send = NULL, *recv = NULL;
  st = counts && rcounts ? pairset_route(ps, add->v, add->n, sizeof *add->v, counts, (void **)&send)
                         : ma_fail(MA_ERR_RUNTIME, "out of memory");
  pairbuf_free(add);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(xchg_alltoallv(comm, send, counts, sizeof(dd_pair), (void **)&recv, rcounts, &nrecv));
  free(send);
  send = NULL;
  dd_pair *all = realloc(ps->v, (size_t)(ps->n + nrecv + 1) * sizeof *all);
  if (!all) st = ma_fail(MA_ERR_RUNTIME, "out of memory merging %lld pairs", (long long)(ps->n + nrecv));
  else {
    memcpy(all + ps->n, recv, (size_t)nrecv * sizeof *recv);
    free(recv);
    recv = NULL;
    ps->v = all;
    ps->n += nrecv;
    sort_unique(ps->v, &ps->n);
    /* most pairs a later clustering finds are known already: give back the room they took */
    all = realloc(ps->v, (size_t)(ps->n + 1) * sizeof *all);
    if (all) ps->v = all;
  }
  st = mpi_agree(comm, st);
done:
  free(counts);
  free(rcounts);
  free(send);
  free(recv);
  return st;
}

int pairset_find(const pairset *ps, int64_t a, int64_t b)
{
  int64_t lo = 0, hi = ps->n;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    const dd_pair *p = &ps->v[mid];
    if (p->a < a || (p->a == a && p->b < b)) lo = mid + 1;
    else hi = mid;
  }
  return lo < ps->n && ps->v[lo].a == a && ps->v[lo].b == b ? ps->v[lo].clustering : -1;
}

void pairset_free(pairset *ps)
{
  free(ps->v);
  free(ps->split);
  memset(ps, 0, sizeof *ps);
}
