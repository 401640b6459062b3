"""Every malformed-input class answered with exit 3 and one error line naming file, dataset and (where
it applies) the row, at one rank count; never a hang (ctest's timeout bounds each run)."""
import json
import os

import h5py
import numpy as np

from harness import expect_error, ok, ranks_arg, run, workdir

R = ranks_arg()
d = workdir(f'valid{R}')
rng = np.random.default_rng(1)


def fixture(name, data=None, ids=None, dataset='embeddings', extra=None):
    p = os.path.join(d, name)
    with h5py.File(p, 'w') as f:
        if data is not None:
            f[dataset] = data
        if ids is not None:
            f[os.path.join(os.path.dirname('/' + dataset), 'ids')] = ids
        for k, v in (extra or {}).items():
            f[k] = v
    return p


good = rng.standard_normal((40, 16)).astype(np.float32)
g = fixture('good.h5', good)

expect_error(R, 3, ['missing.h5', 'cannot read'], 'inspect', '-i', os.path.join(d, 'missing.h5'))
text = os.path.join(d, 'text.h5')
open(text, 'w').write('this is not HDF5\n' * 100)
expect_error(R, 3, [text, 'not an HDF5 file'], 'inspect', '-i', text)

big = fixture('big.h5', rng.standard_normal((4000, 64)).astype(np.float32))
trunc = os.path.join(d, 'truncated.h5')
blob = open(big, 'rb').read()
open(trunc, 'wb').write(blob[: len(blob) // 2])
expect_error(R, 3, [trunc, 'truncated'], 'inspect', '-i', trunc)

p = fixture('nodset.h5', extra={'other': good})
expect_error(R, 3, [p, 'no dataset /embeddings'], 'inspect', '-i', p)
expect_error(R, 3, [g, 'no dataset /vectors'], 'inspect', '-i', g + ':/vectors')
p = fixture('threed.h5', rng.standard_normal((4, 4, 4)).astype(np.float32))
expect_error(R, 3, [p, '/embeddings', '3-D'], 'inspect', '-i', p)
p = fixture('ints.h5', np.ones((10, 4), dtype=np.int32))
expect_error(R, 3, [p, '/embeddings', 'float16 or float32'], 'inspect', '-i', p)
p = fixture('f64.h5', np.ones((10, 4), dtype=np.float64))
expect_error(R, 3, [p, 'float16 or float32'], 'inspect', '-i', p)
p = fixture('dim.h5', rng.standard_normal((10, 17)).astype(np.float32))
expect_error(R, 3, [p, '17 columns', '16'], 'inspect', '-i', g, '-i', p)
p = fixture('mixed.h5', rng.standard_normal((10, 16)).astype(np.float16))
expect_error(R, 3, [p, 'float16', 'float32'], 'inspect', '-i', g, '-i', p)
p = fixture('empty.h5', np.zeros((0, 16), dtype=np.float32))
expect_error(R, 3, [p, 'zero rows'], 'inspect', '-i', p)

bad = good.copy()
bad[17, 3] = np.nan
p = fixture('nan.h5', bad)
expect_error(R, 3, [p, '/embeddings', 'row 17', 'NaN'], 'inspect', '-i', p)
# The row is counted inside its own shard when the bad file comes second.
expect_error(R, 3, [p, 'row 17'], 'inspect', '-i', g, '-i', p)
bad = good.astype(np.float16)
bad[33, 0] = np.inf
p = fixture('inf16.h5', bad)
expect_error(R, 3, [p, 'row 33', 'NaN or Inf'], 'inspect', '-i', p)
bad = good.copy()
bad[5] = 0
p = fixture('zero.h5', bad)
expect_error(R, 3, [p, 'row 5', 'zero norm'], 'inspect', '-i', p)

p = fixture('idlen.h5', good, ids=np.arange(39, dtype=np.int64))
expect_error(R, 3, [p, '/ids', '39 entries', '40 rows'], 'inspect', '-i', p)
ids = np.arange(40, dtype=np.int64) * 10
ids[31] = ids[4]
p = fixture('dupids.h5', good, ids=ids)
expect_error(R, 3, [p, 'duplicate id 40', 'row 4', 'row 31'], 'inspect', '-i', p)
# Without /ids, ids are row numbers across the inputs: a shard whose /ids repeats one of those collides.
p = fixture('collide.h5', good, ids=np.arange(40, dtype=np.int64) + 39)
expect_error(R, 3, ['duplicate id 39', g, p], 'inspect', '-i', g, '-i', p)
expect_error(R, 3, ['fewer than', '100 clusters'], 'inspect', '-i', g, '--clusters', 100)
expect_error(R, 3, ['budget', '--mem-per-rank'], 'inspect', '-i', big, '--mem-per-rank', '4K')

# A dataset elsewhere, with its ids beside it.
p = fixture('nested.h5', good, ids=np.arange(100, 140, dtype=np.int64), dataset='grp/emb')
out, _ = run(R, 'inspect', '-i', p + ':/grp/emb')
assert 'ids from /grp/ids' in out and 'valid: yes' in out, out

# --drop-invalid skips and counts: which rows were dropped is read from a result's /ids (rows 3 and 20,
# ids 103 and 120), the count from the summaries.
bad = good.copy()
bad[3, 1] = np.nan
bad[20] = 0
p = fixture('droppable.h5', bad, ids=np.arange(100, 140, dtype=np.int64))
js = os.path.join(d, 'dropped.json')
out, _ = run(R, 'inspect', '-i', p, '--drop-invalid', '--summary', js)
assert 'after dropping 2 invalid rows' in out, out
s = json.load(open(js))
assert s['command'] == 'inspect' and s['dropped'] == 2 and s['valid'] is True and s['n'] == 40, s
res, js = os.path.join(d, 'dropped.h5'), os.path.join(d, 'dropped-kmeans.json')
run(R, 'kmeans', '-i', p, '--drop-invalid', '--clusters', 2, '-o', res, '--summary', js, '-q')
with h5py.File(res, 'r') as f:
    kept_ids = f['ids'][...]
assert np.array_equal(kept_ids, np.setdiff1d(np.arange(100, 140), [103, 120])), f'--drop-invalid kept ids {kept_ids}'
assert json.load(open(js))['n'] == 38  # the rows it clustered
ok(f'validation at {R} ranks')
