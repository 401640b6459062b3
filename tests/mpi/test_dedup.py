"""memaudit dedup end to end, checked against numpy and against its own --exact.

1. Reclustering works: on a set where one clustering finds clearly less (<= 0.9), five reach >= 0.95 of
   the exact pairs; every reported pair is >= float32(T) and its similarity is, bit for bit, the exact
   inner product recomputed in numpy in memaudit's summation order (exact.py): precision 1.0, exactly;
   --exact reports exactly the pairs numpy finds >= float32(T) in that order, no more, no fewer; each /recall estimate
   is within twice its interval's half-width of the true recall after that many clusterings (the bounds'
   margins, measured on several paths and rank counts, are noted beside them). --kmeans-stop: the default stops k-means
   before nothing moves, `converged` does not.
2. /keep, /pairs, /representative (every dataset and attribute) and the summary are identical at 1, 2, 3,
   4 ranks (float16, shards, two thresholds); the layout (layout.py, and spec_check when ../shared has it),
   and that the layout check catches a broken copy.
3. Keep decisions: /keep and /representative equal the greedy rule recomputed from /pairs (every removed
   item and its representative a reported pair >= T; no pair >= T with both ends kept), and so does every
   /sweep/<i>/keep at its own threshold; one-per-group (exactly one kept per connected group), --priority, --keep-list.
4. A cluster too large for the memory budget is cut into blocks searched over several rounds and ranks,
   with the same result as an unconstrained run (two files, compared), and a non-empty pair set.
5. Usage and data errors.
"""
import json
import os

import h5py
import numpy as np

from exact import greedy, ma_dot_pairs, ma_normalize, pairs_at_least
from harness import expect_error, layout_selftest, ok, run, same_result, spec_check, workdir

d = workdir('dedup')


def unit(path, name='embeddings'):
    """The rows as memaudit holds them after reading: normalised in its order (float16 stays float16)."""
    with h5py.File(path, 'r') as f:
        x = f[name][...]
    return ma_normalize(x, half=x.dtype == np.float16)


def exact_pairs(x, p, threshold, what):
    """Every pair of `p` is >= float32(threshold) and its sim is the exact similarity, bit for bit."""
    assert np.all(p['sim'] >= np.float32(threshold)), f'{what}: a reported pair sits at {p["sim"].min()}'
    want = ma_dot_pairs(x, p['a'], x, p['b'])
    bad = np.nonzero(want.view(np.uint32) != p['sim'].view(np.uint32))[0]
    assert not len(bad), f'{what}: {len(bad)} reported similarities differ from the exact ones, e.g. ' \
        f'({p["a"][bad[0]]}, {p["b"][bad[0]]}): {p["sim"][bad[0]]!r} vs {want[bad[0]]!r}'


def pairs(path):
    with h5py.File(path, 'r') as f:
        return f['pairs'][...]


# 1. Recall of reclustering, precision, the recall estimate.
data = os.path.join(d, 'recall.h5')
run(2, 'synth', '--n', 30000, '--dim', 96, '--concepts', 8, '--dup-noise', 0.4, '--seed', 5, '-o', data, '-q')
res, summ = os.path.join(d, 'recall-r.h5'), os.path.join(d, 'recall-r.json')
run(2, 'dedup', '-i', data, '--clusters', 1536, '--reclusterings', 5, '--threshold', 0.8, '--recall-sample', 2000,
    '-o', res, '--summary', summ, '-q')
exact = os.path.join(d, 'recall-e.h5')
run(2, 'dedup', '-i', data, '--exact', '--threshold', 0.8, '-o', exact, '-q')
spec_check('dedup', res, summ)
spec_check('dedup', exact)
x = unit(data)
found, truth = pairs(res), pairs(exact)
assert len(found) > 1000, len(found)
exact_pairs(x, found, 0.8, 'reclustered')
exact_pairs(x, truth, 0.8, '--exact')
true_set = set(zip(truth['a'].tolist(), truth['b'].tolist()))
assert set(zip(found['a'].tolist(), found['b'].tolist())) <= true_set
recall = [np.mean([(a, b) in true_set for a, b in zip(found['a'][found['clustering'] <= r].tolist(),
                                                     found['b'][found['clustering'] <= r].tolist())])
          * np.sum(found['clustering'] <= r) / len(true_set) for r in range(5)]
print('true recall after 1..5 clusterings:', [round(v, 4) for v in recall])
# True recall after 5 clusterings, measured on an AMD EPYC (AVX-512; OpenBLAS picks its Haswell core):
#   work tree with MEMAUDIT_ISA honoured: 0.96892 on avx512 (default), avx2 and scalar at 1, 2, 3, 4 ranks;
#     0.98425 with OPENBLAS_CORETYPE=SkylakeX or Sandybridge (1 and 4 ranks; scalar + SkylakeX, 3 ranks)
#   commit c33de99 (before the C changes now under way): 0.96897 / 0.96892 / 0.96897 / 0.98425 at 1 / 2 /
#     3 / 4 ranks with the default, Haswell or Zen core; 0.98425 at 1-4 ranks with SkylakeX or Sandybridge
#   another CPU (the issue): 0.9689
# Two outcomes (clustering 3 lands one way or the other: 0.9399 or 0.9697 after 4), and the old bound 0.97
# sat between them. 0.95 keeps 0.019 below the lowest value measured, more than the 0.015 between the two
# outcomes. After one clustering: 0.63339 on every path, 0.27 below the 0.9 that shows reclustering matters.
assert recall[4] >= 0.95, f'recall with 5 clusterings {recall[4]:.4f} < 0.95'
assert recall[0] <= 0.9, f'one clustering already finds {recall[0]:.4f}: the set does not show reclustering'
with h5py.File(res, 'r') as f:
    est = f['recall'][...]
    assert list(est['clusterings']) == [1, 2, 3, 4, 5]
    # |true - estimate| in half-widths of the 95% interval, on the same paths and rank counts: at most 0.30
    # on the 0.969 outcome, but 0.85 and 0.87 after 4 and 5 clusterings on the 0.984 one (true 0.98425,
    # estimate 0.9893 in 0.9835-0.9951: inside by 0.0007 only), where the plain interval test would
    # straddle. Within twice the half-width leaves 1.13 half-widths spare. (The Wilson interval is over
    # pairs, which the 2000 sampled items do not draw independently, so it is narrower than the spread.)
    for r in range(5):
        half = (est['ci_high'][r] - est['ci_low'][r]) / 2
        z = abs(recall[r] - est['recall'][r]) / half
        assert z <= 2, f'after {r + 1}: true recall {recall[r]:.4f}, estimate {est["recall"][r]:.4f} ' \
            f'[{est["ci_low"][r]:.4f}, {est["ci_high"][r]:.4f}]: {z:.2f} half-widths away'
s = json.load(open(summ))
assert s['pairs'] == len(found) and len(s['recall']) == 5 and s['removed'] == int((h5py.File(res)['keep'][...] == 0).sum())

# --kmeans-stop: by default (search-cost) k-means stops once an iteration saves less search than it costs;
# on this set (K = 1536 for 30,000 items) the search is cheap, so that comes long before nothing moves.
iters = {}
for rule in ('search-cost', 'converged'):
    out = os.path.join(d, f'stop-{rule}.h5')
    _, err = run(2, 'dedup', '-i', data, '--clusters', 1536, '--reclusterings', 1, '--threshold', 0.8,
                 '--recall-sample', 0, '--kmeans-stop', rule, '-o', out)
    assert ('less than an iteration' in err) == (rule == 'search-cost'), err
    with h5py.File(out, 'r') as f:
        iters[rule] = int(f['clusterings/0'].attrs['iterations'])
        p = f['pairs'][...]
        cent, assign = f['clusterings/0/centroids'][...], f['clusterings/0/assignment'][...]
    exact_pairs(x, p, 0.8, f'--kmeans-stop {rule}')
    # every item at its nearest centroid, the sample's (whose Lloyd assignment is reused) included. The
    # argmax itself is exact and tested bit for bit in tests/unit/test_k_ip_tile.c; here numpy's float64
    # matmul stands in for it (30,000 x 1536 in memaudit's order would take minutes), within 1e-13 of it.
    # The 1e-5 margin tolerates near-ties only: an item put at a centroid 1e-5 or more worse than its
    # best fails.
    sim = x.astype(np.float64) @ cent.T.astype(np.float64)
    got = sim[np.arange(len(x)), assign]
    assert np.all(got >= sim.max(axis=1) - 1e-5), f'{rule}: an item is not at its nearest centroid'
assert iters['search-cost'] < iters['converged'], iters

# 2. Identical at 1, 2, 3, 4 ranks (datasets, attributes, summary): float16, two shards, two thresholds.
data = os.path.join(d, 'ranks.h5')
run(2, 'synth', '--n', 8001, '--dim', 64, '--dtype', 'f16', '--shards', 2, '--concepts', 30, '--dup-noise', 0.25,
    '--seed', 9, '-o', data, '-q')
listing = data[:-3] + '.list'
outs = []
for r in (1, 2, 3, 4):
    out = os.path.join(d, f'ranks-{r}.h5')
    run(r, 'dedup', '-i', '@' + listing, '--clusters', 48, '--reclusterings', 2, '--threshold', '0.93,0.9',
        '--recall-sample', 300, '--iters', 8, '-o', out, '--summary', out[:-3] + '.json', '-q')
    outs.append(out)
for o in outs[1:]:
    same_result(outs[0], o, summaries=(outs[0][:-3] + '.json', o[:-3] + '.json'))
spec_check('dedup', outs[0], outs[0][:-3] + '.json')
layout_selftest('dedup', outs[0], outs[0][:-3] + '.json')

# 3. Keep decisions (greedy) on that result: recomputed from /pairs, at the primary threshold and at
# each /sweep threshold.
x = np.concatenate([unit(p) for p in open(listing).read().split()])
with h5py.File(outs[0], 'r') as f:
    ids, keep, rep, p = f['ids'][...], f['keep'][...], f['representative'][...], f['pairs'][...]
    sweeps = {float(g.attrs['threshold']): g['keep'][...] for g in f['sweep'].values()}
assert list(sweeps) == [0.9], sweeps
assert np.array_equal(ids, np.arange(len(ids)))
exact_pairs(x, p, 0.9, 'ranks set')
gone = np.nonzero(keep == 0)[0]
assert len(gone) > 100, len(gone)
want_keep, want_rep = greedy(len(ids), p['a'], p['b'], p['sim'], 0.93)
assert np.array_equal(keep, want_keep), f'/keep differs from the greedy rule at {np.nonzero(keep != want_keep)[0][:10]}'
assert np.array_equal(rep, want_rep), f'/representative differs at {np.nonzero(rep != want_rep)[0][:10]}'
sim_of = {(a, b): s for a, b, s in zip(p['a'].tolist(), p['b'].tolist(), p['sim'].tolist())}
for i in gone.tolist():
    pair = (min(i, int(rep[i])), max(i, int(rep[i])))
    assert keep[rep[i]] == 1 and sim_of.get(pair, -2) >= np.float32(0.93), f'{i} -> {rep[i]}: not a reported pair >= T'
for t, mask in sweeps.items():
    want, _ = greedy(len(ids), p['a'], p['b'], p['sim'], t)
    assert np.array_equal(mask, want), f'/sweep at {t} differs from the greedy rule at {np.nonzero(mask != want)[0][:10]}'
    assert int((mask == 0).sum()) >= len(gone), 'a lower threshold removed fewer'


def components(a, b, n):
    parent = list(range(n))

    def find(u):
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u
    for u, v in zip(a.tolist(), b.tolist()):
        parent[find(u)] = find(v)
    return np.array([find(u) for u in range(n)])


# one-per-group, with a priority that visits the highest id first.
prio = os.path.join(d, 'priority.h5')
with h5py.File(prio, 'w') as f:
    f['score'] = np.arange(8001, dtype=np.float64)
out = os.path.join(d, 'opg.h5')
keep_list = os.path.join(d, 'kept.txt')
run(3, 'dedup', '-i', '@' + listing, '--clusters', 48, '--reclusterings', 2, '--threshold', 0.93, '--iters', 8,
    '--keep', 'one-per-group', '--priority', prio + ':/score', '--keep-list', keep_list, '-o', out, '-q')
with h5py.File(out, 'r') as f:
    keep, rep, p = f['keep'][...], f['representative'][...], f['pairs'][...]
comp = components(p['a'], p['b'], len(keep))
members = np.bincount(comp, minlength=len(keep))
for c in np.unique(comp[members[comp] > 1]):
    idx = np.nonzero(comp == c)[0]
    assert keep[idx].sum() == 1, f'group {c}: {keep[idx].sum()} kept'
    assert keep[idx.max()] == 1, f'group {c}: the highest-priority item is not the kept one'
    assert np.all(rep[idx] == idx.max())
assert np.all(keep[members == 1] == 1)
listed = np.array([int(v) for v in open(keep_list).read().split()])
assert np.array_equal(listed, np.nonzero(keep)[0]), '--keep-list differs from /keep'

# 4. One cluster larger than the budget allows: blocks over rounds and ranks, same pairs.


def tight_budget(err, spare_mib):
    """A budget spare_mib above what the run said it needs before its search rounds."""
    need = float(err.split('needs about ')[1].split(' MiB')[0])
    return f'{int((need + spare_mib) * 1024)}K'


free_run = os.path.join(d, 'exact-free.h5')
_, err = run(3, 'dedup', '-i', '@' + listing, '--exact', '--threshold', 0.9, '-o', free_run)
tight = os.path.join(d, 'exact-tight.h5')
_, err = run(3, 'dedup', '-i', '@' + listing, '--exact', '--threshold', 0.9, '--mem-per-rank', tight_budget(err, 1.0),
             '-o', tight)
assert 'split into blocks' in err and ' 1 round' not in err, err
same_result(free_run, tight)
# --exact is the reference: exactly the pairs numpy finds >= float32(0.9) in memaudit's order.
ea, eb, es = pairs_at_least(x, 0.9)
got = pairs(free_run)
assert len(got) > 1000 and np.array_equal(got['a'], ea) and np.array_equal(got['b'], eb), \
    f'--exact: {len(got)} pairs, numpy {len(ea)}; only in --exact ' \
    f'{sorted(set(zip(got["a"].tolist(), got["b"].tolist())) - set(zip(ea.tolist(), eb.tolist())))[:5]}, only in numpy ' \
    f'{sorted(set(zip(ea.tolist(), eb.tolist())) - set(zip(got["a"].tolist(), got["b"].tolist())))[:5]}'
assert got['sim'].tobytes() == es.tobytes(), '--exact: similarities differ from numpy in the same order'
skew = os.path.join(d, 'skew.h5')
rng = np.random.default_rng(3)
centre = rng.standard_normal(64)
# half the rows in one tight concept: 31,483 pairs >= 0.9 among them (at 0.35 noise it was 11 million,
# three minutes of writing pairs)
blob = centre + 0.5 * rng.standard_normal((6000, 64))
rest = rng.standard_normal((6000, 64))
with h5py.File(skew, 'w') as f:
    f['embeddings'] = np.concatenate([blob, rest]).astype(np.float32)
free_run, out = os.path.join(d, 'skew-free.h5'), os.path.join(d, 'skew-tight.h5')
_, err = run(2, 'dedup', '-i', skew, '--clusters', 4, '--reclusterings', 1, '--threshold', 0.9, '--recall-sample', 0,
             '-o', free_run)
rounds_free = int(err.split(' rounds,')[0].split(' in ')[-1]) if ' rounds,' in err else 1
_, err = run(2, 'dedup', '-i', skew, '--clusters', 4, '--reclusterings', 1, '--threshold', 0.9, '--recall-sample', 0,
             '--mem-per-rank', tight_budget(err, 2.0), '-o', out)
with h5py.File(out, 'r') as f:
    sizes = f['clusterings/0/sizes'][...]
    assert sizes.max() >= 5500, f'no cluster holds half the data: {sizes}'
assert 'split into blocks' in err and int(err.split(' rounds,')[0].split(' in ')[-1]) > rounds_free, err
same_result(free_run, out)  # the budget changes how the search runs, not what it finds
ex = os.path.join(d, 'skew-e.h5')
run(2, 'dedup', '-i', skew, '--exact', '--threshold', 0.9, '-o', ex, '-q')
got, want = pairs(out), pairs(ex)
assert len(got) > 100, f'the skewed set yields {len(got)} pairs: the comparison would prove nothing'
assert set(zip(got['a'].tolist(), got['b'].tolist())) <= set(zip(want['a'].tolist(), want['b'].tolist()))

# 5. Errors.
expect_error(2, 2, ['--threshold'], 'dedup', '-i', '@' + listing, '--threshold', 1.5, '-o', 'x.h5')
expect_error(2, 2, ['--threshold'], 'dedup', '-i', '@' + listing, '--threshold', '0.9,abc', '-o', 'x.h5')
expect_error(1, 2, ['--keep'], 'dedup', '-i', '@' + listing, '--keep', 'all', '-o', 'x.h5')
expect_error(1, 2, ['--kmeans-stop'], 'dedup', '-i', '@' + listing, '--kmeans-stop', 'never', '-o', 'x.h5')
expect_error(1, 2, ['--clusters'], 'dedup', '-i', '@' + listing, '--clusters', -1, '-o', 'x.h5')
expect_error(1, 2, ['--drop-invalid'], 'dedup', '-i', '@' + listing, '--priority', prio + ':/score', '--drop-invalid', '-o', 'x.h5')
expect_error(2, 3, ['fewer than', '100000 clusters'], 'dedup', '-i', '@' + listing, '--clusters', 100000, '-o', os.path.join(d, 'x.h5'))
expect_error(2, 3, ['--priority', '8001 entries'], 'dedup', '-i', skew, '--priority', prio + ':/score', '--clusters', 4,
             '-o', os.path.join(d, 'x.h5'))
assert not os.path.exists(os.path.join(d, 'x.h5'))
ok('dedup')
