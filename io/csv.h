/* The CSV of flagged samples that `audit --csv` writes for people to inspect. */
#ifndef MA_IO_CSV_H
#define MA_IO_CSV_H

#include <stdint.h>

#include "core/status.h"

typedef struct csv_flagged {
  int64_t sample_id;   /* id of the generated sample */
  int64_t nearest_id;  /* its most similar training item */
  int64_t near_count;  /* training items at or above the threshold */
  int64_t source_id;   /* paired mode: the training item whose caption produced it */
  float similarity;    /* to nearest_id */
  float source_similarity;
} csv_flagged;

/* Writes a header line and one line per record, in the order given, to path atomically (it appears
 * whole or not at all): sample_id,nearest_id,similarity,near_count, and with paired also
 * source_id,source_similarity. Similarities are printed with 9 significant digits, enough to read back
 * the same float. Not collective. */
ma_status csv_write_flagged(const char *path, const csv_flagged *rows, int64_t n, int paired);

#endif
