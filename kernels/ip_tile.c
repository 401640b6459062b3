/* The tiled loop behind ip_search: SGEMM per tile, then the handler on the tile while it is in L2.
 *
 * Loop order: the operand with more rows is the outer one and streams from memory once per chunk;
 * the other (inner) one is split into chunks of at most IP_CHUNK_BYTES as float, each chunk reused
 * from cache for every outer block. float16 rows are widened once per chunk (inner) or once per
 * outer block per chunk (outer), never once per tile. */
#include "kernels/ip_tile.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/f16.h"
#include "kernels/quant.h"

/* One operand as the tiles see it: the caller's float rows, or a float copy of rows
 * [first, first + n) of the caller's float16 rows. */
typedef struct {
  const ma_rows *src;
  int64_t d;
  float *buf; /* float16 only: the widened rows, leading dimension d */
  int64_t first;
} operand;

/* Makes rows [r0, r0 + n) of op readable as float. */
static void operand_load(operand *op, int64_t r0, int64_t n)
{
  if (op->src->type != MA_F16) return;
  const uint16_t *in = (const uint16_t *)op->src->data + r0 * op->src->ld;
  if (op->src->ld == op->d) {
    f16_to_f32(in, op->buf, n * op->d);
  } else {
    for (int64_t r = 0; r < n; r++) f16_to_f32(in + r * op->src->ld, op->buf + r * op->d, op->d);
  }
  op->first = r0;
}

/* Row r0 of op as float, and the leading dimension to read the following rows with. The rows must
 * have been loaded by operand_load. */
static const float *operand_rows(const operand *op, int64_t r0, int64_t *ld)
{
  if (op->src->type != MA_F16) {
    *ld = op->src->ld;
    return (const float *)op->src->data + r0 * op->src->ld;
  }
  *ld = op->d;
  return op->buf + (r0 - op->first) * op->d;
}

static ma_status check_rows(const ma_rows *r, const char *name, int64_t d)
{
  if (!r) return ma_fail(MA_ERR_USAGE, "ip_search: %s is NULL", name);
  if (r->type != MA_F32 && r->type != MA_F16)
    return ma_fail(MA_ERR_USAGE, "ip_search: %s has unknown type %d", name, (int)r->type);
  if (r->rows < 0 || r->ld < d || r->ld > INT_MAX || (r->rows > 0 && !r->data))
    return ma_fail(MA_ERR_USAGE, "ip_search: %s has rows %lld, ld %lld, d %lld", name,
                   (long long)r->rows, (long long)r->ld, (long long)d);
  return MA_OK;
}

/* Block sizes of b, or the defaults. */
static ma_status blocking(const ip_blocking *b, int64_t *bm, int64_t *bn, int64_t *chunk)
{
  *bm = b && b->bm ? b->bm : IP_BM_DEFAULT;
  *bn = b && b->bn ? b->bn : IP_BN_DEFAULT;
  *chunk = b ? b->chunk : 0;
  if (*bm < 0 || *bn < 0 || *chunk < 0 || *bm > INT_MAX || *bn > INT_MAX - 16 ||
      *bm * (*bn + 16) > ((int64_t)1 << 30))
    return ma_fail(MA_ERR_USAGE, "ip_search: bad blocking bm %lld, bn %lld, chunk %lld",
                   (long long)*bm, (long long)*bn, (long long)*chunk);
  return MA_OK;
}

static void *alloc_bytes(int64_t n)
{
  /* 64-byte aligned, so that tile rows with lds % 16 == 0 start on a cache line */
  size_t bytes = ((size_t)n + 63) & ~(size_t)63;
  return bytes ? aligned_alloc(64, bytes) : NULL;
}

/* Buffer `slot` of at least n bytes: ws's, grown if need be, or a new one (ws NULL). */
static void *take(ip_workspace *ws, int slot, int64_t n)
{
  if (!ws) return alloc_bytes(n);
  if (ws->cap[slot] < n) {
    free(ws->buf[slot]);
    ws->buf[slot] = alloc_bytes(n);
    ws->cap[slot] = ws->buf[slot] ? n : 0;
  }
  return ws->buf[slot];
}

void ip_workspace_free(ip_workspace *w)
{
  for (int k = 0; k < 8; k++) {
    free(w->buf[k]);
    w->buf[k] = NULL;
    w->cap[k] = 0;
  }
}

/* The loop of a search: which operand is outer (the one with more rows), its block and the inner one's
 * tile rows, their row counts, the inner chunk in rows (a multiple of ib, at most IP_CHUNK_BYTES as
 * float, at most all of them), and the tile's row stride. Tile rows are padded to a multiple of 16
 * floats, so that they start on cache lines for the handlers, but not to a multiple of 1 KiB, whose rows
 * fall in few L1 sets when SGEMM stores C (measured ~2% slower). */
typedef struct {
  int x_outer;
  int64_t ob, ib, orows, irows, chunk, lds;
} loop_shape;

static loop_shape shape_of(const ma_rows *x, const ma_rows *y, int64_t d, int64_t bm, int64_t bn, int64_t chunk)
{
  loop_shape l;
  l.x_outer = x->rows >= y->rows;
  l.ob = l.x_outer ? bm : bn;
  l.ib = l.x_outer ? bn : bm;
  l.orows = l.x_outer ? x->rows : y->rows;
  l.irows = l.x_outer ? y->rows : x->rows;
  if (chunk == 0) chunk = IP_CHUNK_BYTES / (d * (int64_t)sizeof(float));
  chunk = chunk < l.ib ? l.ib : chunk / l.ib * l.ib;
  l.chunk = chunk > l.irows ? l.irows : chunk;
  if (l.ob > l.orows) l.ob = l.orows;
  l.lds = ((bn < y->rows ? bn : y->rows) + 15) / 16 * 16;
  if (l.lds % 256 == 0) l.lds += 16;
  return l;
}

/* One side of a screened search, quantised: rows [first, first + n) of src in q8_tile's layout (x rows
 * q8_x_stride(d) bytes apart, y rows put by q8_y_put), and for the y side the column offsets of the
 * integer GEMM. */
typedef struct {
  const ma_rows *src;
  int is_x;
  uint8_t *q;
  int32_t *co;
  int64_t first;
} qoperand;

/* Quantises rows [r0, r0 + n) of op: the x side unsigned (q + levels + 1), the y side signed (through
 * the byte row qrow) with co[r] = -(x side's offset) * sum of the row, which takes the offset back out of
 * every product. */
static void qoperand_load(qoperand *op, const q8_screen *sc, int64_t r0, int64_t n, float *row, uint8_t *qrow)
{
  int64_t d = sc->d, stride = q8_x_stride(d);
  int levels = op->is_x ? sc->xlevels : sc->ylevels, offset = op->is_x ? sc->xlevels + 1 : 0;
  for (int64_t r = 0; r < n; r++) {
    const float *v = row;
    if (op->src->type == MA_F16) f16_to_f32((const uint16_t *)op->src->data + (r0 + r) * op->src->ld, row, d);
    else v = (const float *)op->src->data + (r0 + r) * op->src->ld;
    if (op->is_x) {
      uint8_t *q = op->q + r * stride;
      q8_quantize_q(v, d, levels, offset, q);
      if (stride > d) memset(q + d, offset, (size_t)(stride - d));
      continue;
    }
    q8_quantize_q(v, d, levels, 0, qrow);
    int32_t t = 0;
    for (int64_t c = 0; c < d; c++) t += (int8_t)qrow[c];
    op->co[r] = -(sc->xlevels + 1) * t;
    q8_y_put((int8_t *)op->q, r, d, (const int8_t *)qrow);
  }
  if (!op->is_x)
    for (int64_t r = n; r < q8_y_rows(n); r++) op->co[r] = 0;
  op->first = r0;
}

/* run() with int8 tiles: the same loop order and chunks, each operand quantised where run() widens
 * float16 (the inner chunk once, an outer block once per chunk), the tile by the integer GEMM, then
 * converted to screened similarities (q8_tile_to_float). A self-search computes whole tiles from the
 * diagonal on (the entries left of it are there but, as the contract says, not to be used). */
static ma_status run_q8(const ma_rows *x, const ma_rows *y, int64_t d, const ip_handler *h, int64_t bm, int64_t bn,
                        int64_t chunk, ip_workspace *ws, const q8_screen *sc, int self)
{
  ma_status st = MA_OK;
  if (sc->d != d || sc->x->rows != x->rows || sc->y->rows != y->rows)
    return ma_fail(MA_ERR_USAGE, "ip_search: the int8 screening was made for other rows");
  loop_shape l = shape_of(x, y, d, bm, bn, chunk);
  int x_outer = l.x_outer;
  qoperand xo = {x, 1, NULL, NULL, 0}, yo = {y, 0, NULL, NULL, 0};
  qoperand *outer = x_outer ? &xo : &yo, *inner = x_outer ? &yo : &xo;
  int64_t ob = l.ob, ib = l.ib, orows = l.orows, irows = l.irows, lds = l.lds;
  chunk = l.chunk;
  int64_t mrows = bm < x->rows ? bm : x->rows;
  float *s = take(ws, 0, mrows * lds * (int64_t)sizeof(float));
  int scratch = q8_tile_scratch();
  int32_t *c = scratch ? take(ws, 3, mrows * lds * (int64_t)sizeof(int32_t)) : NULL;
  float *row = take(ws, 4, d * (int64_t)sizeof(float));
  uint8_t *qrow = take(ws, 1, d);
  int64_t stride = q8_x_stride(d);
  outer->q = take(ws, 5, x_outer ? ob * stride : q8_y_bytes(ob, d));
  inner->q = take(ws, 6, x_outer ? q8_y_bytes(chunk, d) : chunk * stride);
  yo.co = take(ws, 7, q8_y_rows(x_outer ? chunk : ob) * (int64_t)sizeof(int32_t));
  if (!s || (scratch && !c) || !row || !qrow || !outer->q || !inner->q || !yo.co) {
    st = ma_fail(MA_ERR_RUNTIME, "ip_search: out of memory for the int8 workspace (d %lld, bm %lld, bn %lld, "
                 "chunk %lld)", (long long)d, (long long)bm, (long long)bn, (long long)chunk);
    goto done;
  }
  for (int64_t c0 = 0; c0 < irows; c0 += chunk) {
    int64_t cn = irows - c0 < chunk ? irows - c0 : chunk;
    qoperand_load(inner, sc, c0, cn, row, qrow);
    for (int64_t o0 = 0; o0 < orows; o0 += ob) {
      int64_t on = orows - o0 < ob ? orows - o0 : ob;
      int loaded_outer = 0;
      for (int64_t q0 = c0; q0 < c0 + cn; q0 += ib) {
        int64_t qn = c0 + cn - q0 < ib ? c0 + cn - q0 : ib;
        int64_t i0 = x_outer ? o0 : q0, mi = x_outer ? on : qn;
        int64_t j0 = x_outer ? q0 : o0, nj = x_outer ? qn : on;
        if (self) {
          if (j0 + nj <= i0 + 1) continue;
          if (j0 < i0) {
            nj -= i0 - j0;
            j0 = i0;
          }
        }
        if (!loaded_outer) {
          qoperand_load(outer, sc, o0, on, row, qrow);
          loaded_outer = 1;
        }
        q8_tile(sc, i0, j0, mi, nj, xo.q + (i0 - xo.first) * stride, (const int8_t *)yo.q, j0 - yo.first, yo.co, c,
                s, lds, self);
        MA_TRY(h->tile(h->ctx, i0, j0, mi, nj, s, lds));
      }
    }
  }
done:
  if (!ws) {
    free(s);
    free(c);
    free(row);
    free(qrow);
    free(outer->q);
    free(inner->q);
    free(yo.co);
  }
  return st;
}

static ma_status run(const ma_rows *x, const ma_rows *y, int64_t d, const ip_handler *h,
                     const ip_blocking *b, int self)
{
  ma_status st = MA_OK;
  float *s = NULL;
  operand xo = {x, d, NULL, 0}, yo = {y, d, NULL, 0};

  if (d < 1 || d > INT_MAX) return ma_fail(MA_ERR_USAGE, "ip_search: bad d %lld", (long long)d);
  MA_CALL(check_rows(x, "x", d));
  MA_CALL(check_rows(y, "y", d));
  if (!h || !h->tile) return ma_fail(MA_ERR_USAGE, "ip_search: no handler");
  int64_t bm, bn, chunk;
  MA_CALL(blocking(b, &bm, &bn, &chunk));
  if (x->rows == 0 || y->rows == 0) return MA_OK;
  /* a screening whose band is not finite (a row with a NaN or an infinity) would rescore everything:
   * the SGEMM tiles are then as good and faster */
  if (b && b->screen && isfinite(b->screen->band)) return run_q8(x, y, d, h, bm, bn, chunk, b->ws, b->screen, self);

  loop_shape l = shape_of(x, y, d, bm, bn, chunk);
  int x_outer = l.x_outer;
  operand *outer = x_outer ? &xo : &yo, *inner = x_outer ? &yo : &xo;
  int64_t ob = l.ob, ib = l.ib, orows = l.orows, irows = l.irows, lds = l.lds;
  chunk = l.chunk;
  ip_workspace *ws = b ? b->ws : NULL;
  /* x against itself in one chunk: the outer blocks are rows of the widened inner chunk, so float16
   * rows are widened once, not twice */
  int share = self && x->type == MA_F16 && chunk == irows;

  s = take(ws, 0, (bm < x->rows ? bm : x->rows) * lds * (int64_t)sizeof(float));
  if (!s) goto nomem;
  if (outer->src->type == MA_F16 && !share && !(outer->buf = take(ws, 1, ob * d * (int64_t)sizeof(float)))) goto nomem;
  if (inner->src->type == MA_F16 && !(inner->buf = take(ws, 2, chunk * d * (int64_t)sizeof(float)))) goto nomem;

  for (int64_t c0 = 0; c0 < irows; c0 += chunk) {
    int64_t cn = irows - c0 < chunk ? irows - c0 : chunk;
    int loaded_inner = 0;
    for (int64_t o0 = 0; o0 < orows; o0 += ob) {
      int64_t on = orows - o0 < ob ? orows - o0 : ob;
      int loaded_outer = 0;
      for (int64_t q0 = c0; q0 < c0 + cn; q0 += ib) {
        int64_t qn = c0 + cn - q0 < ib ? c0 + cn - q0 : ib;
        int64_t i0 = x_outer ? o0 : q0, mi = x_outer ? on : qn;
        int64_t j0 = x_outer ? q0 : o0, nj = x_outer ? qn : on;
        if (self) { /* no row of this block pairs with a column left of i0 */
          if (j0 + nj <= i0 + 1) continue;
          if (j0 < i0) {
            nj -= i0 - j0;
            j0 = i0;
          }
        }
        if (!loaded_inner) {
          operand_load(inner, c0, cn);
          loaded_inner = 1;
          if (share) *outer = (operand){outer->src, d, inner->buf, inner->first};
        }
        if (!loaded_outer && !share) {
          operand_load(outer, o0, on);
          loaded_outer = 1;
        }
        int64_t ldx, ldy;
        const float *xb = operand_rows(&xo, i0, &ldx), *yb = operand_rows(&yo, j0, &ldy);
        if (self && j0 == i0) {
          /* The square on the diagonal by SSYRK, upper triangle only (about 40% faster than SGEMM on
           * 256 rows); the tile's columns right of it, if any, by SGEMM below. */
          int64_t nd = mi < nj ? mi : nj;
          cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)nd, (int)d, 1.0f, xb, (int)ldx, 0.0f, s, (int)lds);
          MA_TRY(h->tile(h->ctx, i0, i0, nd, nd, s, lds));
          if (nj == nd) continue;
          j0 += nd;
          nj -= nd;
          yb += nd * ldy;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)mi, (int)nj, (int)d, 1.0f, xb,
                    (int)ldx, yb, (int)ldy, 0.0f, s, (int)lds);
        MA_TRY(h->tile(h->ctx, i0, j0, mi, nj, s, lds));
      }
    }
  }
  goto done;
nomem:
  st = ma_fail(MA_ERR_RUNTIME, "ip_search: out of memory for the tile workspace (d %lld, bm %lld, "
               "bn %lld, chunk %lld)", (long long)d, (long long)bm, (long long)bn, (long long)chunk);
done:
  if (!ws) {
    free(s);
    free(inner->buf);
    if (!share) free(outer->buf);
  }
  return st;
}

ma_status ip_search(const ma_rows *x, const ma_rows *y, int64_t d, const ip_handler *h,
                    const ip_blocking *b)
{
  return run(x, y, d, h, b, 0);
}

ma_status ip_search_self(const ma_rows *x, int64_t d, const ip_handler *h, const ip_blocking *b)
{
  return run(x, x, d, h, b, 1);
}
