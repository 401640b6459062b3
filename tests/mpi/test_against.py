"""dedup --against: new items (-i) checked against kept ones, compared with numpy's exact answer. --exact
finds exactly numpy's new-new and new-kept pairs and no kept-kept one; the clustered search finds a
subset of them (its recall measured here and by /recall), every pair truly >= T, no kept item removed
or compared with another, every new item with a found kept partner removed; byte-identical at 1-4
ranks; resumed from --workdir at another rank count; ids unique across both sets."""
import csv
import os
import sys

import h5py
import numpy as np

from harness import expect_error, ok, run, same_result, spec_check, workdir

d = workdir('against')
rng = np.random.default_rng(33)
D, T = 16, 0.95
NN, NK = 700, 600  # new, kept
kept = rng.standard_normal((NK, D)).astype(np.float32)
kept[500:560] = kept[400:460] + 0.01 * rng.standard_normal((60, D)).astype(np.float32)  # kept-kept pairs
new = rng.standard_normal((NN, D)).astype(np.float32)
new[:120] = kept[rng.choice(NK, 120, replace=False)] + 0.01 * rng.standard_normal((120, D)).astype(np.float32)
new[120:180] = new[300:360] + 0.01 * rng.standard_normal((60, D)).astype(np.float32)  # new-new pairs
perm = rng.permutation(NN)
new = new[perm]


def path(name):
    return os.path.join(d, name)


np.save(path('new0.npy'), new[:300])
with h5py.File(path('new1.h5'), 'w') as f:
    f['embeddings'] = new[300:]
np.save(path('kept0.npy'), kept[:250])
with h5py.File(path('kept1.h5'), 'w') as f:
    f['embeddings'] = kept[250:]
open(path('kept.list'), 'w').write(f'{path("kept0.npy")}\n{path("kept1.h5")}\n')

# numpy's exact answer: ids are row numbers, the kept ones after the new ones
X = np.concatenate([new, kept]).astype(np.float64)
X /= np.linalg.norm(X, axis=1, keepdims=True)
S = X[:NN] @ X.T
close = np.abs(S - T) < 1e-3
assert not close.any(), 'fixture: a pair sits at the threshold; change the seed'
truth = {(i, j) for i, j in zip(*np.nonzero(S >= T)) if i != j and (j >= NN or i < j)}
assert sum(j >= NN for _, j in truth) >= 120 and sum(j < NN for _, j in truth) >= 60
kept_partner = {i for i, j in truth if j >= NN}


def dedup(ranks, tag, *extra):
    out, summ = path(f'{tag}.h5'), path(f'{tag}.json')
    run(ranks, 'dedup', '-i', path('new0.npy'), '-i', path('new1.h5'), '--against', '@' + path('kept.list'),
        '--threshold', T, '-o', out, '--summary', summ, *extra)
    return out, summ


def pairs_of(out):
    with h5py.File(out, 'r') as f:
        p = f['pairs'][...]
    return {(int(a), int(b)): float(s) for a, b, s in zip(p['a'], p['b'], p['sim'])}


# --exact: numpy's answer, pair for pair
ex, _ = dedup(2, 'exact', '--exact', '--recall-sample', 0)
found = pairs_of(ex)
assert set(found) == truth, f'--exact: {len(set(found) ^ truth)} pairs differ from numpy'
spec_check('dedup', ex)

# clustered, at 1-4 ranks
outs = [dedup(r, f'k{r}', '--clusters', 6, '--reclusterings', 3, '--removed-csv', path(f'k{r}.csv')) for r in (1, 2, 3, 4)]
for o, s in outs[1:]:
    same_result(outs[0][0], o, summaries=(outs[0][1], s))
    assert open(o[:-3] + '.csv', 'rb').read() == open(outs[0][0][:-3] + '.csv', 'rb').read()
out = outs[0][0]
spec_check('dedup', out, outs[0][1])
with h5py.File(out, 'r') as f:
    ids, keep, rep = f['ids'][...], f['keep'][...], f['representative'][...]
    assert int(f.attrs['n']) == NN and int(f.attrs['against']) == NK, dict(f.attrs)
    assert f['clusterings/0/assignment'].shape == (NN + NK,)
    recall = f['recall'][...]
assert list(ids) == list(range(NN)) and keep.shape == (NN,)
found = pairs_of(out)
assert set(found) <= truth, f'{len(set(found) - truth)} reported pairs are not >= {T} by numpy'
assert not any(a >= NN for a, _ in found), 'a pair of two kept items was reported'
for (a, b), sim in found.items():
    assert abs(sim - S[a, b]) < 1e-5, (a, b, sim, S[a, b])
measured = len(found) / len(truth)
assert measured >= 0.9, f'recall {measured:.3f}'
assert abs(recall[-1]['recall'] - measured) < 0.05 and recall[-1]['true_pairs'] == len(truth), (recall[-1], measured)
found_kept = {a for a, b in found if b >= NN}
assert all(keep[i] == 0 for i in found_kept), 'a new item with a found kept partner was kept'
removed_for_kept = sum(keep[i] == 0 for i in kept_partner) / len(kept_partner)
assert removed_for_kept >= measured - 0.05, (removed_for_kept, measured)
for i in np.nonzero(keep == 0)[0]:
    r = int(rep[i])
    assert r >= NN or keep[r] == 1, (i, r)
    assert (min(i, r), max(i, r)) in found, (i, r)
rows = list(csv.DictReader(open(outs[0][0][:-3] + '.csv', newline='')))
assert len(rows) == int((keep == 0).sum())
assert any(r['representative_file'].endswith('kept1.h5') for r in rows)
assert all(int(r['representative']) >= NN for r in rows if r['representative_file'].startswith(path('kept')))
ok(f'against: {len(found)} of {len(truth)} pairs, recall {measured:.3f}, {len(rows)} removed; identical at 1-4 ranks')

# resume: the clusterings and pairs saved by one run are what another rank count loads
wd = path('work')
a, _ = dedup(2, 'wd2', '--clusters', 6, '--reclusterings', 3, '--workdir', wd)
os.remove(a)
_, err = run(3, 'dedup', '-i', path('new0.npy'), '-i', path('new1.h5'), '--against', '@' + path('kept.list'),
             '--threshold', T, '-o', a, '--clusters', 6, '--reclusterings', 3, '--workdir', wd)
assert 'loaded from' in err, err[-2000:]
same_result(outs[0][0], a)
ok('against: resumed from --workdir')

# ids unique across both sets: an -i shard whose own ids collide with the kept rows' implicit ones
with h5py.File(path('clash.h5'), 'w') as f:
    f['embeddings'] = new[:50]
    f['ids'] = np.arange(50, dtype=np.int64) + 50  # the kept rows' ids start at 50
expect_error(2, 3, ['duplicate id'], 'dedup', '-i', path('clash.h5'), '--against', path('kept0.npy'),
             '--clusters', 2, '-o', path('x.h5'))
expect_error(2, 2, ['--against', 'an output may not overwrite an input'], 'dedup', '-i', path('new0.npy'),
             '--against', path('kept1.h5'), '-o', path('kept1.h5'))
assert not os.path.exists(path('x.h5'))
ok('against: refused inputs')

# report: the new-kept pairs as their own section, most similar first, the new item first
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'report'))
from report_pages import check_folder  # noqa: E402
run(1, 'report', out, '-o', path('report'))
pages = check_folder(path('report'))
text = pages['index.html'].plain_text()
new_kept = sorted(((s, a, b) for (a, b), s in found.items() if b >= NN), key=lambda t: (-np.float32(t[0]), t[1], t[2]))
assert 'against' in pages['index.html'].sections, pages['index.html'].sections
assert f'kept items (--against) {NK}' in text and f'pairs of a new item and a kept one {len(new_kept)}' in text, text[:600]
strips = [st for name in sorted(pages) if name.startswith('against-') for st in pages[name].strips]
assert len(strips) == min(len(new_kept), 100), (len(strips), len(new_kept))
for st, (sim, a, b) in zip(strips, new_kept):
    ids_shown = [int(c['caption'].split('\n')[0]) for c in st['cells']]
    assert ids_shown == [a, b] and f'{sim:.6f}' in st['head'], (st, sim, a, b)
    assert st['cells'][1]['caption'].endswith('kept (--against)'), st
ok('against: report section of new-kept pairs')
