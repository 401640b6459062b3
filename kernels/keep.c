/* Keep rules for a group of near-duplicates. */
#include "kernels/keep.h"

#include <stdlib.h>
#include <string.h>

ma_status keep_greedy(int64_t nv, const keep_edge *e, int64_t ne, float threshold, uint8_t *keep, int64_t *rep)
{
  ma_status st = MA_OK;
  int64_t *start = NULL, *fill = NULL, *nbr = NULL;
  float *nsim = NULL;
  MA_ALLOC(start, nv + 1);
  MA_ALLOC(fill, nv + 1);
  MA_ALLOC(nbr, 2 * ne + 1);
  MA_ALLOC(nsim, 2 * ne + 1);
  /* Adjacency lists, keeping only the edges at or above the threshold. */
  for (int64_t k = 0; k < ne; k++)
    if (e[k].sim >= threshold) {
      start[e[k].u + 1]++;
      start[e[k].v + 1]++;
    }
  for (int64_t i = 0; i < nv; i++) start[i + 1] += start[i];
  memcpy(fill, start, (size_t)nv * sizeof *fill);
  for (int64_t k = 0; k < ne; k++) {
    if (e[k].sim < threshold) continue;
    nbr[fill[e[k].u]] = e[k].v;
    nsim[fill[e[k].u]++] = e[k].sim;
    nbr[fill[e[k].v]] = e[k].u;
    nsim[fill[e[k].v]++] = e[k].sim;
  }
  for (int64_t i = 0; i < nv; i++) {
    int64_t best = -1;
    float best_sim = 0;
    /* Kept vertices all come before i: they were visited first. */
    for (int64_t k = start[i]; k < start[i + 1]; k++) {
      int64_t j = nbr[k];
      if (j >= i || !keep[j]) continue;
      if (best < 0 || nsim[k] > best_sim || (nsim[k] == best_sim && j < best)) {
        best = j;
        best_sim = nsim[k];
      }
    }
    keep[i] = best < 0;
    rep[i] = best < 0 ? i : best;
  }
done:
  free(start);
  free(fill);
  free(nbr);
  free(nsim);
  return st;
}

void keep_one_per_group(int64_t nv, uint8_t *keep, int64_t *rep)
{
  for (int64_t i = 0; i < nv; i++) {
    keep[i] = i == 0;
    rep[i] = 0;
  }
}

void keep_greedy_ref(int64_t nv, const keep_edge *e, int64_t ne, float threshold, uint8_t *keep, int64_t *rep)
{
  for (int64_t i = 0; i < nv; i++) {
    keep[i] = 1;
    rep[i] = i;
    float best = 0;
    for (int64_t j = 0; j < i; j++) {
      if (!keep[j]) continue;
      for (int64_t k = 0; k < ne; k++) {
        int joins = (e[k].u == i && e[k].v == j) || (e[k].u == j && e[k].v == i);
        if (!joins || e[k].sim < threshold) continue;
        if (keep[i] || e[k].sim > best) {
          keep[i] = 0;
          rep[i] = j;
          best = e[k].sim;
        }
      }
    }
  }
}
