"""memaudit's exact arithmetic repeated in numpy, for the tests that compare with it bit for bit.

- ma_normalize: the row normalisation of kernels/rowops.c (float16 rows are widened, normalised in
  float and rounded back to float16, as io/h5in.c does);
- ma_dot: the exact inner product of kernels/ip_ref.c and kernels/topk_exact.c: products in double
  (exact for floats), added into 16 lane sums s[c % 16] in index order, folded 16 -> 8 -> 4 -> 2 -> 1,
  rounded to float once. numpy's float64 matmul adds in an order of its BLAS's choosing, which differs
  by CPU, so a result rounded to float from it can differ in the last bit where memaudit's cannot.
- greedy: the greedy keep rule of kernels/keep.h, on a pair list.
Needs numpy only."""
import numpy as np

LANES = 16


def _fold(s):
    """s[..., 16] lane sums, folded as ip_ref.c's fold(): upper half onto lower, 16 -> 8 -> 4 -> 2 -> 1."""
    w = LANES // 2
    while w >= 1:
        s[..., :w] += s[..., w:2 * w]
        w //= 2
    return s[..., 0]


def _lanes(x):
    """Rows of x as float64 in chunks of 16 columns (zero-padded: 0 * 0 adds +0, which changes no lane)."""
    x = np.asarray(x).astype(np.float32).astype(np.float64)
    return np.pad(x, ((0, 0), (0, (-x.shape[1]) % LANES))).reshape(x.shape[0], -1, LANES)


def ma_normalize(x, half=False):
    """memaudit's row normalisation (kernels/rowops.c): squares summed in the lane order above, each
    element times 1/sqrt(sum), rounded to float; with half=True the input is float16 data and the result
    is rounded back to float16 (io/h5in.c), returned as float32."""
    x64 = np.asarray(x).astype(np.float32).astype(np.float64)
    chunks = _lanes(x64)
    s = np.zeros((x64.shape[0], LANES))
    for j in range(chunks.shape[1]):  # in index order, lane by lane
        s += chunks[:, j] * chunks[:, j]
    out = (x64 * (1.0 / np.sqrt(_fold(s)))[:, None]).astype(np.float32)
    return out.astype(np.float16).astype(np.float32) if half else out


def ma_dot_pairs(x, a, y, b):
    """float32 exact similarities of the rows x[a[p]] and y[b[p]], p = 0..P-1."""
    xa, yb = _lanes(x[a]), _lanes(y[b])
    s = np.zeros((len(a), LANES))
    for j in range(xa.shape[1]):
        s += xa[:, j] * yb[:, j]
    return _fold(s).astype(np.float32)


def ma_dot(q, t, block_elems=1 << 22):
    """float32 [len(q), len(t)]: the exact similarity of every row of q with every row of t."""
    qc, tc = _lanes(q), _lanes(t)
    out = np.empty((len(q), len(t)), np.float32)
    step = max(1, block_elems // (LANES * max(1, len(t))))
    for i in range(0, len(q), step):
        s = np.zeros((min(step, len(q) - i), len(t), LANES))
        for j in range(qc.shape[1]):
            s += qc[i:i + step, None, j, :] * tc[None, :, j, :]
        out[i:i + step] = _fold(s).astype(np.float32)
    return out


def pairs_at_least(x, threshold):
    """The pairs (a, b), a < b, of rows of x whose exact similarity is >= float32(threshold), with those
    similarities: the pair set of `dedup --exact`. Candidates come from a float64 matmul: it and the
    lane-ordered sum are each within D * 2^-53 (< 1e-13 here) of the true inner product, and a double
    below float32(threshold) - 1e-7 (more than half a float ulp, 3e-8 near 1, below it) cannot round to
    a float >= float32(threshold); the candidates are then decided by the exact order itself."""
    t32 = np.float32(threshold)
    x32 = np.asarray(x, np.float32)
    x64 = x32.astype(np.float64)
    a_all, b_all = [], []
    for i in range(0, len(x64), 2048):
        s = x64[i:i + 2048] @ x64.T
        a, b = np.nonzero(s >= float(t32) - 1e-7)
        a += i
        keep = a < b
        a_all.append(a[keep])
        b_all.append(b[keep])
    a, b = np.concatenate(a_all), np.concatenate(b_all)
    sim = ma_dot_pairs(x32, a, x32, b)
    hit = sim >= t32
    return a[hit], b[hit], sim[hit]


def greedy(n, a, b, sim, threshold, order=None):
    """kernels/keep.h's greedy rule over the pairs (a, b, sim) of n items 0..n-1: visit the items in
    `order` (default 0..n-1, lowest id first), keep one unless it is >= float32(threshold) to an item
    already kept; a removed item's representative is the kept one it is most similar to (ties: the one
    visited first). Returns (keep uint8 [n], rep int64 [n])."""
    t32 = np.float32(threshold)
    hit = sim >= t32
    nbrs = [[] for _ in range(n)]
    for u, v, s in zip(a[hit].tolist(), b[hit].tolist(), sim[hit].tolist()):
        nbrs[u].append((v, s))
        nbrs[v].append((u, s))
    order = np.arange(n) if order is None else np.asarray(order)
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    keep, rep = np.zeros(n, np.uint8), np.arange(n, dtype=np.int64)
    for i in order.tolist():
        kept = [(-s, rank[v], v) for v, s in nbrs[i] if keep[v]]
        if kept:
            rep[i] = min(kept)[2]
        else:
            keep[i] = 1
    return keep, rep
