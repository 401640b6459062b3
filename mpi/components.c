/* Distributed connected components by min-label propagation. */
#include "mpi/components.h"

#include <stdlib.h>
#include <string.h>

#include "mpi/comm.h"
#include "mpi/xchg.h"

int comp_row_owner(const int64_t *offsets, int nranks, int64_t pos)
{
  int lo = 0, hi = nranks - 1; /* the first rank whose rows end after pos */
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (offsets[mid + 1] > pos) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* Records of one all-to-all: counted per destination, then placed; freed by the caller. */
typedef struct outbox {
  int nranks;
  size_t elem;
  int64_t *counts, *at;
  char *buf;
} outbox;

static ma_status outbox_open(outbox *o, int nranks, size_t elem)
{
  memset(o, 0, sizeof *o);
  o->nranks = nranks;
  o->elem = elem;
  o->counts = calloc((size_t)nranks, sizeof *o->counts);
  o->at = calloc((size_t)nranks + 1, sizeof *o->at);
  if (!o->counts || !o->at) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  return MA_OK;
}

/* After the counts are in: room for the records. */
static ma_status outbox_alloc(outbox *o)
{
  for (int r = 0; r < o->nranks; r++) o->at[r + 1] = o->at[r] + o->counts[r];
  if (!(o->buf = malloc((size_t)o->at[o->nranks] * o->elem + 1))) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  return MA_OK;
}

static void outbox_put(outbox *o, int r, const void *rec) { memcpy(o->buf + (size_t)o->at[r]++ * o->elem, rec, o->elem); }

/* Exchanges the records (counts[] still holds the per-rank numbers; outbox_put only advanced at[]). */
static ma_status outbox_send(MPI_Comm comm, outbox *o, void **recv, int64_t *nrecv)
{
  int64_t *rcounts = calloc((size_t)o->nranks, sizeof *rcounts);
  if (!rcounts) return ma_fail(MA_ERR_RUNTIME, "out of memory");
  ma_status st = xchg_alltoallv(comm, o->buf, o->counts, o->elem, recv, rcounts, nrecv);
  free(rcounts);
  return st;
}

static void outbox_close(outbox *o)
{
  free(o->counts);
  free(o->at);
  free(o->buf);
  memset(o, 0, sizeof *o);
}

typedef struct {
  int64_t u_pos, v_id, v_pos;
  float sim;
} edge_msg;

ma_status comp_build(MPI_Comm comm, const pairset *ps, float threshold, const int64_t *offsets, const int64_t *ids,
                     comp_graph *g)
{
  ma_status st = MA_OK;
  int rank;
  outbox o;
  edge_msg *recv = NULL;
  int64_t nrecv = 0;
  memset(g, 0, sizeof *g);
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &g->nranks));
  g->offsets = offsets;
  g->offset = offsets[rank];
  g->nlocal = offsets[rank + 1] - offsets[rank];
  st = outbox_open(&o, g->nranks, sizeof(edge_msg));
  for (int64_t i = 0; st == MA_OK && i < ps->n; i++) {
    if (ps->v[i].sim < threshold) continue;
    o.counts[comp_row_owner(offsets, g->nranks, ps->v[i].pa)]++;
    o.counts[comp_row_owner(offsets, g->nranks, ps->v[i].pb)]++;
  }
  if (st == MA_OK) st = outbox_alloc(&o);
  for (int64_t i = 0; st == MA_OK && i < ps->n; i++) {
    const dd_pair *p = &ps->v[i];
    if (p->sim < threshold) continue;
    edge_msg ab = {p->pa, p->b, p->pb, p->sim}, ba = {p->pb, p->a, p->pa, p->sim};
    outbox_put(&o, comp_row_owner(offsets, g->nranks, p->pa), &ab);
    outbox_put(&o, comp_row_owner(offsets, g->nranks, p->pb), &ba);
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(outbox_send(comm, &o, (void **)&recv, &nrecv));
  outbox_close(&o); /* before the edge arrays: the peak of this phase */
  g->ne = nrecv;
  g->u = malloc((size_t)(nrecv + 1) * sizeof *g->u);
  g->v_id = malloc((size_t)(nrecv + 1) * sizeof *g->v_id);
  g->v_pos = malloc((size_t)(nrecv + 1) * sizeof *g->v_pos);
  g->sim = malloc((size_t)(nrecv + 1) * sizeof *g->sim);
  g->label_id = malloc((size_t)(g->nlocal + 1) * sizeof *g->label_id);
  g->label_pos = malloc((size_t)(g->nlocal + 1) * sizeof *g->label_pos);
  if (!g->u || !g->v_id || !g->v_pos || !g->sim || !g->label_id || !g->label_pos)
    st = ma_fail(MA_ERR_RUNTIME, "out of memory for %lld edges", (long long)nrecv);
  else {
    for (int64_t e = 0; e < nrecv; e++) {
      g->u[e] = recv[e].u_pos - g->offset;
      g->v_id[e] = recv[e].v_id;
      g->v_pos[e] = recv[e].v_pos;
      g->sim[e] = recv[e].sim;
    }
    for (int64_t i = 0; i < g->nlocal; i++) {
      g->label_id[i] = ids[i];
      g->label_pos[i] = g->offset + i;
    }
  }
  st = mpi_agree(comm, st);
done:
  outbox_close(&o);
  free(recv);
  return st;
}

typedef struct {
  int64_t v_pos, label_id, label_pos;
} label_msg;

ma_status comp_label(MPI_Comm comm, comp_graph *g, int *steps)
{
  ma_status st = MA_OK;
  unsigned char *active = calloc((size_t)g->nlocal + 1, 1), *next = calloc((size_t)g->nlocal + 1, 1);
  outbox o = {0};
  label_msg *recv = NULL;
  if (!active || !next) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t e = 0; st == MA_OK && e < g->ne; e++) active[g->u[e]] = 1;
  MA_TRY(mpi_agree(comm, st));
  *steps = 0;
  for (;;) {
    int64_t nrecv = 0, changed = 0, any;
    st = outbox_open(&o, g->nranks, sizeof(label_msg));
    for (int64_t e = 0; st == MA_OK && e < g->ne; e++)
      if (active[g->u[e]]) o.counts[comp_row_owner(g->offsets, g->nranks, g->v_pos[e])]++;
    if (st == MA_OK) st = outbox_alloc(&o);
    for (int64_t e = 0; st == MA_OK && e < g->ne; e++) {
      if (!active[g->u[e]]) continue;
      label_msg m = {g->v_pos[e], g->label_id[g->u[e]], g->label_pos[g->u[e]]};
      outbox_put(&o, comp_row_owner(g->offsets, g->nranks, g->v_pos[e]), &m);
    }
    MA_TRY(mpi_agree(comm, st));
    MA_TRY(outbox_send(comm, &o, (void **)&recv, &nrecv));
    outbox_close(&o);
    memset(next, 0, (size_t)g->nlocal);
    for (int64_t k = 0; k < nrecv; k++) {
      int64_t i = recv[k].v_pos - g->offset;
      if (recv[k].label_id < g->label_id[i]) {
        g->label_id[i] = recv[k].label_id;
        g->label_pos[i] = recv[k].label_pos;
        changed += !next[i];
        next[i] = 1;
      }
    }
    free(recv);
    recv = NULL;
    unsigned char *t = active;
    active = next;
    next = t;
    MA_TRY(mpi_sum_i64(comm, changed, &any));
    (*steps)++;
    if (any == 0) break;
  }
done:
  outbox_close(&o);
  free(recv);
  free(active);
  free(next);
  return st;
}

static int cmp_vertex(const void *pa, const void *pb)
{
  const comp_vertex *a = pa, *b = pb;
  if (a->label != b->label) return a->label < b->label ? -1 : 1;
  if (a->priority != b->priority) return a->priority > b->priority ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static int cmp_edge(const void *pa, const void *pb)
{
  const comp_edge *a = pa, *b = pb;
  if (a->label != b->label) return a->label < b->label ? -1 : 1;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  return (a->b > b->b) - (a->b < b->b);
}

ma_status comp_gather(MPI_Comm comm, const comp_graph *g, const int64_t *ids, const double *priority,
                      comp_vertex **verts, int64_t *nv, comp_edge **edges, int64_t *ne)
{
  ma_status st = MA_OK;
  outbox ov = {0}, oe = {0};
  unsigned char *in = calloc((size_t)g->nlocal + 1, 1);
  *verts = NULL;
  *edges = NULL;
  if (!in) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t e = 0; st == MA_OK && e < g->ne; e++) in[g->u[e]] = 1;
  if (st == MA_OK) st = outbox_open(&ov, g->nranks, sizeof(comp_vertex));
  if (st == MA_OK) st = outbox_open(&oe, g->nranks, sizeof(comp_edge));
  for (int64_t i = 0; st == MA_OK && i < g->nlocal; i++)
    if (in[i]) ov.counts[comp_row_owner(g->offsets, g->nranks, g->label_pos[i])]++;
  /* Each undirected edge once: from its endpoint with the smaller id. */
  for (int64_t e = 0; st == MA_OK && e < g->ne; e++)
    if (ids[g->u[e]] < g->v_id[e]) oe.counts[comp_row_owner(g->offsets, g->nranks, g->label_pos[g->u[e]])]++;
  if (st == MA_OK) st = outbox_alloc(&ov);
  if (st == MA_OK) st = outbox_alloc(&oe);
  for (int64_t i = 0; st == MA_OK && i < g->nlocal; i++) {
    if (!in[i]) continue;
    comp_vertex v = {g->label_id[i], ids[i], g->offset + i, priority ? priority[i] : 0};
    outbox_put(&ov, comp_row_owner(g->offsets, g->nranks, g->label_pos[i]), &v);
  }
  for (int64_t e = 0; st == MA_OK && e < g->ne; e++) {
    int64_t u = g->u[e];
    if (ids[u] >= g->v_id[e]) continue;
    comp_edge x = {g->label_id[u], ids[u], g->v_id[e], g->sim[e]};
    outbox_put(&oe, comp_row_owner(g->offsets, g->nranks, g->label_pos[u]), &x);
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(outbox_send(comm, &ov, (void **)verts, nv));
  outbox_close(&ov);
  MA_TRY(outbox_send(comm, &oe, (void **)edges, ne));
  outbox_close(&oe);
  qsort(*verts, (size_t)*nv, sizeof **verts, cmp_vertex);
  qsort(*edges, (size_t)*ne, sizeof **edges, cmp_edge);
done:
  outbox_close(&ov);
  outbox_close(&oe);
  free(in);
  return st;
}

ma_status comp_scatter(MPI_Comm comm, const comp_graph *g, const comp_result *res, int64_t n, uint8_t *keep,
                       int64_t *rep, int64_t *rep_pos, float *sim)
{
  ma_status st = MA_OK;
  outbox o = {0};
  comp_result *recv = NULL;
  int64_t nrecv = 0;
  st = outbox_open(&o, g->nranks, sizeof(comp_result));
  for (int64_t i = 0; st == MA_OK && i < n; i++) o.counts[comp_row_owner(g->offsets, g->nranks, res[i].pos)]++;
  if (st == MA_OK) st = outbox_alloc(&o);
  for (int64_t i = 0; st == MA_OK && i < n; i++) outbox_put(&o, comp_row_owner(g->offsets, g->nranks, res[i].pos), &res[i]);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(outbox_send(comm, &o, (void **)&recv, &nrecv));
  for (int64_t k = 0; k < nrecv; k++) {
    keep[recv[k].pos - g->offset] = (uint8_t)recv[k].keep;
    rep[recv[k].pos - g->offset] = recv[k].rep;
    if (rep_pos) rep_pos[recv[k].pos - g->offset] = recv[k].rep_pos;
    if (sim) sim[recv[k].pos - g->offset] = recv[k].sim;
  }
done:
  outbox_close(&o);
  free(recv);
  return st;
}

void comp_free(comp_graph *g)
{
  free(g->u);
  free(g->v_id);
  free(g->v_pos);
  free(g->sim);
  free(g->label_id);
  free(g->label_pos);
  memset(g, 0, sizeof *g);
}
