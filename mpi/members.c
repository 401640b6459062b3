/* The member exchange of the intra-cluster search. */
#include "mpi/members.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "mpi/comm.h"
#include "mpi/xchg.h"

/* A record on the wire: id, position, block, then the vector; padded to 8 bytes. */
typedef struct {
  int64_t id, pos, block;
} member_head;

static size_t record_bytes(int64_t dim, ma_dtype t)
{
  size_t b = sizeof(member_head) + (size_t)dim * (t == MA_F16 ? 2 : 4);
  return (b + 7) & ~(size_t)7;
}

static ma_status pack(const ma_rows *local, const int64_t *ids, const int64_t *pos, const int32_t *assign,
                      const search_plan *p, int round, int nranks, int64_t *counts, char **out)
{
  ma_status st = MA_OK;
  size_t rb = record_bytes(local->ld, local->type), esize = local->type == MA_F16 ? 2 : 4;
  int64_t *blk = NULL, *at = NULL;
  MA_ALLOC(blk, local->rows + 1);
  MA_ALLOC(at, nranks + 1);
  for (int64_t i = 0; i < local->rows; i++) {
    blk[i] = sp_block_of(p, assign[i], ids[i], pos[i] >= p->kept_from);
    for (int64_t q = p->need_start[blk[i]]; q < p->need_start[blk[i] + 1]; q++)
      if (p->need_round[q] == round) counts[p->need_rank[q]]++;
  }
  for (int r = 0; r < nranks; r++) at[r + 1] = at[r] + counts[r];
  char *buf = big_alloc((size_t)at[nranks] * rb + 1);
  if (!buf) {
    st = ma_fail(MA_ERR_RUNTIME, "out of memory packing %lld rows for the exchange", (long long)at[nranks]);
    goto done;
  }
  for (int64_t i = 0; i < local->rows; i++) {
    member_head h = {ids[i], pos[i], blk[i]};
    for (int64_t q = p->need_start[blk[i]]; q < p->need_start[blk[i] + 1]; q++) {
      if (p->need_round[q] != round) continue;
      char *rec = buf + (size_t)at[p->need_rank[q]]++ * rb;
      memcpy(rec, &h, sizeof h);
      memcpy(rec + sizeof h, (const char *)local->data + (size_t)(i * local->ld) * esize, (size_t)local->ld * esize);
    }
  }
  *out = buf;
done:
  free(blk);
  free(at);
  return st;
}

typedef struct {
  int64_t block, id, index;
} order_key;

static int by_block_id(const void *pa, const void *pb)
{
  const order_key *a = pa, *b = pb;
  if (a->block != b->block) return a->block < b->block ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

/* Sorts the received records by (block, id) in place, following the permutation's cycles with one
 * spare record, and indexes them: the search reads the vectors where they lie. */
static ma_status unpack(char *recv, int64_t n, int64_t dim, ma_dtype type, members *m)
{
  ma_status st = MA_OK;
  size_t rb = record_bytes(dim, type);
  order_key *key = NULL;
  char *spare = NULL;
  m->buf = recv;
  m->n = n;
  m->dim = dim;
  m->type = type;
  m->ld = (int64_t)(rb / (type == MA_F16 ? 2 : 4));
  MA_ALLOC(key, n + 1);
  MA_ALLOC(m->ids, n + 1);
  MA_ALLOC(m->pos, n + 1);
  MA_ALLOC(m->block, n + 1);
  MA_ALLOC(spare, rb);
  for (int64_t i = 0; i < n; i++) {
    member_head h;
    memcpy(&h, recv + (size_t)i * rb, sizeof h);
    key[i] = (order_key){h.block, h.id, i};
  }
  qsort(key, (size_t)n, sizeof *key, by_block_id);
  /* Record key[k].index belongs at k: walk each cycle once. */
  for (int64_t start = 0; start < n; start++) {
    if (key[start].index < 0 || key[start].index == start) continue;
    memcpy(spare, recv + (size_t)start * rb, rb);
    int64_t k = start;
    for (;;) {
      int64_t from = key[k].index;
      key[k].index = -1;
      if (from == start) {
        memcpy(recv + (size_t)k * rb, spare, rb);
        break;
      }
      memcpy(recv + (size_t)k * rb, recv + (size_t)from * rb, rb);
      k = from;
    }
  }
  for (int64_t k = 0; k < n; k++) {
    member_head h;
    memcpy(&h, recv + (size_t)k * rb, sizeof h);
    m->ids[k] = h.id;
    m->pos[k] = h.pos;
    m->block[k] = h.block;
  }
  m->vec = recv + sizeof(member_head);
done:
  free(key);
  free(spare);
  return st;
}

ma_status members_exchange(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int64_t *pos,
                           const int32_t *assign, const search_plan *p, int round, members *out,
                           int64_t *bytes_moved)
{
  ma_status st = MA_OK;
  int nranks;
  int64_t *counts = NULL, *rcounts = NULL, nrecv = 0;
  char *send = NULL, *recv = NULL;
  memset(out, 0, sizeof *out);
  MA_MPI(MPI_Comm_size(comm, &nranks));
  counts = calloc((size_t)nranks, sizeof *counts);
  rcounts = calloc((size_t)nranks, sizeof *rcounts);
  st = counts && rcounts ? pack(local, ids, pos, assign, p, round, nranks, counts, &send)
                         : ma_fail(MA_ERR_RUNTIME, "out of memory");
  MA_TRY(mpi_agree(comm, st));
  size_t rb = record_bytes(local->ld, local->type);
  if (bytes_moved) {
    *bytes_moved = 0;
    for (int r = 0; r < nranks; r++) *bytes_moved += counts[r] * (int64_t)rb;
  }
  MA_TRY(xchg_alltoallv(comm, send, counts, rb, (void **)&recv, rcounts, &nrecv));
  free(send);
  send = NULL;
  st = unpack(recv, nrecv, local->ld, local->type, out);
  recv = NULL; /* out owns it now */
  MA_TRY(mpi_agree(comm, st));
done:
  free(counts);
  free(rcounts);
  free(send);
  free(recv);
  if (st != MA_OK) members_free(out);
  return st;
}

void members_block(const members *m, int64_t b, int64_t *lo, int64_t *hi)
{
  int64_t a = 0, z = m->n;
  while (a < z) { /* first row with block >= b */
    int64_t mid = (a + z) / 2;
    if (m->block[mid] < b) a = mid + 1;
    else z = mid;
  }
  *lo = a;
  z = m->n;
  while (a < z) { /* first row with block > b */
    int64_t mid = (a + z) / 2;
    if (m->block[mid] <= b) a = mid + 1;
    else z = mid;
  }
  *hi = a;
}

void members_free(members *m)
{
  free(m->buf);
  free(m->ids);
  free(m->pos);
  free(m->block);
  memset(m, 0, sizeof *m);
}
