/* int8 screening (kernels/quant.h): the quantisation's vector versions against q8_quantize, byte for byte;
 * the integer GEMM (oneDNN when built with it) against q8_gemm_ref at the extreme values that saturate
 * 16-bit pair sums; the bound |exact - screened| <= band on every entry of every tile, on adversarial
 * rows; and the screened searches (argmax, top-k with counts, range pairs, self-search) against the
 * reference searches bit for bit, with exact duplicates, ties and thresholds placed exactly on
 * similarities, float32 and float16, several blockings; the fused tile of memaudit's AVX2 GEMM
 * (q8_tile) against the reference GEMM and conversion, every bit, at every offset and tail. Every test
 * runs for each integer GEMM this build and CPU have (the reference, memaudit's AVX2 one, oneDNN) on
 * each instruction-set path (ctest runs the binary a second time with oneDNN held to AVX2,
 * DNNL_MAX_CPU_ISA=AVX2, and MEMAUDIT_Q8_GEMM=onednn: that GEMM only). */
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
#include "kernels/f16.h"
#include "kernels/ip_handlers.h"
#include "kernels/ip_ref.h"
#include "kernels/quant.h"
#include "kernels/topk_exact.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double rnd(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (double)(rng_state >> 11) * 0x1p-53;
}

static void normalise(float *v, int64_t d)
{
  double n = 0;
  for (int64_t c = 0; c < d; c++) n += (double)v[c] * v[c];
  if (n > 0)
    for (int64_t c = 0; c < d; c++) v[c] = (float)(v[c] / sqrt(n));
}

/* Adversarial row kinds for the quantisation and the bound. */
static void fill_row(float *v, int64_t d, int kind)
{
  for (int64_t c = 0; c < d; c++) {
    switch (kind % 8) {
    case 0: v[c] = (float)(rnd() - 0.5); break;                     /* plain */
    case 1: v[c] = c == 0 ? 1.0f : 1e-3f * (float)(rnd() - 0.5); break; /* one spike: a coarse scale */
    case 2: v[c] = c % 2 ? 1.0f : -1.0f; break;                     /* +-amax everywhere */
    case 3: v[c] = (float)((double)((int64_t)(rnd() * 255) - 127) + 0.5) / 127.0f; break; /* half steps */
    case 4: v[c] = 1.0f; break;                                     /* constant */
    case 5: v[c] = (float)(rnd() - 0.5) * 1e-30f; break;             /* tiny values */
    case 6: v[c] = c < 3 ? (float)(rnd() - 0.5) : 0.0f; break;       /* mostly zero */
    default: v[c] = (float)pow(rnd() - 0.5, 3); break;              /* heavy tails */
    }
  }
  normalise(v, d);
}

typedef struct {
  void *data;
  ma_rows r;
} rowset;

/* n unit rows of type t: around a centre (many high similarities) or of the adversarial kinds. */
static rowset make_rows(int64_t n, int64_t d, ma_dtype t, const float *centre, int adversarial)
{
  float *f = malloc((size_t)(n * d + 1) * sizeof *f);
  assert_non_null(f);
  for (int64_t i = 0; i < n; i++) {
    if (adversarial) {
      fill_row(f + i * d, d, (int)i);
    } else {
      for (int64_t c = 0; c < d; c++) f[i * d + c] = (float)(rnd() - 0.5) + (centre ? 2 * centre[c] : 0);
      normalise(f + i * d, d);
    }
  }
  rowset s;
  if (t == MA_F16) {
    uint16_t *h = malloc((size_t)(n * d + 1) * sizeof *h);
    assert_non_null(h);
    f32_to_f16(f, h, n * d);
    free(f);
    s.data = h;
  } else {
    s.data = f;
  }
  s.r = (ma_rows){s.data, t, n, d};
  return s;
}

static void copy_row(rowset *dst, int64_t i, const rowset *src, int64_t j, int64_t d)
{
  size_t e = dst->r.type == MA_F16 ? 2 : 4;
  memcpy((char *)dst->data + (size_t)(i * d) * e, (const char *)src->data + (size_t)(j * d) * e, (size_t)d * e);
}

static void test_quantize(void **state)
{
  (void)state;
  const int64_t dims[] = {1, 7, 8, 31, 32, 33, 100, 256, 300};
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
    int64_t d = dims[di];
    float *v = malloc((size_t)d * sizeof *v);
    int8_t *q = malloc((size_t)d);
    uint8_t *u = malloc((size_t)d);
    for (int kind = 0; kind < 24; kind++) {
      fill_row(v, d, kind);
      if (kind == 16) v[d / 2] = NAN;
      if (kind == 17) v[0] = INFINITY;
      for (int levels = 63; levels <= 127; levels += 64) {
        float sc, eps, norm, qn;
        q8_quantize(v, d, levels, q, &sc, &eps, &norm, &qn);
        float f2[4], f1[4] = {sc, eps, norm, qn};
        q8_quantize(v, d, levels, NULL, &f2[0], &f2[1], &f2[2], &f2[3]); /* the vector version */
        assert_memory_equal(f1, f2, sizeof f1);
        for (int off = 0; off <= levels + 1; off += levels + 1) {
          q8_quantize_q(v, d, levels, off, u);
          for (int64_t c = 0; c < d; c++) assert_int_equal(u[c], (uint8_t)(q[c] + off));
        }
        if (kind == 16 || kind == 17) {
          assert_true(isinf(eps));
          continue;
        }
        /* eps, norm and qnorm are upper bounds, and close ones */
        double e2 = 0, n2 = 0, q2 = 0;
        for (int64_t c = 0; c < d; c++) {
          assert_true(q[c] >= -levels && q[c] <= levels);
          double r = (double)v[c] - (double)sc * q[c];
          e2 += r * r;
          n2 += (double)v[c] * v[c];
          q2 += (double)sc * q[c] * (double)sc * q[c];
        }
        /* within the sums' error allowance (kernels/quant.c: sqrt_up) */
        assert_true(eps >= sqrt(e2) && eps <= sqrt(e2) * (1 + (double)(d + 8) * 0x1p-23) + 1e-30);
        assert_true(norm >= sqrt(n2) && qn >= sqrt(q2));
        /* the error of rounding to nearest: at most half a step per element */
        assert_true(sqrt(e2) <= 0.5 * sc * sqrt((double)d) * (1 + 1e-6));
      }
    }
    free(v);
    free(q);
    free(u);
  }
}

/* One integer GEMM against the reference at a shape, with the extreme values of both sides' levels. */
static void gemm_case(int64_t m, int64_t n, int64_t d, int pattern)
{
  int lx = q8_levels_x(), ly = q8_levels_y(), off = lx + 1;
  uint8_t *a = malloc((size_t)(m * d));
  int8_t *b = malloc((size_t)(n * d));
  int32_t *co = malloc((size_t)n * sizeof *co), *c = malloc((size_t)(m * n) * sizeof *c),
          *r = malloc((size_t)(m * n) * sizeof *r);
  for (int64_t i = 0; i < m * d; i++) {
    int q = pattern == 0 ? lx : pattern == 1 ? (rnd() < 0.5 ? lx : -lx) : (int)(rnd() * (2 * lx + 1)) - lx;
    a[i] = (uint8_t)(q + off);
  }
  for (int64_t j = 0; j < n; j++) {
    int32_t t = 0;
    for (int64_t k = 0; k < d; k++) {
      int q = pattern == 0 ? (j % 2 ? -ly : ly) : pattern == 1 ? (rnd() < 0.5 ? ly : -ly) : (int)(rnd() * (2 * ly + 1)) - ly;
      b[j * d + k] = (int8_t)q;
      t += q;
    }
    co[j] = -off * t;
  }
  q8_gemm(m, n, d, a, d, b, d, co, c, n);
  q8_gemm_ref(m, n, d, a, d, b, d, co, r, n);
  assert_memory_equal(c, r, (size_t)(m * n) * sizeof *c);
  /* and the reference is the product of the signed values */
  for (int64_t i = 0; i < m; i += 7)
    for (int64_t j = 0; j < n; j += 5) {
      int64_t t = 0;
      for (int64_t k = 0; k < d; k++) t += (int64_t)((int)a[i * d + k] - off) * b[j * d + k];
      assert_int_equal(t, r[i * n + j]);
    }
  free(a);
  free(b);
  free(co);
  free(c);
  free(r);
}

static void test_gemm(void **state)
{
  (void)state;
  const int64_t shapes[][3] = {{1, 1, 1}, {1, 64, 256}, {64, 1, 256}, {3, 5, 17}, {64, 48, 256},
                               {257, 130, 300}, {256, 1024, 256}, {33, 17, 1000}};
  for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
    for (int pattern = 0; pattern < 3; pattern++) gemm_case(shapes[s][0], shapes[s][1], shapes[s][2], pattern);
}

/* q8_tile (memaudit's AVX2 GEMM fuses the GEMM and the conversion) against q8_gemm_ref then
 * q8_tile_to_float, every bit: x rows at any start, y blocks whose row yr falls anywhere in a 16-row
 * panel, every tail of rows and columns, odd d (padding), the extreme values of the levels; and as a
 * self-search's tile, the entries right of the diagonal. */
static void test_tile(void **state)
{
  (void)state;
  const int64_t dims[] = {1, 3, 8, 17, 64, 300};
  int lx = q8_levels_x(), ly = q8_levels_y(), off = lx + 1;
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
    int64_t d = dims[di], nx = 23, ny = 70, stride = q8_x_stride(d), lds = 80;
    rowset x = make_rows(nx, d, MA_F32, NULL, 1), y = make_rows(ny, d, MA_F32, NULL, 0);
    q8_screen q;
    assert_int_equal(q8_screen_init(&q, &x.r, &y.r, d), MA_OK);
    uint8_t *xq = malloc((size_t)(nx * stride)), *xr = malloc((size_t)(nx * d));
    int8_t *yq = malloc((size_t)q8_y_bytes(ny, d)), *yr = malloc((size_t)(ny * d));
    /* co past ny rows: a block's offsets hold q8_y_rows of its rows */
    int32_t *co = calloc((size_t)(ny + 16), sizeof *co), *c = malloc((size_t)(nx * lds) * sizeof *c),
            *cr = malloc((size_t)(nx * lds) * sizeof *cr);
    float *s = malloc((size_t)(nx * lds) * sizeof *s), *sr = malloc((size_t)(nx * lds) * sizeof *sr);
    for (int pattern = 0; pattern < 2; pattern++) {
      for (int64_t i = 0; i < nx; i++)
        for (int64_t k = 0; k < stride; k++) {
          int v = pattern ? (rnd() < 0.5 ? lx : -lx) : (int)(rnd() * (2 * lx + 1)) - lx;
          xq[i * stride + k] = (uint8_t)(k < d ? v + off : (int)(rnd() * 256)); /* padding: any byte */
          if (k < d) xr[i * d + k] = (uint8_t)(v + off);
        }
      for (int64_t j = 0; j < ny; j++) {
        int32_t t = 0;
        for (int64_t k = 0; k < d; k++) {
          int v = pattern ? (rnd() < 0.5 ? ly : -ly) : (int)(rnd() * (2 * ly + 1)) - ly;
          yr[j * d + k] = (int8_t)v;
          t += v;
        }
        co[j] = -off * t;
        q8_y_put(yq, j, d, yr + j * d);
      }
      /* a y block holding y rows [b0, ny): block row yr0 is y row b0 + yr0 */
      for (int64_t b0 = 0; b0 < 20; b0 += 7) {
        int8_t *blk = malloc((size_t)q8_y_bytes(ny - b0, d));
        for (int64_t j = b0; j < ny; j++) q8_y_put(blk, j - b0, d, yr + j * d);
        for (int64_t yr0 = 0; yr0 < 20; yr0 += 3)
          for (int64_t nj = 1; b0 + yr0 + nj <= ny; nj += nj < 18 ? 1 : 17)
            for (int64_t mi = 1; mi <= 13; mi += mi < 7 ? 1 : 6) {
              int64_t i0 = nx - mi - 1, j0 = b0 + yr0;
              q8_gemm_ref(mi, nj, d, xr + i0 * d, d, yr + j0 * d, d, co + j0, cr, lds);
              q8_tile_to_float(&q, i0, j0, mi, nj, cr, lds, sr, lds);
              q8_tile(&q, i0, j0, mi, nj, xq + i0 * stride, blk, yr0, co + b0, c, s, lds, 0);
              for (int64_t i = 0; i < mi; i++) assert_memory_equal(s + i * lds, sr + i * lds, (size_t)nj * sizeof *s);
              /* as a self-search's tile: the entries right of the diagonal (the others may be skipped) */
              q8_tile(&q, i0, j0, mi, nj, xq + i0 * stride, blk, yr0, co + b0, c, s, lds, 1);
              for (int64_t i = 0; i < mi; i++)
                for (int64_t t = 0; t < nj; t++)
                  if (j0 + t > i0 + i) assert_memory_equal(s + i * lds + t, sr + i * lds + t, sizeof *s);
            }
        free(blk);
      }
    }
    free(xq);
    free(xr);
    free(yq);
    free(yr);
    free(co);
    free(c);
    free(cr);
    free(s);
    free(sr);
    q8_screen_free(&q);
    free(x.data);
    free(y.data);
  }
}

/* The tile conversion of the path against its formula in plain C (fmaf, as q8_convert1 states it),
 * every bit, with integer values up to the extremes and every row length. */
static void test_tile_convert(void **state)
{
  (void)state;
  int64_t d = 64, nx = 19, ny = 97;
  rowset x = make_rows(nx, d, MA_F32, NULL, 1), y = make_rows(ny, d, MA_F32, NULL, 0);
  q8_screen q;
  assert_int_equal(q8_screen_init(&q, &x.r, &y.r, d), MA_OK);
  int64_t lds = 112;
  int32_t *c = malloc((size_t)(nx * lds) * sizeof *c);
  float *s = malloc((size_t)(nx * lds) * sizeof *s);
  for (int64_t i = 0; i < nx * lds; i++)
    c[i] = (int32_t)((rnd() - 0.5) * (i % 3 ? 2.0 * 255 * 127 * d : 1 << 30));
  for (int64_t nj = 1; nj <= ny; nj += nj < 20 ? 1 : 13) {
    int64_t j0 = ny - nj;
    q8_tile_to_float(&q, 2, j0, nx - 2, nj, c, lds, s, lds);
    for (int64_t i = 0; i < nx - 2; i++)
      for (int64_t j = 0; j < nj; j++) {
        float b = fmaf(q.x->eps[2 + i], q.y->qnorm[j0 + j], fmaf(q.x->norm[2 + i], q.y->eps[j0 + j], -q.shift));
        float want = fmaf((float)c[i * lds + j] * q.x->scale[2 + i], q.y->scale[j0 + j], b);
        assert_memory_equal(&s[i * lds + j], &want, sizeof want);
      }
  }
  free(c);
  free(s);
  q8_screen_free(&q);
  free(x.data);
  free(y.data);
}

/* A handler that checks |exact - tile value| <= band for every entry it is handed. */
typedef struct {
  const ma_rows *x, *y;
  int64_t d;
  float band;
  int self;
  double worst; /* largest |exact - screened| / band seen */
  int64_t seen;
} bound_ctx;

static ma_status bound_tile(void *ctx, int64_t i0, int64_t j0, int64_t mi, int64_t nj, const float *s, int64_t lds)
{
  bound_ctx *c = ctx;
  for (int64_t i = 0; i < mi; i++)
    for (int64_t j = 0; j < nj; j++) {
      if (c->self && j0 + j <= i0 + i) continue;
      float e = ip_ref_dot(c->x, i0 + i, c->y, j0 + j, c->d);
      double err = fabs((double)e - (double)s[i * lds + j]);
      assert_true(err <= c->band);
      if (err / c->band > c->worst) c->worst = err / c->band;
      c->seen++;
    }
  return MA_OK;
}

static void test_bound(void **state)
{
  (void)state;
  const int64_t dims[] = {1, 3, 64, 129, 256};
  double worst = 0;
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
    for (int t = 0; t < 2; t++)
      for (int adv = 0; adv < 2; adv++) {
        int64_t d = dims[di];
        ma_dtype ty = t ? MA_F16 : MA_F32;
        rowset x = make_rows(40, d, ty, NULL, adv), y = make_rows(70, d, ty, NULL, 1 - adv);
        /* x rows that are copies of y rows: similarity 1 (or about), the largest error */
        for (int64_t i = 0; i < 8; i++) copy_row(&x, i, &y, i, d);
        q8_screen q;
        assert_int_equal(q8_screen_init(&q, &x.r, &y.r, d), MA_OK);
        assert_true(isfinite(q.band) && q.band >= q.shift);
        ip_blocking b = {3, 5, 0, NULL, &q};
        bound_ctx c = {&x.r, &y.r, d, q.band, 0, 0, 0};
        ip_handler h = {bound_tile, &c};
        assert_int_equal(ip_search(&x.r, &y.r, d, &h, &b), MA_OK);
        assert_int_equal(c.seen, 40 * 70);
        if (c.worst > worst) worst = c.worst;
        q8_screen_free(&q);
        /* self-search */
        assert_int_equal(q8_screen_init(&q, &x.r, &x.r, d), MA_OK);
        b.screen = &q;
        c = (bound_ctx){&x.r, &x.r, d, q.band, 1, 0, 0};
        assert_int_equal(ip_search_self(&x.r, d, &h, &b), MA_OK);
        assert_int_equal(c.seen, 40 * 39 / 2);
        q8_screen_free(&q);
        free(x.data);
        free(y.data);
      }
  print_message("largest |exact - screened| / band: %.3f\n", worst);
  /* a band that is not finite (a NaN row) sends the search to the SGEMM tiles */
  float v[4] = {NAN, 1, 0, 0}, w[4] = {1, 0, 0, 0};
  ma_rows xr = {v, MA_F32, 1, 4}, yr = {w, MA_F32, 1, 4};
  q8_screen q;
  assert_int_equal(q8_screen_init(&q, &xr, &yr, 4), MA_OK);
  assert_false(isfinite(q.band));
  q8_screen_free(&q);
  assert_int_equal(q8_screen_init(&q, &xr, &yr, Q8_MAX_D + 1), MA_ERR_USAGE);
}

static int by_pair(const void *p, const void *q)
{
  const ip_pair *a = p, *b = q;
  return a->a != b->a ? (a->a > b->a) - (a->a < b->a) : (a->b > b->b) - (a->b < b->b);
}

/* Screened argmax, top-k and range against the references, bit for bit. */
static void check_searches(const rowset *x, const rowset *y, int64_t d, const ip_blocking *blk0, float t)
{
  int64_t n = x->r.rows, ny = y->r.rows;
  q8_screen q;
  assert_int_equal(q8_screen_init(&q, &x->r, &y->r, d), MA_OK);
  ip_blocking b = *blk0;
  b.screen = &q;

  int64_t *best = malloc((size_t)n * sizeof *best), *rbest = malloc((size_t)n * sizeof *rbest);
  float *bs = malloc((size_t)n * sizeof *bs), *rbs = malloc((size_t)n * sizeof *rbs);
  ip_argmax_ctx am;
  ip_argmax_init(&am, &x->r, &y->r, d, best, bs);
  am.band = q.band;
  ip_handler h = ip_argmax_handler(&am);
  assert_int_equal(ip_search(&x->r, &y->r, d, &h, &b), MA_OK);
  assert_int_equal(ip_ref_argmax(&x->r, &y->r, d, rbest, rbs), MA_OK);
  assert_memory_equal(best, rbest, (size_t)n * sizeof *best);
  assert_memory_equal(bs, rbs, (size_t)n * sizeof *bs);

  int64_t *yid = malloc((size_t)ny * sizeof *yid);
  for (int64_t j = 0; j < ny; j++) yid[j] = (j * 7919) % 1000003;
  for (int k = 1; k <= 12; k += 11) {
    int64_t *ids = malloc((size_t)(n * k) * sizeof *ids), *rids = malloc((size_t)(n * k) * sizeof *rids);
    float *sims = malloc((size_t)(n * k) * sizeof *sims), *rsims = malloc((size_t)(n * k) * sizeof *rsims);
    int64_t *cnt = malloc((size_t)n * sizeof *cnt), *rcnt = malloc((size_t)n * sizeof *rcnt);
    topk_exact_stats st = {0, 0};
    assert_int_equal(topk_exact(&x->r, &y->r, d, yid, k, t, ids, sims, cnt, &b, &st), MA_OK);
    assert_int_equal(ip_ref_topk(&x->r, &y->r, d, k, yid, 0, t, rids, rsims, rcnt), MA_OK);
    assert_memory_equal(ids, rids, (size_t)(n * k) * sizeof *ids);
    assert_memory_equal(sims, rsims, (size_t)(n * k) * sizeof *sims);
    assert_memory_equal(cnt, rcnt, (size_t)n * sizeof *cnt);
    assert_int_equal(st.fallback_rows, 0);
    free(ids);
    free(rids);
    free(sims);
    free(rsims);
    free(cnt);
    free(rcnt);
  }
  free(yid);

  /* range: candidates at threshold - band, decided exactly, as dedup_search does */
  for (int self = 0; self <= 1; self++) {
    const rowset *yy = self ? x : y;
    q8_screen qs;
    assert_int_equal(q8_screen_init(&qs, &x->r, &yy->r, d), MA_OK);
    b.screen = &qs;
    ip_range_ctx rc;
    ip_range_init(&rc, ip_reach_of(t, qs.band), self);
    ip_handler rh = ip_range_handler(&rc);
    assert_int_equal(self ? ip_search_self(&x->r, d, &rh, &b) : ip_search(&x->r, &yy->r, d, &rh, &b), MA_OK);
    ip_pair *got = malloc((size_t)(rc.n + 1) * sizeof *got), *ref = NULL;
    int64_t ng = 0, nr = 0;
    for (int64_t p = 0; p < rc.n; p++) {
      float e = topk_exact_dot(&x->r, rc.pairs[p].a, &yy->r, rc.pairs[p].b, d);
      if (e >= t) got[ng++] = (ip_pair){rc.pairs[p].a, rc.pairs[p].b, e};
    }
    assert_int_equal(ip_ref_range(&x->r, &yy->r, d, t, self, &ref, &nr), MA_OK);
    assert_int_equal(ng, nr);
    /* ref is sorted by (a, b); sort ours the same way */
    qsort(got, (size_t)ng, sizeof *got, by_pair);
    for (int64_t p = 0; p < ng; p++) {
      assert_int_equal(got[p].a, ref[p].a);
      assert_int_equal(got[p].b, ref[p].b);
      assert_memory_equal(&got[p].sim, &ref[p].sim, sizeof(float));
    }
    free(got);
    free(ref);
    ip_range_free(&rc);
    q8_screen_free(&qs);
  }
  free(best);
  free(rbest);
  free(bs);
  free(rbs);
  q8_screen_free(&q);
}

static void test_searches(void **state)
{
  (void)state;
  const int64_t dims[] = {3, 64, 129, 256};
  const ma_dtype types[][2] = {{MA_F32, MA_F32}, {MA_F16, MA_F16}, {MA_F32, MA_F16}};
  const ip_blocking blocks[] = {{0, 0, 0, NULL, NULL}, {3, 5, 10, NULL, NULL}, {16, 64, 0, NULL, NULL}};
  for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
    for (int ti = 0; ti < 3; ti++) {
      int64_t d = dims[di], nx = 37, ny = 301;
      float *centre = malloc((size_t)d * sizeof *centre);
      for (int64_t c = 0; c < d; c++) centre[c] = (float)(rnd() - 0.5);
      normalise(centre, d);
      rowset x = make_rows(nx, d, types[ti][0], centre, 0), y = make_rows(ny, d, types[ti][1], centre, 0);
      /* exact duplicates in y (ties), x rows equal to some of them, and near-copies */
      for (int64_t j = 0; j < 40; j++) copy_row(&y, 200 + j, &y, 10 + j % 4, d);
      if (types[ti][0] == types[ti][1])
        for (int64_t i = 0; i < 5; i++) copy_row(&x, i, &y, 10 + i % 4, d);
      for (int bi = 0; bi < 3; bi++) {
        /* thresholds exactly on similarities: of a duplicate (many entries at the threshold) and of a
         * plain pair */
        check_searches(&x, &y, d, &blocks[bi], ip_ref_dot(&x.r, 0, &y.r, 200, d));
        check_searches(&x, &y, d, &blocks[bi], ip_ref_dot(&x.r, 6, &y.r, 7, d));
      }
      free(x.data);
      free(y.data);
      free(centre);
    }
}

/* Adversarial rows (spikes, +-amax, constants, half steps) and many entries exactly at the threshold:
 * every row of y a copy of one of four rows. */
static void test_adversarial(void **state)
{
  (void)state;
  int64_t d = 256;
  for (int t = 0; t < 2; t++) {
    ma_dtype ty = t ? MA_F16 : MA_F32;
    rowset x = make_rows(24, d, ty, NULL, 1), y = make_rows(500, d, ty, NULL, 1);
    for (int64_t j = 8; j < 500; j++) copy_row(&y, j, &y, j % 4, d);
    ip_blocking b = {7, 64, 0, NULL, NULL};
    check_searches(&x, &y, d, &b, ip_ref_dot(&x.r, 0, &y.r, 0, d));
    check_searches(&x, &y, d, &b, ip_ref_dot(&x.r, 2, &y.r, 1, d));
    check_searches(&x, &y, d, &b, 0.0f);
    free(x.data);
    free(y.data);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_quantize),
      cmocka_unit_test(test_gemm),
      cmocka_unit_test(test_tile_convert),
      cmocka_unit_test(test_tile),
      cmocka_unit_test(test_bound),
      cmocka_unit_test(test_searches),
      cmocka_unit_test(test_adversarial),
  };
  int failed = 0;
  /* each integer GEMM is chosen at the best path (as memaudit chooses it), then every path below runs
   * it with the path's own quantisation, conversion and handlers */
  const char *only = getenv("MEMAUDIT_Q8_GEMM"), *engines[] = {"reference", "avx2", "onednn"};
  for (size_t e = 0; e < sizeof engines / sizeof *engines; e++) {
    if (only && strcmp(only, engines[e])) continue;
    cpu_isa_force(cpu_isa_hardware());
    if (!q8_gemm_choose(engines[e])) {
      print_message("integer GEMM %s: not available here\n", engines[e]);
      continue;
    }
    print_message("integer GEMM %s, levels x %d, y %d\n", q8_gemm_name(), q8_levels_x(), q8_levels_y());
    for (int isa = CPU_ISA_SCALAR; isa <= (int)cpu_isa_hardware(); isa++) {
      cpu_isa_force((cpu_isa)isa);
      print_message("path %s\n", cpu_isa_name(cpu_isa_active()));
      failed += cmocka_run_group_tests(tests, NULL, NULL);
    }
  }
  return failed;
}
