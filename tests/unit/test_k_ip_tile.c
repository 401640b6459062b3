/* ip_search and its handlers against the reference loops of kernels/ip_ref.c.
 *
 * Two kinds of data. "Dyadic" vectors have elements in {-4..4}/8, so every inner product is a multiple
 * of 1/64 computed exactly in float whatever the summation order: tuned and reference results must
 * match bit for bit, and the many exact ties check the tie rules. "Unit" vectors are random and
 * L2-normalised, as in real use, with some near-copies planted; they are compared with a tolerance,
 * and their thresholds are picked in gaps of the similarity distribution so the pair sets are exact. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/ip_handlers.h"
#include "kernels/ip_ref.h"
#include "kernels/ip_tile.h"

#define TOL 1e-5f

static uint64_t rng_state;

static double rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) * 0x1p-53;
}

/* float to IEEE half, round to nearest even; enough for the finite values and NaN used here. */
static uint16_t to_half(float f)
{
  if (isnan(f)) return 0x7e00;
  uint16_t sign = signbit(f) ? 0x8000 : 0;
  double a = fabs((double)f);
  if (a < 0x1p-14) return (uint16_t)(sign | (uint16_t)nearbyint(a * 0x1p24));
  int e;
  double m = nearbyint(frexp(a, &e) * 2048); /* a = m * 2^(e - 11), m in [1024, 2048] */
  if (m == 2048) {
    m = 1024;
    e++;
  }
  if (e - 1 + 15 >= 31) return (uint16_t)(sign | 0x7c00);
  return (uint16_t)(sign | (e - 1 + 15) << 10 | (int)(m - 1024));
}

/* What random_floats draws: unit vectors, elements in {-4..4}/8, or elements in {-1/2, 1/2} (all of
 * one norm, so a vector is most similar to its own copies). */
enum { UNIT = 0, DYADIC = 1, SIGNS = 2 };

/* n × d floats of the given kind. */
static float *random_floats(int64_t n, int64_t d, int kind)
{
  float *a = malloc((size_t)(n * d) * sizeof *a);
  assert_non_null(a);
  for (int64_t i = 0; i < n; i++) {
    double norm = 0;
    for (int64_t c = 0; c < d; c++) {
      if (kind == SIGNS)
        a[i * d + c] = rnd() < 0.5 ? -0.5f : 0.5f;
      else if (kind == DYADIC)
        a[i * d + c] = (float)((int)(rnd() * 9) - 4) / 8;
      else
        a[i * d + c] = (float)(rnd() - 0.5);
      norm += (double)a[i * d + c] * a[i * d + c];
    }
    if (kind == UNIT && norm > 0)
      for (int64_t c = 0; c < d; c++) a[i * d + c] = (float)(a[i * d + c] / sqrt(norm));
  }
  return a;
}

/* y row j becomes x row (7 j mod nx) plus a little noise, for j < ny / 4: pairs near 1. */
static void plant_near_copies(float *y, int64_t ny, const float *x, int64_t nx, int64_t d)
{
  for (int64_t j = 0; j < ny / 4; j++) {
    double norm = 0;
    for (int64_t c = 0; c < d; c++) {
      y[j * d + c] = x[(7 * j % nx) * d + c] + (float)(rnd() - 0.5) * 0.02f;
      norm += (double)y[j * d + c] * y[j * d + c];
    }
    for (int64_t c = 0; c < d; c++) y[j * d + c] = (float)(y[j * d + c] / sqrt(norm));
  }
}

/* A row set in the type under test, rows ld apart with NaN in the padding (never to be read). */
typedef struct {
  void *data;
  ma_rows r;
} rowset;

static rowset to_rowset(const float *a, int64_t n, int64_t d, int64_t ld, ma_dtype t)
{
  rowset s;
  size_t count = (size_t)(n * ld) + 1;
  if (t == MA_F16) {
    uint16_t *h = malloc(count * sizeof *h);
    assert_non_null(h);
    for (int64_t i = 0; i < n; i++)
      for (int64_t c = 0; c < ld; c++) h[i * ld + c] = to_half(c < d ? a[i * d + c] : NAN);
    s.data = h;
  } else {
    float *f = malloc(count * sizeof *f);
    assert_non_null(f);
    for (int64_t i = 0; i < n; i++)
      for (int64_t c = 0; c < ld; c++) f[i * ld + c] = c < d ? a[i * d + c] : NAN;
    s.data = f;
  }
  s.r = (ma_rows){s.data, t, n, ld};
  return s;
}

static int by_pair(const void *pa, const void *pb)
{
  const ip_pair *a = pa, *b = pb;
  if (a->a != b->a) return a->a < b->a ? -1 : 1;
  return (a->b > b->b) - (a->b < b->b);
}

/* All reference similarities of x against y. */
static float *all_sims(const ma_rows *x, const ma_rows *y, int64_t d)
{
  float *s = malloc((size_t)(x->rows * y->rows + 1) * sizeof *s);
  assert_non_null(s);
  for (int64_t i = 0; i < x->rows; i++)
    for (int64_t j = 0; j < y->rows; j++) s[i * y->rows + j] = ip_ref_dot(x, i, y, j, d);
  return s;
}

/* A threshold at or above target with no similarity of x·y or x·x within 1e-4 of it. */
static float gap_threshold(const ma_rows *x, const ma_rows *y, int64_t d, float target)
{
  float *sxy = all_sims(x, y, d), *sxx = all_sims(x, x, d);
  float t = target;
  for (;;) {
    int clear = 1;
    for (int64_t p = 0; p < x->rows * y->rows; p++) clear &= fabsf(sxy[p] - t) > 1e-4f;
    for (int64_t p = 0; p < x->rows * x->rows; p++) clear &= fabsf(sxx[p] - t) > 1e-4f;
    if (clear) break;
    t += 1e-4f;
  }
  free(sxy);
  free(sxx);
  return t;
}

typedef struct {
  int64_t nx, ny, d;
  ip_blocking b;
  ma_dtype tx, ty;
  int pad;    /* ld = d + pad */
  int dyadic; /* else unit vectors */
  int k;
} tcase;

static char case_name[256];

static void name_case(const tcase *c)
{
  snprintf(case_name, sizeof case_name,
           "nx %lld ny %lld d %lld b {%lld,%lld,%lld} x %s y %s pad %d %s k %d path %s",
           (long long)c->nx, (long long)c->ny, (long long)c->d, (long long)c->b.bm,
           (long long)c->b.bn, (long long)c->b.chunk, c->tx == MA_F16 ? "f16" : "f32",
           c->ty == MA_F16 ? "f16" : "f32", c->pad, c->dyadic ? "dyadic" : "unit", c->k,
           cpu_isa_name(cpu_isa_active()));
}

#define CHECK(cond)                                                               \
  do {                                                                            \
    if (!(cond)) fail_msg("%s:%d: %s failed in case %s", __FILE__, __LINE__, #cond, case_name); \
  } while (0)

static void check_argmax(const tcase *c, const ma_rows *x, const ma_rows *y)
{
  int64_t *best = malloc((size_t)c->nx * sizeof *best), *rbest = malloc((size_t)c->nx * sizeof *rbest);
  float *bs = malloc((size_t)c->nx * sizeof *bs), *rbs = malloc((size_t)c->nx * sizeof *rbs);
  ip_argmax_ctx ac;
  ip_argmax_init(&ac, x, y, c->d, best, bs);
  ip_handler h = ip_argmax_handler(&ac);
  CHECK(ip_search(x, y, c->d, &h, &c->b) == MA_OK);
  CHECK(ip_ref_argmax(x, y, c->d, rbest, rbs) == MA_OK);
  /* exact: the reference's row and similarity, bit for bit, on unit data too */
  for (int64_t i = 0; i < c->nx; i++) CHECK(best[i] == rbest[i] && memcmp(&bs[i], &rbs[i], sizeof *bs) == 0);
  free(best);
  free(rbest);
  free(bs);
  free(rbs);
}

static void check_topk(const tcase *c, const ma_rows *x, const ma_rows *y, float threshold)
{
  int k = c->k;
  size_t n = (size_t)(c->nx * k);
  int64_t *ids = malloc(n * sizeof *ids), *rids = malloc(n * sizeof *rids);
  float *sims = malloc(n * sizeof *sims), *rsims = malloc(n * sizeof *rsims);
  int64_t *cnt = malloc((size_t)c->nx * sizeof *cnt), *rcnt = malloc((size_t)c->nx * sizeof *rcnt);
  topk_ctx tc;
  topk_init(&tc, c->nx, k, ids, sims, cnt, threshold);
  ip_handler h = topk_handler(&tc);
  CHECK(ip_search(x, y, c->d, &h, &c->b) == MA_OK);
  CHECK(ip_ref_topk(x, y, c->d, k, NULL, 0, threshold, rids, rsims, rcnt) == MA_OK);
  for (int64_t i = 0; i < c->nx; i++) {
    CHECK(cnt[i] == rcnt[i]);
    for (int p = 0; p < k; p++) {
      int64_t q = i * k + p;
      if (c->dyadic || rids[q] < 0) {
        CHECK(ids[q] == rids[q] && sims[q] == rsims[q]);
      } else {
        CHECK(fabsf(sims[q] - rsims[q]) <= TOL);
        CHECK(ids[q] >= 0 && ids[q] < c->ny);
        CHECK(ip_ref_dot(x, i, y, ids[q], c->d) >= rsims[i * k + k - 1] - TOL);
        for (int p2 = 0; p2 < p; p2++) CHECK(ids[i * k + p2] != ids[q]);
      }
    }
  }
  free(ids);
  free(rids);
  free(sims);
  free(rsims);
  free(cnt);
  free(rcnt);
}

/* tuned pairs (sorted here) against the reference's: same (a, b) set, sims equal or within TOL. */
static void check_pairs(const tcase *c, ip_range_ctx *rc, ip_pair *ref, int64_t nref)
{
  qsort(rc->pairs, (size_t)rc->n, sizeof *rc->pairs, by_pair);
  CHECK(rc->n == nref);
  for (int64_t p = 0; p < nref; p++) {
    CHECK(rc->pairs[p].a == ref[p].a && rc->pairs[p].b == ref[p].b);
    CHECK(c->dyadic ? rc->pairs[p].sim == ref[p].sim : fabsf(rc->pairs[p].sim - ref[p].sim) <= TOL);
  }
}

static void check_range(const tcase *c, const ma_rows *x, const ma_rows *y, float threshold)
{
  for (int self = 0; self < 2; self++) {
    ip_range_ctx rc;
    ip_range_init(&rc, threshold, self);
    ip_handler h = ip_range_handler(&rc);
    ip_pair *ref;
    int64_t nref;
    if (self) {
      CHECK(ip_search_self(x, c->d, &h, &c->b) == MA_OK);
      CHECK(ip_ref_range(x, x, c->d, threshold, 1, &ref, &nref) == MA_OK);
    } else {
      CHECK(ip_search(x, y, c->d, &h, &c->b) == MA_OK);
      CHECK(ip_ref_range(x, y, c->d, threshold, 0, &ref, &nref) == MA_OK);
    }
    check_pairs(c, &rc, ref, nref);
    free(ref);
    ip_range_free(&rc);
    CHECK(rc.pairs == NULL && rc.n == 0);
  }
}

static void run_case(const tcase *c)
{
  name_case(c);
  int kind = c->dyadic ? DYADIC : UNIT;
  float *xf = random_floats(c->nx, c->d, kind), *yf = random_floats(c->ny, c->d, kind);
  if (!c->dyadic) plant_near_copies(yf, c->ny, xf, c->nx, c->d);
  rowset x = to_rowset(xf, c->nx, c->d, c->d + c->pad, c->tx);
  rowset y = to_rowset(yf, c->ny, c->d, c->d + c->pad, c->ty);
  float threshold;
  if (c->dyadic) /* one of the similarities itself: pairs sit exactly on the threshold */
    threshold = ip_ref_dot(&x.r, c->nx / 2, &y.r, c->ny / 3, c->d);
  else
    threshold = gap_threshold(&x.r, &y.r, c->d, 0.1f);
  check_argmax(c, &x.r, &y.r);
  check_topk(c, &x.r, &y.r, threshold);
  check_range(c, &x.r, &y.r, threshold);
  free(x.data);
  free(y.data);
  free(xf);
  free(yf);
}

/* Edge sizes and dimensions, every blocking, every type combination, dyadic data; every other case
 * with one workspace kept across them all (its buffers grow, and are reused by smaller searches). */
static void test_edges_exact(void **state)
{
  (void)state;
  ip_workspace ws = {0};
  static const int64_t dims[] = {1, 3, 17, 129};
  static const int64_t sizes[][2] = {{1, 1}, {1, 50}, {50, 1}, {70, 130}, {130, 70}, {33, 33}};
  static const ip_blocking blockings[] = {{0, 0, 0, NULL, NULL}, {3, 5, 0, NULL, NULL}, {5, 3, 7, NULL, NULL}, {16, 64, 0, NULL, NULL}, {1, 1, 0, NULL, NULL}};
  int n = 0;
  rng_state = 12345;
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
      for (size_t bi = 0; bi < sizeof blockings / sizeof *blockings; bi++, n++) {
        tcase c = {sizes[si][0], sizes[si][1], dims[di], blockings[bi],
                   (n % 4) & 1 ? MA_F16 : MA_F32, (n % 4) & 2 ? MA_F16 : MA_F32,
                   n % 3 == 0 ? 3 : 0, 1, 1 + n % 7};
        if (n % 2) c.b.ws = &ws;
        run_case(&c);
      }
  ip_workspace_free(&ws);
}

/* Sizes that cross the default blocks (256 x rows, 1024 y rows) in both loop orders. */
static void test_default_blocks_exact(void **state)
{
  (void)state;
  rng_state = 777;
  tcase a = {257, 1030, 17, {0, 0, 0, NULL, NULL}, MA_F32, MA_F16, 0, 1, 10};
  tcase b = {1100, 300, 5, {0, 0, 0, NULL, NULL}, MA_F16, MA_F32, 2, 1, 3};
  run_case(&a);
  run_case(&b);
}

/* Realistic data: unit vectors at D = 256 and 129, float32 and float16. */
static void test_unit_vectors(void **state)
{
  (void)state;
  rng_state = 4242;
  tcase cases[] = {
      {300, 700, 256, {0, 0, 0, NULL, NULL}, MA_F32, MA_F32, 0, 0, 10},
      {300, 700, 256, {32, 96, 0, NULL, NULL}, MA_F16, MA_F16, 0, 0, 10},
      {200, 150, 129, {7, 300, 50, NULL, NULL}, MA_F32, MA_F16, 5, 0, 4},
      {150, 200, 129, {64, 17, 0, NULL, NULL}, MA_F16, MA_F32, 0, 0, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i]);
}

/* Every instruction-set path this CPU can force gives the reference's results (the row scans differ by
 * path). */
static void test_every_path(void **state)
{
  (void)state;
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    rng_state = 99;
    tcase cases[] = {
        {70, 130, 17, {3, 5, 0, NULL, NULL}, MA_F32, MA_F16, 3, 1, 5},
        {130, 70, 3, {0, 0, 0, NULL, NULL}, MA_F16, MA_F32, 0, 1, 1},
        {100, 200, 129, {16, 64, 0, NULL, NULL}, MA_F32, MA_F32, 0, 0, 10},
        {90, 300, 256, {0, 0, 0, NULL, NULL}, MA_F16, MA_F16, 0, 0, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) run_case(&cases[i]);
  }
  cpu_isa_force(cpu_isa_hardware());
}

/* Hand-made tiles straight to the handlers, on every path against the scalar one: row lengths 1..97
 * (vector blocks and every tail), NaN, -0 and +0, -inf, ties, and range offsets `from` anywhere in a
 * row. For argmax, x = (1) and y_j = (s_j) in one dimension, so the exact rescoring sees the tile's
 * values themselves; and again with a band of 2, which makes most columns candidates. */
enum { SCAN_LEN = 97, SCAN_ROWS = 6, SCAN_K = 4 };

typedef struct {
  int64_t best[SCAN_ROWS], ids[SCAN_ROWS * SCAN_K], count[SCAN_ROWS], npairs;
  float best_sim[SCAN_ROWS], sims[SCAN_ROWS * SCAN_K];
  ip_pair pairs[SCAN_ROWS * SCAN_LEN];
} scan_result;

static void scan_tile(const float *tile, int64_t nj, int64_t i0, int64_t j0, scan_result *out)
{
  static const float one = 1;
  ma_rows x = {&one, MA_F32, 1, 1}, y = {tile, MA_F32, nj, 1};
  memset(out, 0, sizeof *out);
  for (int64_t i = 0; i < SCAN_ROWS; i++) { /* argmax of each row alone: its values are y */
    y.data = tile + i * SCAN_LEN;
    ip_argmax_ctx ac;
    ip_argmax_init(&ac, &x, &y, 1, &out->best[i], &out->best_sim[i]);
    ip_handler h = ip_argmax_handler(&ac);
    CHECK(h.tile(h.ctx, 0, 0, 1, nj, tile + i * SCAN_LEN, SCAN_LEN) == MA_OK);
    int64_t rb;
    float rs;
    CHECK(ip_ref_argmax(&x, &y, 1, &rb, &rs) == MA_OK);
    CHECK(rb == out->best[i] && memcmp(&rs, &out->best_sim[i], sizeof rs) == 0);
    /* a band as wide as a screened tile's, and tile values up to 0.9 from the exact ones (so the tile's
     * maximum is often not the winner): most columns are candidates, collected 32 at a time */
    float noisy[SCAN_LEN];
    for (int64_t j = 0; j < nj; j++) noisy[j] = tile[i * SCAN_LEN + j] + (float)(1.8 * (rnd() - 0.5));
    int64_t wb;
    float ws;
    ip_argmax_init(&ac, &x, &y, 1, &wb, &ws);
    ac.band = 1.0f;
    CHECK(h.tile(h.ctx, 0, 0, 1, nj, noisy, SCAN_LEN) == MA_OK);
    CHECK(rb == wb && memcmp(&rs, &ws, sizeof rs) == 0);
  }
  topk_ctx tc;
  topk_init(&tc, SCAN_ROWS, SCAN_K, out->ids, out->sims, out->count, 0.25f);
  ip_handler h = topk_handler(&tc);
  CHECK(h.tile(h.ctx, 0, 0, SCAN_ROWS, nj, tile, SCAN_LEN) == MA_OK);
  ip_range_ctx rc;
  ip_range_init(&rc, 0.25f, 1);
  h = ip_range_handler(&rc);
  CHECK(h.tile(h.ctx, i0, j0, SCAN_ROWS, nj, tile, SCAN_LEN) == MA_OK);
  CHECK(rc.n <= SCAN_ROWS * SCAN_LEN);
  out->npairs = rc.n;
  memcpy(out->pairs, rc.pairs, (size_t)rc.n * sizeof *rc.pairs);
  ip_range_free(&rc);
}

static void test_row_scans(void **state)
{
  (void)state;
  static const float values[] = {0.25f, 0.5f, -0.0f, 0.0f, -INFINITY, 0.75f, 0.2499999f, -1.0f};
  float tile[SCAN_ROWS * SCAN_LEN];
  rng_state = 2024;
  for (int rep = 0; rep < 40; rep++) {
    for (int p = 0; p < SCAN_ROWS * SCAN_LEN; p++) {
      double u = rnd();
      tile[p] = u < 0.05 ? NAN : values[(int)(rnd() * 8)];
    }
    for (int64_t nj = 1; nj <= SCAN_LEN; nj++) {
      int64_t i0 = (int64_t)(rnd() * 120), j0 = (int64_t)(rnd() * 120); /* range from = i0 + i + 1 - j0 */
      scan_result ref, got;
      cpu_isa_force(CPU_ISA_SCALAR);
      snprintf(case_name, sizeof case_name, "row scans, rep %d, nj %lld, scalar", rep, (long long)nj);
      scan_tile(tile, nj, i0, j0, &ref);
      for (int isa = CPU_ISA_AVX2; isa <= (int)cpu_isa_hardware(); isa++) {
        cpu_isa_force((cpu_isa)isa);
        snprintf(case_name, sizeof case_name, "row scans, rep %d, nj %lld, %s", rep, (long long)nj,
                 cpu_isa_name((cpu_isa)isa));
        scan_tile(tile, nj, i0, j0, &got);
        CHECK(memcmp(got.best, ref.best, sizeof ref.best) == 0);
        CHECK(memcmp(got.best_sim, ref.best_sim, sizeof ref.best_sim) == 0);
        CHECK(memcmp(got.ids, ref.ids, sizeof ref.ids) == 0 && memcmp(got.sims, ref.sims, sizeof ref.sims) == 0);
        CHECK(memcmp(got.count, ref.count, sizeof ref.count) == 0);
        CHECK(got.npairs == ref.npairs);
        qsort(got.pairs, (size_t)got.npairs, sizeof *got.pairs, by_pair);
        qsort(ref.pairs, (size_t)ref.npairs, sizeof *ref.pairs, by_pair);
        for (int64_t q = 0; q < ref.npairs; q++)
          CHECK(got.pairs[q].a == ref.pairs[q].a && got.pairs[q].b == ref.pairs[q].b &&
                got.pairs[q].sim == ref.pairs[q].sim);
      }
    }
  }
  cpu_isa_force(cpu_isa_hardware());
}

/* Exact duplicates: argmax goes to the lower y row; top-k orders equal similarities by id, also when
 * the ids run against the row order. */
static void test_exact_ties(void **state)
{
  (void)state;
  enum { NX = 20, NY = 40, D = 19, K = 6 };
  rng_state = 5;
  float *xf = random_floats(NX, D, SIGNS), *yf = random_floats(NY, D, SIGNS);
  for (int j = 20; j < NY; j++) memcpy(yf + j * D, yf + (j % 4) * D, D * sizeof *yf);
  memcpy(yf + 19 * D, yf + 3 * D, D * sizeof *yf);
  memcpy(xf, yf + 2 * D, D * sizeof *xf); /* x row 0 = y rows 2, 22, 26, ... */
  ma_rows x = {xf, MA_F32, NX, D}, y = {yf, MA_F32, NY, D};
  static const ip_blocking bl[] = {{0, 0, 0, NULL, NULL}, {3, 5, 0, NULL, NULL}, {4, 7, 9, NULL, NULL}};
  int64_t rev[NY];
  for (int j = 0; j < NY; j++) rev[j] = 1000 - j;
  for (size_t b = 0; b < 3; b++) {
    snprintf(case_name, sizeof case_name, "ties, blocking %zu", b);
    int64_t best[NX];
    float bs[NX];
    ip_argmax_ctx ac;
    ip_argmax_init(&ac, &x, &y, D, best, bs);
    ip_handler h = ip_argmax_handler(&ac);
    CHECK(ip_search(&x, &y, D, &h, &bl[b]) == MA_OK);
    for (int i = 0; i < NX; i++) CHECK(best[i] < 20 && best[i] != 19);
    CHECK(best[0] == 2);

    for (int reversed = 0; reversed < 2; reversed++) {
      int64_t ids[NX * K], rids[NX * K];
      float sims[NX * K], rsims[NX * K];
      topk_ctx tc;
      topk_init(&tc, NX, K, ids, sims, NULL, 0);
      tc.y_ids = reversed ? rev : NULL;
      h = topk_handler(&tc);
      CHECK(ip_search(&x, &y, D, &h, &bl[b]) == MA_OK);
      CHECK(ip_ref_topk(&x, &y, D, K, tc.y_ids, 0, 0, rids, rsims, NULL) == MA_OK);
      for (int q = 0; q < NX * K; q++) {
        CHECK(ids[q] == rids[q]);
        CHECK(sims[q] == rsims[q]);
      }
      /* every y row has at least one copy, so each similarity comes as a run of equal ones */
      for (int i = 0; i < NX; i++)
        for (int p = 1; p < K; p++)
          if (sims[i * K + p] == sims[i * K + p - 1])
            CHECK(ids[i * K + p] > ids[i * K + p - 1]);
      CHECK(ids[0] == (reversed ? 1000 - 38 : 2));
    }
  }
  free(xf);
  free(yf);
}

/* y searched in chunks (ids by id_offset, then by y_ids) gathers the same lists and counts as one
 * reference pass; topk_merge of lists over two halves of y equals the list over all of y. */
static void test_topk_chunks_and_merge(void **state)
{
  (void)state;
  enum { NX = 37, NY = 301, D = 24, K = 7, H = 150 };
  rng_state = 31;
  float *xf = random_floats(NX, D, DYADIC), *yf = random_floats(NY, D, DYADIC);
  ma_rows x = {xf, MA_F32, NX, D}, y = {yf, MA_F32, NY, D};
  snprintf(case_name, sizeof case_name, "chunks and merge");
  float thr = 0.25f;
  int64_t rids[NX * K], rcnt[NX], ids[NX * K], cnt[NX], yids[NY];
  float rsims[NX * K], sims[NX * K];
  for (int j = 0; j < NY; j++) yids[j] = 5000 + j;
  for (int by_ids = 0; by_ids < 2; by_ids++) {
    CHECK(ip_ref_topk(&x, &y, D, K, by_ids ? yids : NULL, 0, thr, rids, rsims, rcnt) == MA_OK);
    topk_ctx tc;
    topk_init(&tc, NX, K, ids, sims, cnt, thr);
    ip_handler h = topk_handler(&tc);
    static const int64_t cuts[] = {0, 100, 101, 250, NY};
    for (int c = 0; c + 1 < 5; c++) {
      ma_rows part = {yf + cuts[c] * D, MA_F32, cuts[c + 1] - cuts[c], D};
      if (by_ids)
        tc.y_ids = yids + cuts[c];
      else
        tc.id_offset = cuts[c];
      ip_blocking b = {4, 9, 0, NULL, NULL};
      CHECK(ip_search(&x, &part, D, &h, &b) == MA_OK);
    }
    CHECK(memcmp(ids, rids, sizeof ids) == 0 && memcmp(sims, rsims, sizeof sims) == 0);
    CHECK(memcmp(cnt, rcnt, sizeof cnt) == 0);
  }

  /* halves [0, H) and [H, NY); the second also with a list longer than its rows (empty slots) */
  CHECK(ip_ref_topk(&x, &y, D, K, NULL, 0, thr, rids, rsims, NULL) == MA_OK);
  ma_rows lo = {yf, MA_F32, H, D}, hi = {yf + H * D, MA_F32, NY - H, D}, tiny = {yf, MA_F32, 3, D};
  int64_t ia[NX * K], ib[NX * K], out_id[K];
  float sa[NX * K], sb[NX * K], out_s[K];
  CHECK(ip_ref_topk(&x, &lo, D, K, NULL, 0, thr, ia, sa, NULL) == MA_OK);
  CHECK(ip_ref_topk(&x, &hi, D, K, NULL, H, thr, ib, sb, NULL) == MA_OK);
  for (int i = 0; i < NX; i++) {
    topk_merge(K, ia + i * K, sa + i * K, ib + i * K, sb + i * K, out_id, out_s);
    CHECK(memcmp(out_id, rids + i * K, sizeof out_id) == 0);
    CHECK(memcmp(out_s, rsims + i * K, sizeof out_s) == 0);
    topk_merge(K, ib + i * K, sb + i * K, ia + i * K, sa + i * K, out_id, out_s);
    CHECK(memcmp(out_id, rids + i * K, sizeof out_id) == 0);
  }
  /* 3 rows against 3 rows of other ids: 6 entries, then empty slots */
  ma_rows tiny2 = {yf + 3 * D, MA_F32, 3, D};
  int64_t r6[NX * K];
  float s6[NX * K];
  ma_rows six = {yf, MA_F32, 6, D};
  CHECK(ip_ref_topk(&x, &tiny, D, K, NULL, 0, thr, ia, sa, NULL) == MA_OK);
  CHECK(ip_ref_topk(&x, &tiny2, D, K, NULL, 3, thr, ib, sb, NULL) == MA_OK);
  CHECK(ip_ref_topk(&x, &six, D, K, NULL, 0, thr, r6, s6, NULL) == MA_OK);
  for (int i = 0; i < NX; i++) {
    topk_merge(K, ia + i * K, sa + i * K, ib + i * K, sb + i * K, out_id, out_s);
    CHECK(memcmp(out_id, r6 + i * K, sizeof out_id) == 0);
    CHECK(memcmp(out_s, s6 + i * K, sizeof out_s) == 0);
    CHECK(out_id[6] == -1 && out_s[6] == -INFINITY);
  }
  free(xf);
  free(yf);
}

/* A handler that counts how often each (i, j) is handed over. */
typedef struct {
  int64_t ny;
  int *seen;
  int64_t tiles, fail_after;
} cover_ctx;

static ma_status cover_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj,
                            const float *s, int64_t lds)
{
  cover_ctx *c = ctx;
  (void)s;
  if (lds < nj) return ma_fail(MA_ERR_DATA, "lds %lld < nj %lld", (long long)lds, (long long)nj);
  if (c->fail_after >= 0 && c->tiles == c->fail_after) return ma_fail(MA_ERR_DATA, "cover: stop");
  c->tiles++;
  for (int64_t i = 0; i < mi; i++)
    for (int64_t j = 0; j < nj; j++) c->seen[(i0 + i) * c->ny + j0 + j]++;
  return MA_OK;
}

/* Each pair is in exactly one tile; ip_search_self gives each pair with j > i in exactly one tile, and
 * no pair with j <= i in more than one. */
static void test_tile_cover(void **state)
{
  (void)state;
  enum { N = 53, M = 29, D = 4 };
  float xf[N * D] = {0};
  int seen[N * N];
  static const ip_blocking bl[] = {{0, 0, 0, NULL, NULL}, {3, 5, 0, NULL, NULL}, {5, 3, 4, NULL, NULL}, {7, 7, 0, NULL, NULL}, {60, 1, 0, NULL, NULL}};
  snprintf(case_name, sizeof case_name, "tile cover");
  for (size_t b = 0; b < sizeof bl / sizeof *bl; b++) {
    for (int sh = 0; sh < 2; sh++) { /* x with more rows than y, then fewer */
      ma_rows x = {xf, MA_F32, sh ? N : M, D}, y = {xf, MA_F32, sh ? M : N, D};
      memset(seen, 0, sizeof seen);
      cover_ctx cc = {y.rows, seen, 0, -1};
      ip_handler h = {cover_tile, &cc};
      CHECK(ip_search(&x, &y, D, &h, &bl[b]) == MA_OK);
      for (int p = 0; p < x.rows * y.rows; p++) CHECK(seen[p] == 1);
    }
    memset(seen, 0, sizeof seen);
    ma_rows x = {xf, MA_F32, N, D};
    cover_ctx cc = {N, seen, 0, -1};
    ip_handler h = {cover_tile, &cc};
    CHECK(ip_search_self(&x, D, &h, &bl[b]) == MA_OK);
    for (int i = 0; i < N; i++)
      for (int j = 0; j < N; j++) CHECK(j > i ? seen[i * N + j] == 1 : seen[i * N + j] <= 1);
  }
}

static ma_status never_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj,
                            const float *s, int64_t lds)
{
  (void)ctx, (void)i0, (void)j0, (void)mi, (void)nj, (void)s, (void)lds;
  return ma_fail(MA_ERR_DATA, "never_tile was called");
}

/* Bad arguments, empty inputs, a failing handler. */
static void test_errors(void **state)
{
  (void)state;
  float xf[40] = {0};
  int seen[100];
  ma_rows x = {xf, MA_F32, 10, 4}, empty = {NULL, MA_F32, 0, 4}, bad;
  ip_handler never = {never_tile, NULL};
  snprintf(case_name, sizeof case_name, "errors");
  CHECK(ip_search(&x, &empty, 4, &never, NULL) == MA_OK);
  CHECK(ip_search(&empty, &x, 4, &never, NULL) == MA_OK);
  CHECK(ip_search_self(&empty, 4, &never, NULL) == MA_OK);
  ma_rows one = {xf, MA_F32, 1, 4};
  CHECK(ip_search_self(&one, 4, &never, NULL) == MA_OK); /* no pair j > i */
  CHECK(ip_search(&x, &x, 0, &never, NULL) == MA_ERR_USAGE);
  CHECK(ip_search(&x, &x, 5, &never, NULL) == MA_ERR_USAGE); /* ld 4 < d */
  CHECK(ip_search(&x, NULL, 4, &never, NULL) == MA_ERR_USAGE);
  CHECK(ip_search(&x, &x, 4, NULL, NULL) == MA_ERR_USAGE);
  bad = x;
  bad.data = NULL;
  CHECK(ip_search(&x, &bad, 4, &never, NULL) == MA_ERR_USAGE);
  bad = x;
  bad.type = (ma_dtype)7;
  CHECK(ip_search(&bad, &x, 4, &never, NULL) == MA_ERR_USAGE);
  bad = x;
  bad.rows = -1;
  CHECK(ip_search(&bad, &x, 4, &never, NULL) == MA_ERR_USAGE);
  ip_blocking neg = {-1, 4, 0, NULL, NULL};
  CHECK(ip_search(&x, &x, 4, &never, &neg) == MA_ERR_USAGE);
  CHECK(ip_search(&x, &x, 4, &never, NULL) == MA_ERR_DATA);

  /* the search stops at the handler's first failure and returns its code */
  cover_ctx cc = {10, seen, 0, 2};
  ip_handler h = {cover_tile, &cc};
  ip_blocking b = {3, 3, 0, NULL, NULL};
  CHECK(ip_search(&x, &x, 4, &h, &b) == MA_ERR_DATA);
  CHECK(cc.tiles == 2);

  int64_t ids[10];
  float sims[10];
  topk_ctx tc;
  topk_init(&tc, 10, 1, ids, sims, NULL, 0);
  tc.k = 0;
  h = topk_handler(&tc);
  CHECK(ip_search(&x, &x, 4, &h, NULL) == MA_ERR_USAGE);
  ma_err_clear();
}

/* y row b, changed one float step at a time in component c until <x_i, y_b> is exactly `want` (the
 * exact dot moves by about |x_c| ulp(y_bc) per step, far less than a float ulp of the result, so it
 * cannot jump over it). */
static void steer(const float *x, float *yb, int64_t d, float want)
{
  int64_t c = 0;
  for (int64_t k = 1; k < d; k++)
    if (fabsf(x[k]) > fabsf(x[c])) c = k;
  ma_rows xr = {x, MA_F32, 1, d}, yr = {yb, MA_F32, 1, d};
  for (int step = 0; step < 100000; step++) {
    float now = ip_ref_dot(&xr, 0, &yr, 0, d);
    if (now == want) return;
    yb[c] = nextafterf(yb[c], (now < want) == (x[c] > 0) ? INFINITY : -INFINITY);
  }
  fail_msg("steer: could not reach %a", (double)want);
}

/* The exact argmax gives the same bits wherever a row falls in a tile, whatever the blocking and the
 * number of rows searched with it (each was once a source of different SGEMM rounding), on every path,
 * and equals the brute-force exact reference, near-ties included: x rows 690..699 have a best centroid
 * and a rival exactly 1 float ulp above or below it (the higher wins), and an exact copy of the winner at
 * a higher and at a lower index (the lowest index wins). */
static void test_argmax_exact_anywhere(void **state)
{
  (void)state;
  enum { NX = 700, NY = 96, D = 256, NT = 10 };
  const int64_t rows[] = {1, 3, 255, 256, 257, 700};
  static const ip_blocking bl[] = {{0, 0, 0, NULL, NULL}, {3, 5, 0, NULL, NULL}, {16, 64, 0, NULL, NULL}, {1, 1, 0, NULL, NULL}, {64, 7, 14, NULL, NULL}};
  rng_state = 99;
  float *x = random_floats(NX, D, UNIT), *y = random_floats(NY, D, UNIT);
  for (int t = 0; t < NT; t++) {
    float *xi = x + (NX - NT + t) * D, *a = y + (2 * t + 40) * D, *r = y + (2 * t + 41) * D;
    for (int64_t c = 0; c < D; c++) xi[c] = a[c] + (float)(rnd() - 0.5) * 0.05f; /* a is x's nearest */
    double n = 0;
    for (int64_t c = 0; c < D; c++) n += (double)xi[c] * xi[c];
    for (int64_t c = 0; c < D; c++) xi[c] = (float)(xi[c] / sqrt(n));
    ma_rows xr = {xi, MA_F32, 1, D}, ar = {a, MA_F32, 1, D};
    float sa = ip_ref_dot(&xr, 0, &ar, 0, D);
    memcpy(r, a, D * sizeof *r);
    steer(xi, r, D, nextafterf(sa, t % 2 ? -INFINITY : INFINITY)); /* rival 1 ulp above (even t) or below */
    const float *win = t % 2 ? a : r;
    memcpy(y + (80 + t) * D, win, D * sizeof *y); /* an exact tie at a higher index */
    if (t < 4) memcpy(y + (2 + t) * D, win, D * sizeof *y); /* and, for some, at a lower one */
  }
  ma_rows all = {x, MA_F32, NX, D}, yr = {y, MA_F32, NY, D};
  int64_t rbest[NX], best[NX];
  float rsim[NX], sim[NX];
  CHECK(ip_ref_argmax(&all, &yr, D, rbest, rsim) == MA_OK);
  for (int t = 0; t < NT; t++) {
    int64_t i = NX - NT + t, want = t % 2 ? 2 * t + 40 : 2 * t + 41;
    if (t < 4) want = 2 + t;
    snprintf(case_name, sizeof case_name, "near tie %d", t);
    CHECK(rbest[i] == want);
  }
  for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
    cpu_isa_force((cpu_isa)isa);
    for (size_t b = 0; b < sizeof bl / sizeof *bl; b++)
      for (size_t t = 0; t < sizeof rows / sizeof *rows; t++) {
        /* the last rows[t] rows of x, so that each sits at a different place in its tile each time */
        snprintf(case_name, sizeof case_name, "anywhere: %s, blocking %zu, %lld rows", cpu_isa_name((cpu_isa)isa), b,
                 (long long)rows[t]);
        int64_t off = NX - rows[t];
        ma_rows xr = {x + off * D, MA_F32, rows[t], D};
        ip_argmax_ctx am;
        ip_argmax_init(&am, &xr, &yr, D, best, sim);
        ip_handler h = ip_argmax_handler(&am);
        CHECK(ip_search(&xr, &yr, D, &h, &bl[b]) == MA_OK);
        CHECK(memcmp(best, rbest + off, (size_t)rows[t] * sizeof *best) == 0);
        CHECK(memcmp(sim, rsim + off, (size_t)rows[t] * sizeof *sim) == 0);
        CHECK(am.rescored >= rows[t]);
      }
  }
  cpu_isa_force(cpu_isa_hardware());
  free(x);
  free(y);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_argmax_exact_anywhere),
      cmocka_unit_test(test_row_scans),
      cmocka_unit_test(test_edges_exact),
      cmocka_unit_test(test_default_blocks_exact),
      cmocka_unit_test(test_unit_vectors),
      cmocka_unit_test(test_every_path),
      cmocka_unit_test(test_exact_ties),
      cmocka_unit_test(test_topk_chunks_and_merge),
      cmocka_unit_test(test_tile_cover),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
