""".npy inputs as numpy writes them (np.save and np.lib.format.write_array at versions 1.0, 2.0 and
3.0, float16 and float32, several shards, mixed with HDF5 shards): dedup, kmeans and audit results
byte-identical to those of the same rows in HDF5 read on one rank; every malformed .npy exits 3 with
one error line naming the file."""
import os

import h5py
import numpy as np

from harness import expect_error, ok, ranks_arg, run, same_result, workdir

R = ranks_arg()
d = workdir(f'npy{R}')
rng = np.random.default_rng(14)
N, D = 1200, 24
base = rng.standard_normal((900, D)).astype(np.float32)
copies = base[rng.choice(900, 300, replace=False)] + 0.02 * rng.standard_normal((300, D)).astype(np.float32)
X = np.concatenate([base, copies])[rng.permutation(N)]
CUTS = [0, 300, 700, N]


def path(name):
    return os.path.join(d, name)


def h5(name, rows):
    with h5py.File(path(name), 'w') as f:
        f['embeddings'] = rows
    return path(name)


def npy(name, rows, version=None):
    if version is None:
        np.save(path(name), rows)
    else:
        with open(path(name), 'wb') as f:
            np.lib.format.write_array(f, rows, version=version)
    return path(name)


def dedup(tag, shards, ranks):
    out, summ = path(f'{tag}.h5'), path(f'{tag}.json')
    args = ['dedup', '--clusters', 6, '--reclusterings', 2, '--threshold', '0.97,0.9', '--recall-sample', 200,
            '-o', out, '--summary', summ]
    for s in shards:
        args += ['-i', s]
    run(ranks, *args)
    return out, summ


for dt in (np.float32, np.float16):
    name = np.dtype(dt).str[1:]
    parts = [X[a:b].astype(dt) for a, b in zip(CUTS, CUTS[1:])]
    ref = dedup(f'ref-{name}', [h5(f'h5-{name}-{i}.h5', p) for i, p in enumerate(parts)], 1)
    # every version, one per shard
    shards = [npy(f'v{v}-{name}-{i}.npy', p, (v, 0)) for i, (v, p) in enumerate(zip((1, 2, 3), parts))]
    same_result(ref[0], dedup(f'npy-{name}', shards, R)[0], summaries=(ref[1], path(f'npy-{name}.json')))
    # np.save's own choice of version, mixed with HDF5
    mixed = [path(f'h5-{name}-0.h5'), npy(f'save-{name}-1.npy', parts[1]), npy(f'save-{name}-2.npy', parts[2])]
    same_result(ref[0], dedup(f'mixed-{name}', mixed, R)[0], summaries=(ref[1], path(f'mixed-{name}.json')))
    stdout, _ = run(R, 'inspect', *sum((['-i', s] for s in shards), []))
    assert '.npy format 3.0' in stdout and ("'<f2'" if dt == np.float16 else "'<f4'") in stdout, stdout
    assert f'{N} rows x {D} dimensions, {"float16" if dt == np.float16 else "float32"}' in stdout, stdout

# kmeans and audit read .npy the same way (--train, --generated, --holdout)
run(1, 'kmeans', '-i', path('h5-f4-0.h5'), '-i', path('h5-f4-1.h5'), '--clusters', 4, '-o', path('km-ref.h5'))
run(R, 'kmeans', '-i', path('v1-f4-0.npy'), '-i', path('v2-f4-1.npy'), '--clusters', 4, '-o', path('km-npy.h5'))
same_result(path('km-ref.h5'), path('km-npy.h5'))
gen = X[:50] + 0.01 * rng.standard_normal((50, D)).astype(np.float32)
hold = rng.standard_normal((40, D)).astype(np.float32)
run(1, 'audit', '--train', path('h5-f4-1.h5'), '--train', path('h5-f4-2.h5'), '--generated', h5('gen.h5', gen),
    '--holdout', h5('hold.h5', hold), '--k', 3, '-o', path('au-ref.h5'))
run(R, 'audit', '--train', path('v2-f4-1.npy'), '--train', path('v3-f4-2.npy'), '--generated', npy('gen.npy', gen),
    '--holdout', npy('hold.npy', hold, (2, 0)), '--k', 3, '-o', path('au-npy.h5'))
same_result(path('au-ref.h5'), path('au-npy.h5'))
ok('npy: results identical to HDF5')

# malformed files: exit 3, one line naming the file
good = X[:40].copy()
g = npy('good.npy', good)
cases = {
    'fortran.npy': (np.asfortranarray(good), 'Fortran order'),
    'int.npy': (good.astype(np.int32), "dtype '<i4'"),
    'f64.npy': (good.astype(np.float64), "dtype '<f8'"),
    'big.npy': (good.astype('>f4'), "dtype '>f4'"),
    'oned.npy': (good[:, 0].copy(), '1-D'),
    'threed.npy': (good.reshape(4, 10, D), '3-D'),
    'struct.npy': (np.zeros(40, dtype=[('a', '<f4'), ('b', '<f4')]), 'structured'),
    'empty.npy': (np.zeros((0, D), np.float32), 'zero rows'),
}
for name, (arr, words) in cases.items():
    p = npy(name, arr)
    expect_error(R, 3, [p, words], 'inspect', '-i', p)
p = path('object.npy')
np.save(p, np.array([None, 1], dtype=object), allow_pickle=True)
expect_error(R, 3, [p, "dtype '|O'"], 'inspect', '-i', p)
blob = open(g, 'rb').read()
p = path('truncated.npy')
open(p, 'wb').write(blob[:-100])
expect_error(R, 3, [p, 'truncated'], 'inspect', '-i', p)
p = path('short-header.npy')
open(p, 'wb').write(blob[:60])
expect_error(R, 3, [p, 'truncated'], 'inspect', '-i', p)
p = path('lies.npy')  # the header claims fewer rows than the body holds
open(p, 'wb').write(blob.replace(b"(40, 24)", b"(30, 24)"))
expect_error(R, 3, [p, 'does not match'], 'inspect', '-i', p)
p = path('version.npy')
open(p, 'wb').write(blob[:6] + b'\x04' + blob[7:])
expect_error(R, 3, [p, 'version 4.0'], 'inspect', '-i', p)
bad = good.copy()
bad[17, 3] = np.inf
p = npy('inf.npy', bad)
expect_error(R, 3, [p, 'row 17', 'NaN or Inf'], 'inspect', '-i', g, '-i', p)
bad[17] = 0
p = npy('zero.npy', bad)
expect_error(R, 3, [p, 'row 17', 'zero norm'], 'inspect', '-i', p)
p = npy('dim.npy', X[:10, :17].copy())
expect_error(R, 3, [p, '17 columns', str(D)], 'inspect', '-i', path('h5-f4-0.h5'), '-i', p)
p = npy('half.npy', good.astype(np.float16))
expect_error(R, 3, [p, 'float16', 'float32'], 'inspect', '-i', path('h5-f4-0.h5'), '-i', p)
expect_error(R, 3, [g, 'drop the :/embeddings'], 'inspect', '-i', g + ':/embeddings')
ok('npy: malformed files refused')
