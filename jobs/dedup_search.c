/* Intra-cluster search of one clustering. */
#include "jobs/dedup_search.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "kernels/ip_handlers.h"
#include "kernels/quant.h"
#include "kernels/search_plan.h"
#include "kernels/topk_exact.h"
#include "mpi/comm.h"
#include "mpi/members.h"

/* Runs this rank's tasks of one round on the members it received. */
static ma_status run_tasks(const search_plan *p, const members *m, int rank, int round, float threshold, int screen,
                           int r, ip_workspace *ws, pairbuf *out, int64_t *rescored)
{
  ip_blocking blk = {.ws = ws};
  ma_status st = MA_OK;
  size_t esize = m->type == MA_F16 ? 2 : 4;
  for (int64_t t = 0; t < p->ntasks && st == MA_OK; t++) {
    const sp_task *x = &p->tasks[t];
    if (x->round != round || x->rank != rank) continue;
    int64_t gi = p->block_start[x->cluster] + x->bi, gj = p->block_start[x->cluster] + x->bj, li, hi, lj, hj;
    members_block(m, gi, &li, &hi);
    members_block(m, gj, &lj, &hj);
    ma_rows xi = {(const char *)m->vec + (size_t)(li * m->ld) * esize, m->type, hi - li, m->ld};
    ma_rows xj = {(const char *)m->vec + (size_t)(lj * m->ld) * esize, m->type, hj - lj, m->ld};
    /* GEMM (or the int8 screening) finds the candidates; the exact inner product decides and is what is
     * reported. */
    q8_screen q = {0};
    ip_range_ctx rc;
    float band = topk_exact_band(m->dim);
    blk.screen = NULL;
    if (screen && xi.rows && xj.rows && (st = q8_screen_init(&q, &xi, gi == gj ? &xi : &xj, m->dim)) == MA_OK) {
      blk.screen = &q;
      band = q.band;
    }
    ip_range_init(&rc, ip_reach_of(threshold, band), gi == gj);
    ip_handler h = ip_range_handler(&rc);
    if (st == MA_OK && xi.rows && xj.rows)
      st = gi == gj ? ip_search_self(&xi, m->dim, &h, &blk) : ip_search(&xi, &xj, m->dim, &h, &blk);
    *rescored += rc.n;
    for (int64_t k = 0; k < rc.n && st == MA_OK; k++) {
      float sim = topk_exact_dot(&xi, rc.pairs[k].a, &xj, rc.pairs[k].b, m->dim);
      if (sim < threshold) continue;
      int64_t ia = li + rc.pairs[k].a, ib = lj + rc.pairs[k].b;
      int swap = m->ids[ia] > m->ids[ib];
      dd_pair pr = {swap ? m->ids[ib] : m->ids[ia], swap ? m->ids[ia] : m->ids[ib], swap ? m->pos[ib] : m->pos[ia],
                    swap ? m->pos[ia] : m->pos[ib], sim, (int16_t)r};
      st = pairbuf_push(out, &pr);
    }
    ip_range_free(&rc);
    q8_screen_free(&q);
  }
  return st;
}

ma_status dedup_search(MPI_Comm comm, const ma_rows *local, const int64_t *ids, const int64_t *pos,
                       const int32_t *assign, const int64_t *sizes, int64_t k, int64_t kept_from, int64_t round_rows,
                       float threshold, int screen, int r, pairbuf *out, dedup_search_stats *stats)
{
  ma_status st = MA_OK;
  search_plan p;
  members m = {0};
  ip_workspace ws = {0};
  int rank, nranks;
  memset(stats, 0, sizeof *stats);
  MA_MPI(MPI_Comm_rank(comm, &rank));
  MA_MPI(MPI_Comm_size(comm, &nranks));
  int64_t *kept = NULL;
  if (kept_from != INT64_MAX) {
    /* the kept items of each cluster, over all ranks */
    if (!(kept = calloc((size_t)k, sizeof *kept))) st = ma_fail(MA_ERR_RUNTIME, "out of memory");
    for (int64_t i = 0; st == MA_OK && i < local->rows; i++) kept[assign[i]] += pos[i] >= kept_from;
    MA_TRY(mpi_agree(comm, st));
    MA_TRY(mpi_sum_i64_array(comm, kept, k));
  }
  st = sp_blocks(&p, sizes, kept, k, nranks, round_rows);
  p.kept_from = kept_from;
  for (int64_t i = 0; st == MA_OK && i < local->rows; i++)
    p.block_rows[sp_block_of(&p, assign[i], ids[i], pos[i] >= kept_from)]++;
  MA_TRY(mpi_agree(comm, st));
  MA_TRY(mpi_sum_i64_array(comm, p.block_rows, p.nblocks));
  MA_TRY(mpi_agree(comm, sp_schedule(&p, round_rows)));

  stats->rounds = p.rounds;
  stats->tasks = p.ntasks;
  for (int64_t c = 0; c < k; c++) stats->split_clusters += p.blocks[c] > 1;
  /* The total first: summing whole-number work is exact, so search_flops does not depend on the rank
   * count (mean * nranks rounds differently at each count). */
  double total_work = 0;
  for (int q = 0; q < nranks; q++) {
    total_work += p.rank_work[q];
    if (p.rank_work[q] > stats->work_max) stats->work_max = p.rank_work[q];
  }
  stats->work_mean = total_work / nranks;
  stats->flops = 2.0 * (double)local->ld * total_work;
  log_info("clustering %d: %lld tasks in %d round%s, %lld clusters split into blocks; work per rank max/mean %.2f",
           r, (long long)p.ntasks, p.rounds, p.rounds == 1 ? "" : "s", (long long)stats->split_clusters,
           stats->work_mean > 0 ? stats->work_max / stats->work_mean : 1.0);

  double busy = 0, moving = 0;
  int64_t rescored = 0;
  for (int round = 0; round < p.rounds; round++) {
    int64_t moved = 0, all_moved;
    double t_x = log_now();
    MA_TRY(members_exchange(comm, local, ids, pos, assign, &p, round, &m, &moved));
    moving += log_now() - t_x;
    MA_TRY(mpi_sum_i64(comm, moved, &all_moved));
    stats->bytes_moved += all_moved;
    double t0 = log_now();
    st = run_tasks(&p, &m, rank, round, threshold, screen, r, &ws, out, &rescored);
    busy += log_now() - t0;
    MA_TRY(mpi_agree(comm, st));
    members_free(&m);
    log_progress(round + 1, p.rounds);
  }
  /* the rate of each rank over its own work; the job goes at its slowest rank's */
  double rate = busy > 0 ? 2.0 * (double)local->ld * p.rank_work[rank] / busy * 1e-9 : INFINITY;
  MA_MPI_TRY(MPI_Allreduce(&busy, &stats->seconds, 1, MPI_DOUBLE, MPI_MAX, comm));
  MA_MPI_TRY(MPI_Allreduce(&moving, &stats->exchange_seconds, 1, MPI_DOUBLE, MPI_MAX, comm));
  MA_MPI_TRY(MPI_Allreduce(&rate, &stats->gflops, 1, MPI_DOUBLE, MPI_MIN, comm));
  MA_TRY(mpi_sum_i64(comm, rescored, &stats->rescored));
  if (isinf(stats->gflops)) stats->gflops = 0;
done:
  free(kept);
  ip_workspace_free(&ws);
  members_free(&m);
  sp_free(&p);
  return st;
}
