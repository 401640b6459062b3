/* Found pairs, distributed: rank r holds the pairs whose first id a falls in its id range (splitters
 * drawn from the ids), sorted by (a, b) and unique, so the ranks' pieces in rank order are the global
 * sorted list that /pairs holds. */
#ifndef MA_MPI_PAIRS_H
#define MA_MPI_PAIRS_H

#include <mpi.h>
#include <stdint.h>

#include "core/status.h"

/* A found pair: ids a < b, their output positions, the similarity, the first clustering that found it. */
typedef struct dd_pair {
  int64_t a, b, pa, pb;
  float sim;
  int16_t clustering;
} dd_pair;

/* A growable local list of pairs. */
typedef struct pairbuf {
  dd_pair *v;
  int64_t n, cap;
} pairbuf;

ma_status pairbuf_push(pairbuf *b, const dd_pair *p);
void pairbuf_free(pairbuf *b);

typedef struct pairset {
  dd_pair *v; /* this rank's pairs, sorted by (a, b), unique */
  int64_t n;
  int64_t *split; /* [nranks - 1]: rank r holds split[r-1] <= a < split[r] */
  int nranks;
} pairset;

/* Draws the splitters from every rank's ids (a regular sample of each rank's sorted ids). Collective. */
ma_status pairset_init(MPI_Comm comm, const int64_t *ids, int64_t n, pairset *ps);

/* The rank that holds pairs with first id a. Not collective. */
int pairset_owner(const pairset *ps, int64_t a);

/* Orders n records of elem bytes, each beginning with an int64 id a, by the rank that owns a (into
 * *out, malloc'd) and counts them per rank in counts[nranks] (zeroed by the caller): what
 * xchg_alltoallv takes. Not collective. */
ma_status pairset_route(const pairset *ps, const void *recs, int64_t n, size_t elem, int64_t *counts, void **out);

/* Sends each pair of add to its owner and merges it in; a pair found before keeps its first
 * clustering. add is emptied. Collective. */
ma_status pairset_merge(MPI_Comm comm, pairset *ps, pairbuf *add);

/* The first clustering that found (a, b), or -1; a must be owned here. Not collective. */
int pairset_find(const pairset *ps, int64_t a, int64_t b);

void pairset_free(pairset *ps);

#endif
