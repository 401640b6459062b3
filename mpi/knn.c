/* Distributed exact k-NN: blocks of queries broadcast from their owner, local exact top-k, per-rank
 * lists merged onto the owner by a user-defined reduction. */
#include "mpi/knn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/quant.h"
#include "kernels/topk_exact.h"
#include "mpi/comm.h"

/* One query's result on the wire: a header {count, k}, then k ids (int64), then k similarities (float),
 * padded to 8 bytes. The reduction reads k from the header and the record size from the datatype. */
typedef struct {
  int64_t count, k;
} rec_header;

static int64_t rec_bytes(int k) { return ((int64_t)sizeof(rec_header) + 12 * (int64_t)k + 7) / 8 * 8; }
static int64_t *rec_ids(char *rec) { return (int64_t *)(rec + sizeof(rec_header)); }
static float *rec_sims(char *rec, int64_t k) { return (float *)(rec + sizeof(rec_header) + 8 * k); }

/* The MPI_Op: per record, merged lists and summed counts. */
static void merge_op(void *in, void *inout, int *len, MPI_Datatype *type)
{
  int size = 0;
  MPI_Type_size(*type, &size);
  for (int r = 0; r < *len; r++) {
    char *a = (char *)in + (int64_t)r * size, *b = (char *)inout + (int64_t)r * size;
    rec_header *ha = (rec_header *)a, *hb = (rec_header *)b;
    topk_merge_inplace(hb->k, rec_ids(a), rec_sims(a, ha->k), rec_ids(b), rec_sims(b, hb->k));
    hb->count += ha->count;
  }
}

/* Local query counts of every rank. Collective on comm. */
static ma_status query_counts(MPI_Comm comm, int64_t local, int nranks, int64_t **counts, int64_t *total)
{
  *counts = calloc((size_t)nranks, sizeof **counts);
  MA_CALL(mpi_agree(comm, *counts ? MA_OK : ma_fail(MA_ERR_RUNTIME, "out of memory")));
  MA_MPI(MPI_Allgather(&local, 1, MPI_INT64_T, *counts, 1, MPI_INT64_T, comm));
  *total = 0;
  for (int r = 0; r < nranks; r++) *total += (*counts)[r];
  return MA_OK;
}

/* Broadcasts rows [b0, b0 + m) of the owner's queries into buf (m * d elements). Collective on comm. */
static ma_status bcast_block(MPI_Comm comm, int owner, int rank, const ma_rows *q, int64_t d, int64_t b0, int64_t m,
                             void *buf)
{
  size_t esize = q->type == MA_F16 ? 2 : 4, row = (size_t)d * esize;
  if (rank == owner)
    for (int64_t i = 0; i < m; i++)
      memcpy((char *)buf + (size_t)i * row, (const char *)q->data + (size_t)((b0 + i) * q->ld) * esize, row);
  MA_CALL(mpi_check_int(m * (int64_t)row, "query block bytes"));
  MA_MPI(MPI_Bcast(buf, (int)(m * (int64_t)row), MPI_BYTE, owner, comm));
  return MA_OK;
}

ma_status knn_search(MPI_Comm comm, const knn_train *train, const ma_rows *q, const knn_params *p, int64_t *ids,
                     float *sims, int64_t *count)
{
  ma_status st = MA_OK;
  int rank, nranks, k = p->k;
  int64_t *nq = NULL, total = 0, done_q = 0, d = train->d;
  int64_t block = p->block > 0 ? p->block : KNN_BLOCK_DEFAULT, rb = rec_bytes(k);
  int64_t *lid = NULL, *lcount = NULL;
  float *lsim = NULL;
  char *qbuf = NULL, *recs = NULL;
  MPI_Datatype rtype = MPI_DATATYPE_NULL;
  MPI_Op op = MPI_OP_NULL;
  topk_exact_stats stats = {0, 0};
  q8_info ti = {0}, qi = {0}; /* the training rows' quantities (made once), a block's */
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &nranks));
  if (k < 1) return ma_fail(MA_ERR_USAGE, "knn_search: k = %d", k);
  MA_CALL(mpi_check_int(block, "queries per block"));
  MA_CALL(query_counts(comm, q->rows, nranks, &nq, &total));

  qbuf = malloc((size_t)(block * d * 4));
  recs = malloc((size_t)(block * rb));
  lid = malloc((size_t)(block * k) * sizeof *lid);
  lsim = malloc((size_t)(block * k) * sizeof *lsim);
  lcount = malloc((size_t)block * sizeof *lcount);
  if (!qbuf || !recs || !lid || !lsim || !lcount) st = ma_fail(MA_ERR_RUNTIME, "out of memory for a query block");
  if (st == MA_OK && (MPI_Type_contiguous((int)rb, MPI_BYTE, &rtype) != MPI_SUCCESS || MPI_Type_commit(&rtype) != MPI_SUCCESS ||
                      MPI_Op_create(merge_op, 1, &op) != MPI_SUCCESS))
    st = ma_fail(MA_ERR_RUNTIME, "cannot create the MPI type and operation of the k-NN merge");
  if (st == MA_OK && p->screen) st = q8_info_init(&ti, &train->rows, d, q8_levels_y());
  MA_TRY(mpi_agree(comm, st));

  for (int owner = 0; owner < nranks; owner++) {
    for (int64_t b0 = 0; b0 < nq[owner]; b0 += block) {
      int64_t m = nq[owner] - b0 < block ? nq[owner] - b0 : block;
      MA_TRY(bcast_block(comm, owner, rank, q, d, b0, m, qbuf));
      ma_rows blk = {qbuf, q->type, m, d};
      q8_screen sc;
      ip_blocking b = {0};
      if (p->screen && (st = q8_info_init(&qi, &blk, d, q8_levels_x())) == MA_OK) {
        q8_screen_set(&sc, &qi, &ti, d);
        b.screen = &sc;
      }
      if (st == MA_OK) st = topk_exact(&blk, &train->rows, d, train->ids, k, p->threshold, lid, lsim, lcount, &b, &stats);
      q8_info_free(&qi);
      MA_TRY(mpi_agree(comm, st));
      for (int64_t i = 0; i < m; i++) {
        char *r = recs + i * rb;
        *(rec_header *)r = (rec_header){lcount[i], k};
        memcpy(rec_ids(r), lid + i * k, (size_t)k * sizeof *lid);
        memcpy(rec_sims(r, k), lsim + i * k, (size_t)k * sizeof *lsim);
      }
      MA_MPI_TRY(MPI_Reduce(rank == owner ? MPI_IN_PLACE : recs, recs, (int)m, rtype, op, owner, comm));
      if (rank == owner)
        for (int64_t i = 0; i < m; i++) {
          char *r = recs + i * rb;
          count[b0 + i] = ((rec_header *)r)->count;
          memcpy(ids + (b0 + i) * k, rec_ids(r), (size_t)k * sizeof *ids);
          memcpy(sims + (b0 + i) * k, rec_sims(r, k), (size_t)k * sizeof *sims);
        }
      done_q += m;
      log_progress(done_q, total);
    }
  }
  int64_t fallback = 0, rescored = 0;
  MA_TRY(mpi_sum_i64(comm, stats.fallback_rows, &fallback));
  MA_TRY(mpi_sum_i64(comm, stats.rescored, &rescored));
  if (p->rescored) *p->rescored += rescored;
  if (fallback)
    log_verbose("%lld query blocks' rows (summed over ranks) had more near-ties at the k-th place than the "
                "margin and were recomputed exactly", (long long)fallback);
done:
  q8_info_free(&ti);
  q8_info_free(&qi);
  if (op != MPI_OP_NULL) MPI_Op_free(&op);
  if (rtype != MPI_DATATYPE_NULL) MPI_Type_free(&rtype);
  free(nq);
  free(qbuf);
  free(recs);
  free(lid);
  free(lsim);
  free(lcount);
  return st;
}

typedef struct {
  int64_t id, row;
} id_row;

static int cmp_id_row(const void *pa, const void *pb)
{
  int64_t a = ((const id_row *)pa)->id, b = ((const id_row *)pb)->id;
  return (a > b) - (a < b);
}

/* The local row holding id, or -1. */
static int64_t find_row(const id_row *map, int64_t n, int64_t id)
{
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (map[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && map[lo].id == id ? map[lo].row : -1;
}

ma_status knn_pair_similarity(MPI_Comm comm, const knn_train *train, const ma_rows *q, const int64_t *pair_ids,
                              int64_t block, float *sims, int64_t *missing)
{
  ma_status st = MA_OK;
  int rank, nranks;
  int64_t *nq = NULL, total = 0, d = train->d, nt = train->rows.rows;
  int64_t *bids = NULL;
  float *bsim = NULL;
  char *qbuf = NULL;
  id_row *map = NULL;
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &nranks));
  if (block <= 0) block = KNN_BLOCK_DEFAULT;
  MA_CALL(mpi_check_int(block, "queries per block"));
  MA_CALL(query_counts(comm, q->rows, nranks, &nq, &total));
  qbuf = malloc((size_t)(block * d * 4));
  bids = malloc((size_t)block * sizeof *bids);
  bsim = malloc((size_t)block * sizeof *bsim);
  map = malloc((size_t)(nt + 1) * sizeof *map);
  if (!qbuf || !bids || !bsim || !map) st = ma_fail(MA_ERR_RUNTIME, "out of memory for a query block");
  MA_TRY(mpi_agree(comm, st));
  for (int64_t j = 0; j < nt; j++) map[j] = (id_row){train->ids[j], j};
  qsort(map, (size_t)nt, sizeof *map, cmp_id_row);

  *missing = -1;
  for (int owner = 0; owner < nranks; owner++) {
    for (int64_t b0 = 0; b0 < nq[owner]; b0 += block) {
      int64_t m = nq[owner] - b0 < block ? nq[owner] - b0 : block;
      MA_TRY(bcast_block(comm, owner, rank, q, d, b0, m, qbuf));
      if (rank == owner) memcpy(bids, pair_ids + b0, (size_t)m * sizeof *bids);
      MA_MPI_TRY(MPI_Bcast(bids, (int)m, MPI_INT64_T, owner, comm));
      ma_rows blk = {qbuf, q->type, m, d};
      for (int64_t i = 0; i < m; i++) {
        int64_t row = find_row(map, nt, bids[i]);
        bsim[i] = row < 0 ? -INFINITY : topk_exact_dot(&blk, i, &train->rows, row, d);
      }
      MA_MPI_TRY(MPI_Reduce(rank == owner ? MPI_IN_PLACE : bsim, bsim, (int)m, MPI_FLOAT, MPI_MAX, owner, comm));
      if (rank == owner)
        for (int64_t i = 0; i < m; i++) {
          sims[b0 + i] = bsim[i];
          if (bsim[i] == -INFINITY && *missing < 0) *missing = b0 + i;
        }
    }
  }
done:
  free(nq);
  free(qbuf);
  free(bids);
  free(bsim);
  free(map);
  return st;
}

int64_t knn_memory(int64_t train_rows, int64_t d, int k, int64_t block)
{
  if (block <= 0) block = KNN_BLOCK_DEFAULT;
  /* the screening's, whether it runs or not: the budget does not depend on --screen */
  return block * d * 4 + block * (rec_bytes(k) + 12 * (int64_t)k + 16) + topk_exact_memory(block, d, k) +
         (train_rows + 1) * (int64_t)sizeof(id_row) + q8_search_memory(block, train_rows, d);
}
