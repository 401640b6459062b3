/* The synthetic-embedding model behind `memaudit synth` (docs/synth.md): clustered unit vectors with
 * planted near-duplicate groups, and the samples of a "model trained on them" that regurgitates a
 * known fraction of its training rows. Every row is a pure function of the parameters and its index,
 * so any rank can make any row and the output does not depend on the number of ranks. */
#ifndef MA_SYNTH_MODEL_H
#define MA_SYNTH_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct synth_params {
  int64_t n;           /* rows */
  int64_t dim;         /* components per row */
  int64_t concepts;    /* clusters */
  double dup_fraction; /* share of the rows that are in near-duplicate groups, in [0, 1] */
  double dup_noise;    /* noise of a group member around its group's base vector, >= 0 */
  uint64_t seed;
  double spread;       /* scales every concept's spread sigma_c; 0 means 1 (the default model) */
} synth_params;

typedef struct synth_model synth_model;

/* Checks p (MA_ERR_USAGE on a bad value) and builds the model: concept centres and weights, and the
 * table of group sizes. Every rank builds the same model. Not collective. */
ma_status synth_model_build(const synth_params *p, synth_model **out);

/* Frees *m and sets *m = NULL; a NULL *m is fine. Not collective. */
void synth_model_free(synth_model **m);

/* Number of near-duplicate groups. Not collective. */
int64_t synth_model_groups(const synth_model *m);

/* Number of rows that belong to a group: exactly llround(dup_fraction * n). Not collective. */
int64_t synth_model_dup_items(const synth_model *m);

/* Bytes the model holds: O(concepts * dim) for the centres plus O(groups) for the group table.
 * Not collective. */
size_t synth_model_bytes(const synth_model *m);

/* Row i (0 <= i < n): a unit vector in out[0..dim), its group (-1 if none) and its concept; group and
 * concept may be NULL. Not collective. */
void synth_row(const synth_model *m, int64_t i, float *out, int64_t *group, int64_t *concept);

/* Generated sample j (0 <= j < count) of a model trained on the rows. Exactly
 * llround(regurgitate * count) of the count samples (regurgitate in [0, 1]), placed by a permutation,
 * are near-copies of a training row picked by hash; the others are new items of the concept of a
 * hashed training row. *source_id is that training row, *copied_from the copied row or -1. Another
 * gen_seed draws another set (a holdout) from the same concepts. Not collective. */
void synth_generated_row(const synth_model *m, uint64_t gen_seed, double regurgitate, int64_t count, int64_t j,
                         float *out, int64_t *source_id, int64_t *copied_from);

/* out[k] += scale * z_k for 0 <= k < n, where z_0, z_1, ... are the standard normals keyed by key
 * (|z| < 5.8). Scalar, AVX2 or AVX-512 as cpu_isa_active() says; the bits are the same on every path.
 * Not collective. */
void synth_add_normals(uint64_t key, float scale, float *out, int64_t n);

/* Scalar reference for synth_add_normals: the same bits. Not collective. */
void synth_add_normals_ref(uint64_t key, float scale, float *out, int64_t n);

#endif
