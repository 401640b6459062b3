/* What dedup saves in --workdir after each costly phase besides its clusterings (km_save): the union
 * of pairs found by clusterings 0..r with its statistics, and the recall rows. All global, so a rerun
 * may use another rank count. */
#ifndef MA_JOBS_DEDUP_CKPT_H
#define MA_JOBS_DEDUP_CKPT_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "io/ckpt.h"
#include "jobs/clustering.h"
#include "jobs/recall.h"
#include "mpi/pairs.h"

/* Statistics of one clustering's search, kept with its pairs for the summary of a resumed run. */
typedef struct dedup_phase_stats {
  double pairs_found, pairs_union, search_flops, kmeans_flops, work_ratio, rounds, bytes_moved;
} dedup_phase_stats;

/* Collective on the checkpoint's comm, all of them. Clusterings are saved by km_save (clustering.h). */
ma_status dckpt_save_pairs(const ckpt *c, int r, const pairset *ps, const dedup_phase_stats *st);
/* Replaces ps's pairs by the saved union through clustering r. */
ma_status dckpt_load_pairs(const ckpt *c, int r, pairset *ps);
ma_status dckpt_load_stats(const ckpt *c, int r, dedup_phase_stats *st);
ma_status dckpt_save_recall(const ckpt *c, const recall_row *rows, int R, int64_t sampled);
ma_status dckpt_load_recall(const ckpt *c, recall_row *rows, int R, int64_t *sampled);

/* The HDF5 compound types of a recall row (file: packed little-endian; memory: the struct). */
hid_t dckpt_recall_type(int file);

#endif
