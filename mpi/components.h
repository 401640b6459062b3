/* Connected groups of near-duplicates, found without gathering the pairs: each item's row owner holds
 * its edges and a label (the smallest id in its group, with that item's row), and labels spread along
 * edges by min-label propagation, one all-to-all per step, until no label changes. Then every group is
 * gathered on the rank that holds its label's row, where the keep rule runs, and the decisions go back
 * to the items' rows. */
#ifndef MA_MPI_COMPONENTS_H
#define MA_MPI_COMPONENTS_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"
#include "mpi/pairs.h"

typedef struct comp_graph {
  int nranks;
  const int64_t *offsets; /* [nranks + 1] output rows of each rank */
  int64_t offset, nlocal; /* this rank's rows */
  int64_t ne;             /* directed edges u -> v held here, u a local row */
  int64_t *u, *v_id, *v_pos;
  float *sim;
  int64_t *label_id, *label_pos; /* [nlocal] */
} comp_graph;

/* A group's member, gathered on the group's rank; visiting order is by priority (higher first), then id. */
typedef struct comp_vertex {
  int64_t label, id, pos;
  double priority;
} comp_vertex;

/* A group's edge (a < b), gathered on the group's rank. */
typedef struct comp_edge {
  int64_t label, a, b;
  float sim;
} comp_edge;

/* A decision for the row at pos: keep it, or its representative (id and output position) and their
 * similarity (NaN when they are not joined by an edge). */
typedef struct comp_result {
  int64_t pos, rep;
  int64_t keep;
  int64_t rep_pos;
  float sim;
} comp_result;

/* The rank whose rows hold output position pos. Not collective. */
int comp_row_owner(const int64_t *offsets, int nranks, int64_t pos);

/* Edges of the pairs with sim >= threshold, at their rows' owners; every row its own label. Collective. */
ma_status comp_build(MPI_Comm comm, const pairset *ps, float threshold, const int64_t *offsets, const int64_t *ids,
                     comp_graph *g);

/* Min-label propagation until no label changes; *steps gets the number of steps. Collective. */
ma_status comp_label(MPI_Comm comm, comp_graph *g, int *steps);

/* Gathers every group on its label's rank: vertices sorted by (label, priority desc, id) and edges
 * sorted by (label, a, b). priority may be NULL (lowest id first). Collective. */
ma_status comp_gather(MPI_Comm comm, const comp_graph *g, const int64_t *ids, const double *priority,
                      comp_vertex **verts, int64_t *nv, comp_edge **edges, int64_t *ne);

/* Sends decisions to the rows' owners and applies them to keep/rep (indexed by local row), and to
 * rep_pos and sim when they are not NULL. Collective. */
ma_status comp_scatter(MPI_Comm comm, const comp_graph *g, const comp_result *res, int64_t n, uint8_t *keep,
                       int64_t *rep, int64_t *rep_pos, float *sim);

void comp_free(comp_graph *g);

#endif
