/* The reference loops for ip_search and its handlers. Clarity over speed: no blocking, no SIMD, a
 * sort where a selection would do. */
#include "kernels/ip_ref.h"

#include <math.h>
#include <stdlib.h>

/* IEEE half to double, from the definition (independent of kernels/f16.c). */
static double half_value(uint16_t h)
{
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
  return h >> 15 ? -v : v;
}

static double element(const ma_rows *r, int64_t row, int64_t c)
{
  if (r->type == MA_F16) return half_value(((const uint16_t *)r->data)[row * r->ld + c]);
  return ((const float *)r->data)[row * r->ld + c];
}

/* The order every exact inner product adds in (topk_exact_dot gives the same bits): products in double,
 * which is exact for floats and halves, summed into LANES partial sums s[c % LANES] in index order,
 * then folded by adding the upper half of the sums onto the lower, 16 -> 8 -> 4 -> 2 -> 1. Fixed lanes
 * let a vector version keep one lane per register element and still give the same bits. */
enum { LANES = 16 };

static float fold(double *s)
{
  for (int w = LANES / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; l++) s[l] += s[l + w];
  return (float)s[0];
}

float ip_ref_dot(const ma_rows *x, int64_t i, const ma_rows *y, int64_t j, int64_t d)
{
  double s[LANES] = {0};
  for (int64_t c = 0; c < d; c++) s[c % LANES] += element(x, i, c) * element(y, j, c);
  return fold(s);
}

/* The rows of r as a dense rows × d array of doubles (decoded once, not once per product). */
static ma_status widen(const ma_rows *r, int64_t d, double **out)
{
  ma_status st = MA_OK;
  double *w = NULL;
  MA_ALLOC(w, r->rows * d);
  for (int64_t i = 0; i < r->rows; i++)
    for (int64_t c = 0; c < d; c++) w[i * d + c] = element(r, i, c);
done:
  *out = w;
  return st;
}

static float dot(const double *a, const double *b, int64_t d)
{
  double s[LANES] = {0};
  for (int64_t c = 0; c < d; c++) s[c % LANES] += a[c] * b[c];
  return fold(s);
}

ma_status ip_ref_argmax(const ma_rows *x, const ma_rows *y, int64_t d, int64_t *best,
                        float *best_sim)
{
  ma_status st = MA_OK;
  double *xd = NULL, *yd = NULL;
  MA_TRY(widen(x, d, &xd));
  MA_TRY(widen(y, d, &yd));
  for (int64_t i = 0; i < x->rows; i++) {
    best[i] = -1;
    best_sim[i] = -INFINITY;
    for (int64_t j = 0; j < y->rows; j++) {
      float s = dot(xd + i * d, yd + j * d, d);
      if (s > best_sim[i]) { /* strict: an equal one later keeps the lower row */
        best[i] = j;
        best_sim[i] = s;
      }
    }
  }
done:
  free(xd);
  free(yd);
  return st;
}

typedef struct {
  int64_t id;
  float sim;
} scored;

static int by_sim_then_id(const void *pa, const void *pb)
{
  const scored *a = pa, *b = pb;
  if (a->sim != b->sim) return a->sim > b->sim ? -1 : 1;
  return (a->id > b->id) - (a->id < b->id);
}

ma_status ip_ref_topk(const ma_rows *x, const ma_rows *y, int64_t d, int k, const int64_t *y_ids,
                      int64_t id_offset, float threshold, int64_t *ids, float *sims, int64_t *count)
{
  ma_status st = MA_OK;
  scored *row = NULL;
  double *xd = NULL, *yd = NULL;
  MA_TRY(widen(x, d, &xd));
  MA_TRY(widen(y, d, &yd));
  MA_ALLOC(row, y->rows);
  for (int64_t i = 0; i < x->rows; i++) {
    int64_t above = 0;
    for (int64_t j = 0; j < y->rows; j++) {
      row[j].id = y_ids ? y_ids[j] : id_offset + j;
      row[j].sim = dot(xd + i * d, yd + j * d, d);
      above += row[j].sim >= threshold;
    }
    qsort(row, (size_t)y->rows, sizeof *row, by_sim_then_id);
    for (int p = 0; p < k; p++) {
      ids[i * k + p] = p < y->rows ? row[p].id : -1;
      sims[i * k + p] = p < y->rows ? row[p].sim : -INFINITY;
    }
    if (count) count[i] = above;
  }
done:
  free(row);
  free(xd);
  free(yd);
  return st;
}

ma_status ip_ref_range(const ma_rows *x, const ma_rows *y, int64_t d, float threshold, int self,
                       ip_pair **pairs, int64_t *n)
{
  ma_status st = MA_OK;
  ip_pair *out = NULL;
  double *xd = NULL, *yd = NULL;
  int64_t cnt = 0;
  *pairs = NULL;
  *n = 0;
  MA_TRY(widen(x, d, &xd));
  MA_TRY(widen(y, d, &yd));
  for (int pass = 0; pass < 2; pass++) { /* count, then fill */
    cnt = 0;
    for (int64_t a = 0; a < x->rows; a++)
      for (int64_t b = self ? a + 1 : 0; b < y->rows; b++) {
        float s = dot(xd + a * d, yd + b * d, d);
        if (s >= threshold) {
          if (pass == 1) out[cnt] = (ip_pair){a, b, s};
          cnt++;
        }
      }
    if (pass == 0) MA_ALLOC(out, cnt);
  }
  *pairs = out;
  *n = cnt;
  out = NULL;
done:
  free(out);
  free(xd);
  free(yd);
  return st;
}

