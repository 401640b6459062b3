"""memaudit kmeans against the truth and against FAISS.

- well-separated synth concepts, K = concepts: the partition is recovered (adjusted Rand index >= 0.99)
- the objective never gets worse from one iteration to the next (within rounding)
- the result (every dataset and attribute, the objective included) and the summary are identical at 1, 2,
  3 and 4 ranks, float32 and float16, R = 2
- final objective within 1% of faiss.Kmeans(spherical=True) with the same K and iterations (or better)
- guards: K > n (exit 3), bad options (exit 2), the result layout (layout.py, and spec_check when ../shared
  has it), and that the layout check catches a broken copy
"""
import os
import re
from collections import Counter
from math import comb

import faiss
import h5py
import numpy as np

from harness import expect_error, layout_selftest, ok, run, same_result, spec_check, workdir

d = workdir('kmeans')


def ari(x, y):
    c, a, b, n = Counter(zip(x, y)), Counter(x), Counter(y), len(x)
    s = sum(comb(v, 2) for v in c.values())
    sa, sb = sum(comb(v, 2) for v in a.values()), sum(comb(v, 2) for v in b.values())
    e = sa * sb / comb(n, 2)
    return (s - e) / ((sa + sb) / 2 - e)


# 1. Recovery of well-separated concepts, and a monotone objective.
sep = os.path.join(d, 'separated.h5')
run(2, 'synth', '--n', 12000, '--dim', 128, '--concepts', 32, '--dup-fraction', 0, '--concept-spread', 0.5,
    '--seed', 4, '-o', sep, '-q')
res = os.path.join(d, 'sep-k.h5')
_, err = run(3, 'kmeans', '-i', sep, '--clusters', 32, '--iters', 30, '--seed', 4, '-o', res,
             '--summary', res[:-3] + '.json')
with h5py.File(sep, 'r') as f, h5py.File(res, 'r') as r:
    truth, assign = f['truth/concept'][...], r['clusterings/0/assignment'][...]
    score = ari(list(truth), list(assign))
    # Measured: 1.0 on every path tried, 0.01 above the bound (1-4 ranks with OPENBLAS_CORETYPE=Haswell,
    # SkylakeX, Zen, Sandybridge; 1 and 3 ranks with MEMAUDIT_ISA=avx512, avx2, scalar).
    assert score >= 0.99, f'adjusted Rand index {score:.4f} < 0.99'
    assert r['clusterings/0/sizes'][...].sum() == 12000
spec_check('kmeans', res, res[:-3] + '.json')
layout_selftest('kmeans', res, res[:-3] + '.json')
objs = [float(m) for m in re.findall(r'objective ([0-9.]+), imbalance', err)]
assert len(objs) >= 2, err
# the log prints the objective to six decimals: 1e-6 is that resolution, not a tolerance on the value
assert all(b >= a - 1e-6 for a, b in zip(objs, objs[1:])), f'objective went down: {objs}'

# 2. Identical at 1, 2, 3, 4 ranks (datasets, attributes, summary), with two reclusterings, float32 and
# float16 (sharded).
for dtype in ('f32', 'f16'):
    data = os.path.join(d, f'data-{dtype}.h5')
    run(2, 'synth', '--n', 6001, '--dim', 48, '--concepts', 20, '--dtype', dtype, '--shards', 2, '--seed', 8,
        '-o', data, '-q')
    listing = data[:-3] + '.list'
    outs = []
    for r in (1, 2, 3, 4):
        out = os.path.join(d, f'k-{dtype}-{r}.h5')
        run(r, 'kmeans', '-i', '@' + listing, '--clusters', 40, '--iters', 8, '--sample-per-cluster', 64,
            '--reclusterings', 2, '--seed', 3, '-o', out, '--summary', out[:-3] + '.json', '-q')
        outs.append(out)
    for o in outs[1:]:
        same_result(outs[0], o, summaries=(outs[0][:-3] + '.json', o[:-3] + '.json'))
    with h5py.File(outs[0], 'r') as a, h5py.File(outs[3], 'r') as b:
        assert a.attrs['objective'] == b.attrs['objective']
        ca, cb = a['clusterings/0/assignment'][...], a['clusterings/1/assignment'][...]
        assert not np.array_equal(ca, cb), 'two reclusterings gave the same partition'

# 3. Against FAISS on the same data, K and iterations: objective within 1% (mean cosine to centroid).
data = os.path.join(d, 'faiss.h5')
run(2, 'synth', '--n', 20000, '--dim', 64, '--concepts', 100, '--seed', 2, '-o', data, '-q')
out = os.path.join(d, 'faiss-k.h5')
run(2, 'kmeans', '-i', data, '--clusters', 64, '--iters', 20, '--sample-per-cluster', 1000, '-o', out, '-q')
with h5py.File(data, 'r') as f, h5py.File(out, 'r') as r:
    x = f['embeddings'][...]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ours = float(r.attrs['objective'])
    c = r['clusterings/0/centroids'][...]
    a = r['clusterings/0/assignment'][...]
    recomputed = float(np.mean(np.sum(x * c[a], axis=1)))
    # Measured: 2.0e-10 apart (numpy normalises and sums in float32, memaudit in double); 1e-6 leaves a
    # factor 5000 over that (the bound was 1e-4).
    assert abs(recomputed - ours) < 1e-6, f'objective attribute {ours} vs recomputed {recomputed}'
faiss.omp_set_num_threads(2)
km = faiss.Kmeans(64, 64, niter=20, spherical=True, seed=1, max_points_per_centroid=1000)
km.train(x)
sims, _ = km.index.search(x, 1)
theirs = float(np.mean(sims[:, 0]))
print(f'objective: memaudit {ours:.5f}, faiss {theirs:.5f}')
# Measured: memaudit 0.595716 on each path and rank count named in section 1, faiss 0.592556 with the OpenBLAS
# cores Haswell, SkylakeX and Sandybridge alike: a ratio of 1.0053, 0.015 above the bound.
assert ours >= theirs * 0.99, f'memaudit objective {ours} more than 1% below faiss {theirs}'

# 4. Guards.
expect_error(2, 3, ['fewer than', '64 clusters'], 'kmeans', '-i', os.path.join(d, 'k-f32-1.h5') + ':/clusterings/0/centroids',
             '--clusters', 64, '-o', os.path.join(d, 'x.h5'))
assert not os.path.exists(os.path.join(d, 'x.h5'))
expect_error(1, 2, ['--clusters'], 'kmeans', '-i', sep, '--clusters', -4, '-o', 'x.h5')
expect_error(1, 2, ['--iters'], 'kmeans', '-i', sep, '--iters', 0, '-o', 'x.h5')
expect_error(1, 2, ['-o'], 'kmeans', '-i', sep)
_, err = run(2, 'kmeans', '-i', sep, '--clusters', 8, '--iters', 2, '--sample-per-cluster', 10000, '-o',
             os.path.join(d, 'all.h5'))
assert 'training on all of them' in err, err
expect_error(2, 3, ['budget'], 'kmeans', '-i', sep, '--clusters', 8, '--mem-per-rank', '1M', '-o', 'x.h5')
ok('kmeans')
