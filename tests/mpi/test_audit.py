"""memaudit audit against a brute-force reference and against planted regurgitation.

- exact k-NN: /neighbors, /similarity, /near_count, /source_similarity and the holdout's nearest equal a
  numpy reference bit for bit (exact.py: memaudit's row normalisation, and each similarity summed in
  double in memaudit's lane order, rounded to float once), the count of samples whose nearest neighbour
  is their source, with exact duplicate training rows whose ids are not in
  row order (ties go to the lower id), float16 holdout against float32 training, and blocks smaller than
  a rank's queries; the result (every dataset and attribute) and its summary are identical at 1, 2, 3
  and 4 ranks
- a training set smaller than k (lists shrink to its size), with a rank that holds no training rows
- the statistics, recomputed in Python from /similarity[:, 0] and /holdout/similarity and compared
  exactly: Mann-Whitney U, AUC, z and p (kernels/mannwhitney.c's definitions: midranks, the tie
  correction, a continuity correction of 0.5), fraction_at_threshold, the flagged counts
- synth --regurgitate 0.01: every planted copy is flagged and nothing else, verdict "regurgitation";
  --regurgitate 0: nothing is flagged, verdict "no evidence"; samples made closer to their training rows
  than the holdout is (but none at the threshold): verdict "closer than baseline"; holdout statistics, the train-to-train baseline, the CSV (sorted, the
  flagged samples with their values) and the layout (layout.py, and spec_check when ../shared has it)
- errors: D mismatch (exit 3, one line naming both files), a source id that is not a training id, a
  missing --source-ids dataset (exit 3), a threshold outside [-1, 1] (exit 2)
"""
import csv
import json
import math
import os

import h5py
import numpy as np

from exact import ma_dot, ma_normalize
from harness import datasets, expect_error, layout_selftest, ok, run, same_result, spec_check, workdir

d = workdir('audit')
rng = np.random.default_rng(11)


def reference(q, t, tids, k, thr):
    s = ma_dot(q, t)
    k = min(k, t.shape[0])
    nb = np.empty((q.shape[0], k), np.int64)
    sim = np.empty((q.shape[0], k), np.float32)
    for i in range(q.shape[0]):
        order = np.lexsort((tids, -s[i]))[:k]  # most similar first, then lower id
        nb[i], sim[i] = tids[order], s[i, order]
    return nb, sim, (s >= np.float32(thr)).sum(axis=1).astype(np.int64), s


def mann_whitney(a, b):
    """kernels/mannwhitney.c, operation for operation in double: U from the midranks of the pooled
    float32 values (a run of equal values [s, e) shares (s + 1 + e) / 2), AUC = U / (na nb), the tie
    correction, z with a continuity correction of 0.5, p = P(Z >= z) = erfc(z / sqrt 2) / 2. U is a sum
    of halves of integers, exact in any order; AUC, z and p are a fixed sequence of correctly rounded
    operations (and erfc, from the same libm), so all four compare with ==."""
    pooled = np.concatenate([np.asarray(a, np.float32), np.asarray(b, np.float32)])
    from_a = np.r_[np.ones(len(a), bool), np.zeros(len(b), bool)]
    order = np.argsort(pooled, kind='stable')
    v, fa = pooled[order], from_a[order]
    starts = np.r_[0, np.nonzero(v[1:] != v[:-1])[0] + 1]
    ends = np.r_[starts[1:], len(v)]
    in_a = np.add.reduceat(fa.astype(np.int64), starts)
    rank_sum = sum(int(c) * (int(s) + 1 + int(e)) for c, s, e in zip(in_a, starts, ends)) / 2
    ties = float(sum((int(e) - int(s)) ** 3 - (int(e) - int(s)) for s, e in zip(starts, ends)))
    na, nb, n = float(len(a)), float(len(b)), float(len(pooled))
    u = rank_sum - na * (na + 1) / 2
    var = na * nb / 12 * ((n + 1) - (ties / (n * (n - 1)) if n > 1 else 0))
    z = (u - na * nb / 2 - 0.5) / math.sqrt(var) if var > 0 else 0.0
    p = 0.5 * math.erfc(z / math.sqrt(2.0)) if var > 0 else 1.0
    return {'u': u, 'auc': u / (na * nb), 'z': z, 'p_value': p}


def check_statistics(what, result, summary, threshold):
    """The summary's and the file's statistics against those recomputed from the file's similarities."""
    s = json.load(open(summary))
    with h5py.File(result, 'r') as f:
        near, hold = f['similarity'][:, 0], f['holdout/similarity'][...]
        mw_p = float(f.attrs['mann_whitney_p'])
        verdict = f.attrs['verdict']
    t = np.float32(threshold)
    want = mann_whitney(near, hold)
    assert s['mann_whitney']['u'] == want['u'] and s['mann_whitney']['auc'] == want['auc'], \
        f'{what}: U, AUC {s["mann_whitney"]["u"]!r}, {s["mann_whitney"]["auc"]!r}; recomputed {want["u"]!r}, {want["auc"]!r}'
    assert s['mann_whitney']['z'] == want['z'] and s['mann_whitney']['p_value'] == want['p_value'] == mw_p, \
        f'{what}: z, p {s["mann_whitney"]["z"]!r}, {s["mann_whitney"]["p_value"]!r} (file {mw_p!r}); recomputed {want}'
    flagged, at = int((near >= t).sum()), int((hold >= t).sum())
    assert s['flagged'] == flagged and s['generated'] == len(near) and s['holdout'] == len(hold), s
    assert s['fraction_at_threshold'] == {'generated': flagged / len(near), 'holdout': at / len(hold)}, \
        s['fraction_at_threshold']
    assert (verdict.decode() if isinstance(verdict, bytes) else verdict) == s['verdict']
    return s, want


def write(path, x, ids=None, dtype=np.float32, **extra):
    with h5py.File(path, 'w') as f:
        f['embeddings'] = x.astype(dtype)
        if ids is not None:
            f['ids'] = np.asarray(ids, np.int64)
        for name, v in extra.items():
            f[name] = v


# 1. Brute-force reference, ties included, at 1-4 ranks.
dim, n, m, h = 64, 3000, 400, 300
centres = rng.standard_normal((20, dim))
train = (centres[rng.integers(0, 20, n)] + 0.8 * rng.standard_normal((n, dim))).astype(np.float32)
dup_src = rng.choice(n, 40, replace=False)
train[rng.choice(np.setdiff1d(np.arange(n), dup_src), 40, replace=False)] = train[dup_src]  # exact duplicates
tids = (rng.permutation(n) * 7 + 5).astype(np.int64)  # ids not in row order
gen = (centres[rng.integers(0, 20, m)] + 0.8 * rng.standard_normal((m, dim))).astype(np.float32)
gen[:30] = train[dup_src[:30]]  # exact copies of duplicated rows: tied nearest neighbours
gen[30:60] = train[rng.choice(n, 30)] + 0.05 * rng.standard_normal((30, dim)).astype(np.float32)
gids = np.arange(m, dtype=np.int64) + 100000
src_rows = rng.integers(0, n, m)
src_rows[:60] = np.r_[dup_src[:30], rng.choice(n, 30)]
hold = (centres[rng.integers(0, 20, h)] + 0.8 * rng.standard_normal((h, dim))).astype(np.float32)
tr_paths = [os.path.join(d, f'ref-train-{s}.h5') for s in (0, 1)]
write(tr_paths[0], train[:1700], tids[:1700])
write(tr_paths[1], train[1700:], tids[1700:])
gen_path, hold_path = os.path.join(d, 'ref-gen.h5'), os.path.join(d, 'ref-hold.h5')
write(gen_path, gen, gids, source_ids=tids[src_rows])
write(hold_path, hold, None, dtype=np.float16)

tn = ma_normalize(train)
gn = ma_normalize(gen)
hn = ma_normalize(hold.astype(np.float16), half=True)
thr = 0.9
nb, sim, cnt, s_all = reference(gn, tn, tids, 10, thr)
assert (cnt[:30] >= 2).all(), 'the planted exact duplicates should give ties'
hnb, hsim, hcnt, _ = reference(hn, tn, tids, 1, thr)

outs = []
for r in (1, 2, 3, 4):
    out = os.path.join(d, f'ref-{r}.h5')
    run(r, 'audit', '--train', tr_paths[0], '--train', tr_paths[1], '--generated', gen_path, '--holdout', hold_path,
        '--source-ids', '/source_ids', '--k', 10, '--threshold', thr, '--query-block', 64, '-o', out,
        '--summary', out[:-3] + '.json', '-q')
    outs.append(out)
res = datasets(outs[0])
assert np.array_equal(res['ids'], gids)
assert np.array_equal(res['neighbors'], nb), 'neighbors differ from the reference'
assert res['similarity'].tobytes() == sim.tobytes(), 'similarities differ from the reference'
assert np.array_equal(res['near_count'], cnt)
assert np.array_equal(res['flagged'], (sim[:, 0] >= np.float32(thr)).astype(np.uint8))
assert res['source_similarity'].tobytes() == s_all[np.arange(m), src_rows].tobytes()
assert np.array_equal(res['source_ids'], tids[src_rows])
assert np.array_equal(res['holdout/nearest'], hnb[:, 0]) and res['holdout/similarity'].tobytes() == hsim[:, 0].tobytes()
assert np.array_equal(res['holdout/near_count'], hcnt)
for o in outs[1:]:
    same_result(outs[0], o, summaries=(outs[0][:-3] + '.json', o[:-3] + '.json'))
s, _ = check_statistics('reference set', outs[0], outs[0][:-3] + '.json', thr)
is_source = int((nb[:, 0] == tids[src_rows]).sum())
# 18: the first 30 samples copy a duplicated row, whose lower id wins the tie (the source half the time)
assert 0 < is_source < m and s['paired']['source_is_nearest'] == is_source, (s['paired']['source_is_nearest'], is_source)
spec_check('audit', outs[0], outs[0][:-3] + '.json')
layout_selftest('audit', outs[0], outs[0][:-3] + '.json')

# A training set smaller than k: lists of 3; on 4 ranks one rank holds no training row.
tiny = os.path.join(d, 'tiny.h5')
write(tiny, train[:3], [30, 10, 20])
out = os.path.join(d, 'tiny-out.h5')
run(4, 'audit', '--train', tiny, '--generated', gen_path, '--k', 10, '--threshold', thr, '-o', out, '-q')
tnb, tsim, tcnt, _ = reference(gn, tn[:3], np.array([30, 10, 20], np.int64), 10, thr)
res = datasets(out)
assert res['neighbors'].shape == (m, 3) and np.array_equal(res['neighbors'], tnb)
assert res['similarity'].tobytes() == tsim.tobytes() and np.array_equal(res['near_count'], tcnt)
with h5py.File(out, 'r') as f:
    assert f.attrs['k'] == 3 and f.attrs['n'] == 3

# A similarity that only the summation order decides: q . t = a + b - a with a = q0 t0 at column 0, the
# tiny b = q8 t8 (2^-60 a) at column 8 and -a at column 16. In memaudit's order lane 0 holds a - a = 0,
# lane 8 holds b, and the fold gives b (4.3e-19); added left to right, or in 8 lanes, b is lost in a + b
# and the sum is 0. A reference that sums in another order fails here, whatever the CPU.
q, t = np.zeros((2, dim), np.float32), np.zeros((3, dim), np.float32)
q[0, [0, 8, 16]] = [1, 2.0 ** -30, 1]
t[0, [0, 8, 16]] = [1, 2.0 ** -30, -1]
q[1, 1], t[1, 2], t[2, 3] = 1, 1, 1
qn, tn_order = ma_normalize(q), ma_normalize(t)
seq = np.float32(sum(float(u) * float(v) for u, v in zip(qn[0].astype(np.float64), tn_order[0].astype(np.float64))))
order_train, order_gen, out = (os.path.join(d, f'order-{e}.h5') for e in ('train', 'gen', 'out'))
write(order_train, t)
write(order_gen, q)
run(2, 'audit', '--train', order_train, '--generated', order_gen, '--k', 3, '-o', out, '-q')
onb, osim, _, _ = reference(qn, tn_order, np.arange(3, dtype=np.int64), 3, thr)
res = datasets(out)
assert np.array_equal(res['neighbors'], onb) and res['similarity'].tobytes() == osim.tobytes(), \
    f'order case: {res["similarity"].tolist()} vs {osim.tolist()}'
assert ma_dot(qn[:1], tn_order[:1])[0, 0] > 0 and seq == 0, 'the order case does not tell the orders apart'

# 2. Planted regurgitation (synth), holdout, CSV, verdicts.
train_h5 = os.path.join(d, 'train.h5')
run(2, 'synth', '--n', 20000, '--dim', 64, '--concepts', 50, '--seed', 3, '--shards', 2, '-o', train_h5, '-q')
train_list = '@' + train_h5[:-3] + '.list'
samples = {}
for name, frac, seed in (('regurg', 0.01, 5), ('clean', 0, 6), ('holdout', 0, 99)):
    samples[name] = os.path.join(d, f'{name}.h5')
    run(2, 'synth', '--like', train_h5[:-3] + '-00000-of-00002.h5', '--regurgitate', frac, '--n', 2000, '--seed', seed,
        '-o', samples[name], '-q')
summaries = {}
for name in ('regurg', 'clean'):
    out, js, cs = (os.path.join(d, f'{name}-audit.{e}') for e in ('h5', 'json', 'csv'))
    _, err = run(2, 'audit', '--train', train_list, '--generated', samples[name], '--holdout', samples['holdout'],
                 '--source-ids', '/source_ids', '--csv', cs, '-o', out, '--summary', js)
    assert 'ETA' in err or '100%' in err, err
    spec_check('audit', out, js)
    s = summaries[name] = json.load(open(js))
    with h5py.File(samples[name], 'r') as g, h5py.File(out, 'r') as f:
        copied = g['truth/copied_from'][...]
        flagged = f['flagged'][...].astype(bool)
        near = f['similarity'][:, 0]
        assert np.array_equal(flagged, copied >= 0), \
            f'{name}: flagged {np.flatnonzero(flagged)} vs planted {np.flatnonzero(copied >= 0)}'
        # Measured: non-copies at most 0.851 (regurg) and 0.828 (clean), copies at >= 0.998, against the
        # threshold 0.95; the similarities are exact (double), the same on every path and rank count.
        assert near[copied < 0].max() < 0.95, f'{name}: a non-copy sits at {near[copied < 0].max()}'
        if (copied >= 0).any():
            assert np.array_equal(f['neighbors'][:, 0][copied >= 0], copied[copied >= 0])
            assert np.array_equal(f['source_similarity'][...][copied >= 0], near[copied >= 0])
        verdict = f.attrs['verdict']
        assert f['holdout/similarity'].shape == (2000,) and (verdict.decode() if isinstance(verdict, bytes) else verdict) == s['verdict']
        rows = list(csv.DictReader(open(cs)))
        assert len(rows) == flagged.sum() == s['flagged']
        ids, sims = f['ids'][...], f['similarity'][...]
        want = sorted(((-sims[i, 0], ids[i]) for i in np.flatnonzero(flagged)))
        assert [int(r['sample_id']) for r in rows] == [int(i) for _, i in want], 'CSV not sorted by similarity'
        pos = {int(v): i for i, v in enumerate(ids)}
        for r in rows:
            i = pos[int(r['sample_id'])]
            assert int(r['nearest_id']) == f['neighbors'][i, 0] and np.float32(r['similarity']) == sims[i, 0]
            assert int(r['near_count']) == f['near_count'][i] and int(r['source_id']) == f['source_ids'][i]
    check_statistics(name, out, js, 0.95)
    with h5py.File(out, 'r') as f:
        is_source = int((f['neighbors'][:, 0] == f['source_ids'][...]).sum())
    assert s['paired']['source_is_nearest'] == is_source, (name, s['paired']['source_is_nearest'], is_source)
    assert s['baseline'] == 'holdout' and s['holdout'] == 2000
print('verdicts:', summaries['regurg']['verdict'], '|', summaries['clean']['verdict'])
print('clean: Mann-Whitney', summaries['clean']['mann_whitney'])
assert summaries['regurg']['flagged'] == 20 and summaries['clean']['flagged'] == 0
assert summaries['regurg']['verdict_kind'] == 'regurgitation'
assert summaries['regurg']['verdict'].startswith('regurgitation: 20 of 2000 samples (1.00%)'), summaries['regurg']['verdict']
# Clean samples and the holdout come from the same model: p measured 0.481 (AUC 0.5004), far from the 1e-3
# that would make it "closer than baseline"; the seeds are fixed and the figures exact, so it holds on
# every path.
assert summaries['clean']['verdict_kind'] == 'no evidence', summaries['clean']['verdict']
assert summaries['clean']['verdict'].startswith('no evidence of regurgitation: no sample has a training item at cosine >= 0.95, '
                                                'and no evidence that'), summaries['clean']['verdict']
assert summaries['regurg']['paired']['source_is_nearest'] >= 20

# Samples closer to the training set than the holdout is, but none at the threshold: each a training
# row of the reference set plus noise (cosine about 0.97 to it), audited at threshold 0.99, against the
# reference holdout (nearest similarities about 0.6-0.8).
shifted = train[rng.choice(n, 200, replace=False)] + 0.3 * rng.standard_normal((200, dim)).astype(np.float32)
shift_path, out, js = (os.path.join(d, f'shifted.{e}') for e in ('gen.h5', 'h5', 'json'))
write(shift_path, shifted)
run(2, 'audit', '--train', tr_paths[0], '--train', tr_paths[1], '--generated', shift_path, '--holdout', hold_path,
    '--threshold', 0.99, '-o', out, '--summary', js, '-q')
s, mw = check_statistics('shifted', out, js, 0.99)
print('shifted samples:', s['verdict'])
assert s['flagged'] == 0 and mw['p_value'] < 1e-3 and mw['auc'] > 0.9, mw
assert s['verdict_kind'] == 'closer than baseline', s['verdict']
assert s['verdict'].startswith('generated samples sit closer to the training set than holdout data does'), s['verdict']

# Without a holdout: the train-to-train baseline, checked against numpy for its sampled items.
out, js = os.path.join(d, 'base.h5'), os.path.join(d, 'base.json')
run(3, 'audit', '--train', train_list, '--generated', samples['clean'], '--baseline-sample', 300, '-o', out,
    '--summary', js, '-q')
s = json.load(open(js))
assert s['baseline'] == 'train-to-train sample of 300' and 'baseline_nearest_similarity' in s, s
with h5py.File(out, 'r') as f:
    bids, bsim, bnear = f['baseline/ids'][...], f['baseline/similarity'][...], f['baseline/nearest'][...]
x = np.concatenate([h5py.File(train_h5[:-3] + f'-0000{i}-of-00002.h5', 'r')['embeddings'][...] for i in (0, 1)])
xn = ma_normalize(x)
assert len(bids) == 300 and len(set(bids.tolist())) == 300 and np.all(np.diff(bids) > 0)
sb = ma_dot(xn[bids], xn)
sb[np.arange(300), bids] = -np.inf  # the item itself (ids are row numbers here)
best = np.lexsort((np.tile(np.arange(len(xn)), (300, 1)), -sb))[:, 0]
assert np.array_equal(bnear, best) and bsim.tobytes() == sb[np.arange(300), best].tobytes()
out2 = os.path.join(d, 'base-1.h5')
run(1, 'audit', '--train', train_list, '--generated', samples['clean'], '--baseline-sample', 300, '-o', out2,
    '--summary', out2[:-3] + '.json', '-q')
same_result(out, out2, summaries=(js, out2[:-3] + '.json'))

# 3. Errors.
narrow = os.path.join(d, 'narrow.h5')
write(narrow, rng.standard_normal((10, 32)))
line = expect_error(2, 3, ['narrow.h5', 'ref-train-0.h5', '32', '64'], 'audit', '--train', tr_paths[0],
                    '--generated', narrow, '-o', os.path.join(d, 'x.h5'))
assert not os.path.exists(os.path.join(d, 'x.h5'))
badsrc = os.path.join(d, 'badsrc.h5')
write(badsrc, gen[:50], None, source_ids=np.r_[tids[:49], 6].astype(np.int64))
expect_error(3, 3, ['badsrc.h5', 'row 49', 'source id 6'], 'audit', '--train', tr_paths[0], '--train', tr_paths[1],
             '--generated', badsrc, '--source-ids', '/source_ids', '-o', os.path.join(d, 'x.h5'))
expect_error(2, 3, ['ref-hold.h5', '/nope'], 'audit', '--train', tr_paths[0], '--generated', hold_path,
             '--source-ids', '/nope', '-o', os.path.join(d, 'x.h5'))
expect_error(1, 2, ['--threshold'], 'audit', '--train', tr_paths[0], '--generated', gen_path, '--threshold', 1.5,
             '-o', os.path.join(d, 'x.h5'))
expect_error(1, 2, ['--generated'], 'audit', '--train', tr_paths[0], '-o', os.path.join(d, 'x.h5'))
assert not os.path.exists(os.path.join(d, 'x.h5'))
out, _ = run(2, 'audit', '--help')
assert out.count('usage: memaudit audit') == 1
ok('audit')
