/* Which items of one connected group of near-duplicates to keep. Pure: the distributed driver
 * (mpi/components.c) hands each group's vertices and edges to one rank, which calls these. */
#ifndef MA_KEEP_H
#define MA_KEEP_H

#include <stdint.h>

#include "core/status.h"

/* An edge between vertices u and v (indices into the group's vertex list) with its similarity. */
typedef struct keep_edge {
  int64_t u, v;
  float sim;
} keep_edge;

/* greedy: visit vertices in index order (the caller sorts them by priority) and keep one unless it is
 * >= threshold to a vertex already kept; a removed vertex's rep is the kept vertex it is most similar
 * to (ties: the earlier one). No chaining: every removed vertex is >= threshold to its kept rep, and no
 * edge >= threshold joins two kept vertices. Edges below threshold are ignored. keep[i] is 1 or 0;
 * rep[i] is a vertex index (i itself when kept). Not collective. */
ma_status keep_greedy(int64_t nv, const keep_edge *e, int64_t ne, float threshold, uint8_t *keep, int64_t *rep);

/* one-per-group (DALL-E 2's rule): the first vertex is kept, every other one points to it. The caller
 * passes one connected component. Not collective. */
void keep_one_per_group(int64_t nv, uint8_t *keep, int64_t *rep);

/* The obvious O(nv * ne) version of keep_greedy, for tests. Not collective. */
void keep_greedy_ref(int64_t nv, const keep_edge *e, int64_t ne, float threshold, uint8_t *keep, int64_t *rep);

#endif
