/* Recall estimate of the clustered search. */
#include "jobs/recall.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/f16.h"
#include "kernels/ip_handlers.h"
#include "kernels/quant.h"
#include "kernels/rng.h"
#include "kernels/stats.h"
#include "kernels/topk_exact.h"
#include "mpi/comm.h"
#include "mpi/xchg.h"

typedef struct {
  uint64_t h;
  int64_t id;
} drawn;

static int by_hash(const void *pa, const void *pb)
{
  const drawn *a = pa, *b = pb;
  if (a->h != b->h) return a->h < b->h ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

static int cmp_i64(const void *pa, const void *pb)
{
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  return (a > b) - (a < b);
}

/* Sifts heap[i] down a max-heap of n items in by_hash order. */
static void sift_down(drawn *heap, int64_t n, int64_t i)
{
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, top = i;
    if (l < n && by_hash(&heap[l], &heap[top]) > 0) top = l;
    if (r < n && by_hash(&heap[r], &heap[top]) > 0) top = r;
    if (top == i) return;
    drawn t = heap[i];
    heap[i] = heap[top];
    heap[top] = t;
    i = top;
  }
}

/* The S items with the smallest hash of their id over all ranks, in hash order. Each rank keeps its
 * S first in a max-heap over one pass (most items fail the first comparison: O(n) for random hashes,
 * where sorting all n rows took ~0.1 s at 500,000 a rank). Collective. */
static ma_status draw(MPI_Comm comm, const int64_t *ids, int64_t n, int64_t want, uint64_t seed, drawn **out,
                      int64_t *s)
{
  ma_status st = MA_OK;
  int64_t take = n < want ? n : want, nall = 0, held = 0;
  drawn *local = malloc((size_t)(take + 1) * sizeof *local), *all = NULL;
  if (!local) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t i = 0; st == MA_OK && i < n; i++) {
    drawn d = {rng_hash(seed, RNG_RECALL_SAMPLE, (uint64_t)ids[i]), ids[i]};
    if (held < take) { /* filling: sift up */
      int64_t c = held++;
      local[c] = d;
      while (c > 0 && by_hash(&local[c], &local[(c - 1) / 2]) > 0) {
        drawn t = local[c];
        local[c] = local[(c - 1) / 2];
        local[(c - 1) / 2] = t;
        c = (c - 1) / 2;
      }
    } else if (take > 0 && by_hash(&d, &local[0]) < 0) {
      local[0] = d;
      sift_down(local, take, 0);
    }
  }
  if (st == MA_OK) qsort(local, (size_t)take, sizeof *local, by_hash);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_allgather_records(comm, local, take, sizeof *local, (void **)&all, &nall));
  qsort(all, (size_t)nall, sizeof *all, by_hash);
  *s = nall < want ? nall : want;
  *out = all;
  all = NULL;
done:
  free(local);
  free(all);
  return st;
}

/* Every rank gets the sample's vectors (float32, in sample order); sorted_ids are the sample's ids in
 * ascending order. Collective. */
static ma_status gather_vectors(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const drawn *smp, int64_t s,
                                const int64_t *sorted_ids, float **xs)
{
  ma_status st = MA_OK;
  int64_t d = local->ld, nrec = 0, m = 0;
  size_t rec = sizeof(int64_t) + (size_t)d * sizeof(float);
  char *mine = NULL, *all = NULL;
  mine = malloc((size_t)(s + 1) * rec);
  *xs = malloc((size_t)(s * d + 1) * sizeof **xs);
  if (!mine || !*xs) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  if (st == MA_OK) {
    for (int64_t i = 0; i < local->rows; i++) {
      if (!bsearch(&ids[i], sorted_ids, (size_t)s, sizeof *sorted_ids, cmp_i64)) continue;
      char *r = mine + (size_t)m++ * rec;
      memcpy(r, &ids[i], sizeof(int64_t));
      float *v = (float *)(r + sizeof(int64_t));
      if (local->type == MA_F32) memcpy(v, (const float *)local->data + i * d, (size_t)d * sizeof *v);
      else f16_to_f32((const uint16_t *)local->data + i * d, v, d);
    }
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_allgather_records(comm, mine, m, rec, (void **)&all, &nrec));
  /* Records start with the id: sorted by it, each sample item finds its vector by binary search. */
  qsort(all, (size_t)nrec, rec, cmp_i64);
  for (int64_t k = 0; k < s; k++) {
    const char *r = bsearch(&smp[k].id, all, (size_t)nrec, rec, cmp_i64);
    if (r) memcpy(*xs + k * d, r + sizeof(int64_t), (size_t)d * sizeof(float));
  }
done:
  free(mine);
  free(all);
  return st;
}

/* A true pair (a < b) of sampled item s; a comes first, as pairset_route wants. */
typedef struct {
  int64_t a, b, s;
} truth_msg;

ma_status recall_estimate(MPI_Comm comm, const ma_rows *local, int64_t drawable, const int64_t *ids,
                          const pairset *ps, int64_t sample, uint64_t seed, float threshold, int screen, int R,
                          recall_row *rows, int64_t *sampled, int64_t *rescored)
{
  ma_status st = MA_OK;
  drawn *smp = NULL;
  float *xs = NULL;
  int64_t s = 0, *counts = NULL, *rcounts = NULL, *tf = NULL, *sorted_ids = NULL, nrecv = 0;
  truth_msg *send = NULL, *recv = NULL;
  ip_range_ctx rc;
  ip_range_init(&rc, 0, 0);
  q8_screen q = {0};
  int nranks;
  MA_MPI(MPI_Comm_size(comm, &nranks));
  MA_TRY(draw(comm, ids, drawable, sample, seed, &smp, &s));
  *sampled = s;
  sorted_ids = malloc((size_t)(s + 1) * sizeof *sorted_ids);
  if (!sorted_ids) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t k = 0; st == MA_OK && k < s; k++) sorted_ids[k] = smp[k].id;
  if (st == MA_OK) qsort(sorted_ids, (size_t)s, sizeof *sorted_ids, cmp_i64);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(gather_vectors(comm, local, ids, smp, s, sorted_ids, &xs));

  /* Exact search of the sample against this rank's rows. */
  ma_rows x = {xs, MA_F32, s, local->ld};
  ip_blocking blk = {0};
  float band = topk_exact_band(local->ld);
  if (screen && local->rows && (st = q8_screen_init(&q, &x, local, local->ld)) == MA_OK) {
    blk.screen = &q;
    band = q.band;
  }
  rc.threshold = ip_reach_of(threshold, band);
  ip_handler h = ip_range_handler(&rc);
  if (st == MA_OK && local->rows) st = ip_search(&x, local, local->ld, &h, &blk);
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_sum_i64(comm, rc.n, rescored));
  counts = calloc((size_t)nranks, sizeof *counts);
  rcounts = calloc((size_t)nranks, sizeof *rcounts);
  send = malloc((size_t)(rc.n + 1) * sizeof *send);
  if (st == MA_OK && (!counts || !rcounts || !send)) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  int64_t m = 0;
  if (st == MA_OK) {
    for (int64_t k = 0; k < rc.n; k++) {
      int64_t sid = smp[rc.pairs[k].a].id, other = ids[rc.pairs[k].b];
      /* Decided on the exact inner product, as the clustered search decides (dedup_search.c). */
      if (other == sid || topk_exact_dot(&x, rc.pairs[k].a, local, rc.pairs[k].b, local->ld) < threshold) continue;
      /* A pair of two sampled items belongs to the one with the smaller id: count it once. */
      if (other < sid && bsearch(&other, sorted_ids, (size_t)s, sizeof *sorted_ids, cmp_i64)) continue;
      send[m++] = (truth_msg){sid < other ? sid : other, sid < other ? other : sid, rc.pairs[k].a};
    }
    /* Route each true pair to the rank holding its place in the found pairs. */
    truth_msg *sorted = NULL;
    st = pairset_route(ps, send, m, sizeof *send, counts, (void **)&sorted);
    free(send);
    send = sorted;
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(xchg_alltoallv(comm, send, counts, sizeof *send, (void **)&recv, rcounts, &nrecv));

  /* tf[0..s): true pairs of each sampled item; tf[(r+1)*s + i]: those found by clusterings 0..r. */
  tf = calloc((size_t)((R + 1) * s + 1), sizeof *tf);
  if (!tf) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
  for (int64_t k = 0; st == MA_OK && k < nrecv; k++) {
    int first = pairset_find(ps, recv[k].a, recv[k].b);
    tf[recv[k].s]++;
    for (int r = first < 0 ? R : first; r < R; r++) tf[(r + 1) * s + recv[k].s]++;
  }
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_sum_i64_array(comm, tf, (R + 1) * s));
  int64_t total = 0;
  for (int64_t i = 0; i < s; i++) total += tf[i];
  for (int r = 0; r < R; r++) {
    rows[r].clusterings = r + 1;
    rows[r].true_pairs = total;
    stats_ratio_ci(tf + (r + 1) * s, tf, s, &rows[r].recall, &rows[r].ci_low, &rows[r].ci_high);
  }
done:
  ip_range_free(&rc);
  q8_screen_free(&q);
  free(smp);
  free(xs);
  free(counts);
  free(rcounts);
  free(tf);
  free(sorted_ids);
  free(send);
  free(recv);
  return st;
}
