/* The search plan: blocks, tasks, ranks, rounds. */
#include "kernels/search_plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/rng.h"

/* Blocks for m items of one kind: one when they fit, however few (none for kept items). */
static int64_t blocks_for(int64_t m, double cap, int kept)
{
  if (kept && m == 0) return 0;
  return (double)m <= cap ? 1 : (int64_t)ceil((double)m / cap);
}

ma_status sp_blocks(search_plan *p, const int64_t *sizes, const int64_t *kept, int64_t k, int nranks,
                    int64_t round_rows)
{
  ma_status st = MA_OK;
  memset(p, 0, sizeof *p);
  p->k = k;
  p->nranks = nranks;
  p->kept_from = INT64_MAX;
  double work = 0;
  for (int64_t c = 0; c < k; c++) {
    double o = kept ? (double)kept[c] : 0, m = (double)sizes[c] - o;
    work += m * (m - 1) / 2 + m * o;
  }
  /* A block against itself costs cap^2/2: keep it to a rank's share, and two blocks within a round. */
  double cap = sqrt(2 * work / nranks);
  if (cap < 1024) cap = 1024;
  if (cap > (double)(round_rows / 2)) cap = (double)(round_rows / 2);
  if (cap < 1) cap = 1;
  MA_ALLOC(p->blocks, k);
  MA_ALLOC(p->new_blocks, k);
  MA_ALLOC(p->block_start, k + 1);
  for (int64_t c = 0; c < k; c++) {
    int64_t o = kept ? kept[c] : 0;
    p->new_blocks[c] = blocks_for(sizes[c] - o, cap, 0);
    p->blocks[c] = p->new_blocks[c] + blocks_for(o, cap, 1);
    p->block_start[c + 1] = p->block_start[c] + p->blocks[c];
  }
  p->nblocks = p->block_start[k];
  MA_ALLOC(p->block_rows, p->nblocks);
done:
  return st;
}

int64_t sp_block_of(const search_plan *p, int64_t c, int64_t id, int kept)
{
  int64_t first = kept ? p->new_blocks[c] : 0, count = kept ? p->blocks[c] - p->new_blocks[c] : p->new_blocks[c];
  int64_t b = count == 1 ? 0 : (int64_t)(rng_hash(0x5eed, 0x5b10c, (uint64_t)id) % (uint64_t)count);
  return p->block_start[c] + first + b;
}

static int by_work(const void *pa, const void *pb)
{
  const sp_task *a = pa, *b = pb;
  if (a->work != b->work) return a->work > b->work ? -1 : 1;
  if (a->cluster != b->cluster) return a->cluster < b->cluster ? -1 : 1;
  if (a->bi != b->bi) return a->bi < b->bi ? -1 : 1;
  return (a->bj > b->bj) - (a->bj < b->bj);
}

static int by_round(const void *pa, const void *pb)
{
  const sp_task *a = pa, *b = pb;
  if (a->round != b->round) return a->round - b->round;
  if (a->rank != b->rank) return a->rank - b->rank;
  return by_work(pa, pb);
}

/* For every block, the distinct (round, rank) pairs whose tasks need it. */
static ma_status build_needs(search_plan *p)
{
  ma_status st = MA_OK;
  int64_t *fill = NULL;
  MA_ALLOC(p->need_start, p->nblocks + 1);
  MA_ALLOC(fill, p->nblocks + 1);
  MA_ALLOC(p->need_round, 2 * p->ntasks + 1);
  MA_ALLOC(p->need_rank, 2 * p->ntasks + 1);
  for (int64_t t = 0; t < p->ntasks; t++) {
    const sp_task *x = &p->tasks[t];
    p->need_start[p->block_start[x->cluster] + x->bi + 1]++;
    if (x->bj != x->bi) p->need_start[p->block_start[x->cluster] + x->bj + 1]++;
  }
  for (int64_t b = 0; b < p->nblocks; b++) p->need_start[b + 1] += p->need_start[b];
  memcpy(fill, p->need_start, (size_t)p->nblocks * sizeof *fill);
  for (int64_t t = 0; t < p->ntasks; t++) {
    const sp_task *x = &p->tasks[t];
    int64_t blocks[2] = {p->block_start[x->cluster] + x->bi, p->block_start[x->cluster] + x->bj};
    for (int s = 0; s < (x->bi == x->bj ? 1 : 2); s++) {
      int64_t b = blocks[s], dup = 0;
      for (int64_t q = p->need_start[b]; q < fill[b]; q++)
        dup |= p->need_round[q] == x->round && p->need_rank[q] == x->rank;
      if (dup) continue;
      p->need_round[fill[b]] = x->round;
      p->need_rank[fill[b]++] = x->rank;
    }
  }
  /* Compact away the slots that duplicates left empty. */
  int64_t w = 0;
  for (int64_t b = 0; b < p->nblocks; b++) {
    int64_t from = p->need_start[b], to = fill[b];
    p->need_start[b] = w;
    for (int64_t q = from; q < to; q++) {
      p->need_round[w] = p->need_round[q];
      p->need_rank[w++] = p->need_rank[q];
    }
  }
  p->need_start[p->nblocks] = w;
done:
  free(fill);
  return st;
}

ma_status sp_schedule(search_plan *p, int64_t round_rows)
{
  ma_status st = MA_OK;
  int64_t n = 0, *rank_rows = NULL;
  int *rank_round = NULL;
  for (int64_t c = 0; c < p->k; c++) n += p->blocks[c] * (p->blocks[c] + 1) / 2;
  MA_ALLOC(p->tasks, n + 1);
  MA_ALLOC(p->rank_work, p->nranks);
  MA_ALLOC(rank_rows, p->nranks);
  MA_ALLOC(rank_round, p->nranks);
  for (int64_t c = 0; c < p->k; c++)
    for (int64_t bi = 0; bi < p->new_blocks[c]; bi++) /* bi <= bj: bi is a block of new items */
      for (int64_t bj = bi; bj < p->blocks[c]; bj++) {
        int64_t si = p->block_rows[p->block_start[c] + bi], sj = p->block_rows[p->block_start[c] + bj];
        double work = bi == bj ? (double)si * (double)(si - 1) / 2 : (double)si * (double)sj;
        if (work <= 0) continue;
        p->tasks[p->ntasks++] = (sp_task){c, bi, bj, bi == bj ? si : si + sj, work, 0, 0};
      }
  qsort(p->tasks, (size_t)p->ntasks, sizeof *p->tasks, by_work);
  /* LPT: largest task first, to the least-loaded rank (ties: the lower rank). */
  for (int64_t t = 0; t < p->ntasks; t++) {
    int r = 0;
    for (int q = 1; q < p->nranks; q++)
      if (p->rank_work[q] < p->rank_work[r]) r = q;
    p->tasks[t].rank = r;
    p->rank_work[r] += p->tasks[t].work;
  }
  /* Each rank's tasks, in that order, fill rounds of at most round_rows rows. */
  for (int64_t t = 0; t < p->ntasks; t++) {
    sp_task *x = &p->tasks[t];
    if (rank_rows[x->rank] > 0 && rank_rows[x->rank] + x->rows > round_rows) {
      rank_round[x->rank]++;
      rank_rows[x->rank] = 0;
    }
    rank_rows[x->rank] += x->rows;
    x->round = rank_round[x->rank];
    if (x->round + 1 > p->rounds) p->rounds = x->round + 1;
  }
  qsort(p->tasks, (size_t)p->ntasks, sizeof *p->tasks, by_round);
  MA_TRY(build_needs(p));
done:
  free(rank_rows);
  free(rank_round);
  return st;
}

void sp_free(search_plan *p)
{
  free(p->blocks);
  free(p->new_blocks);
  free(p->block_start);
  free(p->block_rows);
  free(p->tasks);
  free(p->rank_work);
  free(p->need_start);
  free(p->need_round);
  free(p->need_rank);
  memset(p, 0, sizeof *p);
}
