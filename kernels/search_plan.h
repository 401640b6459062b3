/* Which rank searches which part of which cluster, and when.
 *
 * A cluster of m items costs about m^2/2 comparisons. A cluster is cut into B blocks (an item's block is
 * a hash of its id), and every pair of blocks (bi <= bj) is a task: one block against itself, or two
 * against each other. Small clusters are one block and one task. Tasks go to ranks largest first, each to
 * the least-loaded rank (LPT), so the work, not the number of clusters, is balanced; then each rank's tasks
 * are packed into rounds whose rows fit its memory. In a round every rank receives the blocks its tasks
 * of that round need (one all-to-all) and searches them. The plan is computed alike on every rank from
 * global counts, so it needs no communication of its own. */
#ifndef MA_SEARCH_PLAN_H
#define MA_SEARCH_PLAN_H

#include <stdint.h>

#include "core/status.h"

typedef struct sp_task {
  int64_t cluster;
  int64_t bi, bj;   /* blocks, bi <= bj */
  int64_t rows;     /* rows the task needs */
  double work;      /* comparisons */
  int rank, round;
} sp_task;

typedef struct search_plan {
  int64_t k;
  int64_t *blocks;      /* [k] blocks of cluster c: its new items' first, then its kept items' */
  int64_t *new_blocks;  /* [k] how many of them hold new items; blocks of kept items are never searched
                           against each other (dedup --against) */
  int64_t kept_from;    /* output position from which rows are kept items (INT64_MAX: none) */
  int64_t *block_start; /* [k + 1] global index of (c, block 0) */
  int64_t nblocks;
  int64_t *block_rows;  /* [nblocks] items in each block (filled by the caller, summed over ranks) */
  sp_task *tasks;       /* sorted by (round, rank, cluster, bi, bj) */
  int64_t ntasks;
  int rounds, nranks;
  double *rank_work;    /* [nranks] */
  /* for every block, the (round, rank) pairs that need it */
  int64_t *need_start;  /* [nblocks + 1] */
  int32_t *need_round, *need_rank;
} search_plan;

/* Cuts each cluster (sizes[c] items, kept[c] of them kept items; kept may be NULL: none) into blocks
 * of at most block_cap rows, new and kept items apart, where block_cap keeps a task to about one rank's
 * share of the work and two blocks within round_rows. Sets kept_from to INT64_MAX (the caller sets it
 * with kept items). Not collective. */
ma_status sp_blocks(search_plan *p, const int64_t *sizes, const int64_t *kept, int64_t k, int nranks,
                    int64_t round_rows);

/* The block of item id in cluster c (global block index); kept: whether it is a kept item. Not
 * collective. */
int64_t sp_block_of(const search_plan *p, int64_t c, int64_t id, int kept);

/* Tasks, their ranks and rounds, from p->block_rows; no task pairs two blocks of kept items. Not
 * collective. */
ma_status sp_schedule(search_plan *p, int64_t round_rows);

void sp_free(search_plan *p);

#endif
