"""dedup --removed-csv: read back against /ids, /keep, /representative and /pairs; byte-identical at 1-4
ranks; file and row are the input's own (an HDF5 shard with its own /ids, .npy shards, a dropped row
before the others, a file name that needs CSV quoting); refused when it names an input."""
import csv
import os

import h5py
import numpy as np

from harness import expect_error, ok, run, same_result, workdir

d = workdir('removed')
rng = np.random.default_rng(18)
N, D = 900, 16
base = rng.standard_normal((650, D)).astype(np.float32)
copies = base[rng.choice(650, 250)] + 0.015 * rng.standard_normal((250, D)).astype(np.float32)
X = np.concatenate([base, copies])[rng.permutation(N)]
for j in range(8):  # chains a - b - c: a~b and b~c >= T, a~c < T (one-per-group keeps a, c's similarity is empty)
    a, u = rng.standard_normal((2, D))
    a /= np.linalg.norm(a)
    u -= (u @ a) * a
    u /= np.linalg.norm(u)
    X[600 + 3 * j: 603 + 3 * j] = [a, np.cos(0.4) * a + np.sin(0.4) * u, np.cos(0.2) * a + np.sin(0.2) * u]
X[420, 3] = np.nan  # dropped by --drop-invalid: the rows after it keep their file rows
CUTS = [0, 200, 500, N]
files = [os.path.join(d, 'first.h5'), os.path.join(d, 'emb,1.npy'), os.path.join(d, 'emb_2.npy')]
ids0 = 10_000 + 3 * np.arange(CUTS[1], dtype=np.int64)  # the HDF5 shard's own ids
with h5py.File(files[0], 'w') as f:
    f['embeddings'] = X[:CUTS[1]]
    f['ids'] = ids0
np.save(files[1], X[CUTS[1]:CUTS[2]])
np.save(files[2], X[CUTS[2]:])
# what each input row is: (file, row in file) -> id
place = {}
for k, (a, b) in enumerate(zip(CUTS, CUTS[1:])):
    for g in range(a, b):
        place[(files[k], g - a)] = int(ids0[g]) if k == 0 else g
vec = {place[(files[k], g - a)]: X[g] for k, (a, b) in enumerate(zip(CUTS, CUTS[1:])) for g in range(a, b)}


def dedup(ranks, tag, *extra):
    out, rm = os.path.join(d, f'{tag}.h5'), os.path.join(d, f'{tag}.csv')
    args = ['dedup', '--clusters', 5, '--reclusterings', 2, '--threshold', 0.97, '--drop-invalid',
            '--removed-csv', rm, '-o', out] + list(extra)
    for f in files:
        args += ['-i', f]
    run(ranks, *args)
    return out, rm


def check(out, rm, adjacent_only):
    with h5py.File(out, 'r') as f:
        ids, keep, rep, pairs = f['ids'][...], f['keep'][...], f['representative'][...], f['pairs'][...]
    sims = {(int(p['a']), int(p['b'])): p['sim'] for p in pairs}
    lines = open(rm, newline='').read().splitlines()
    assert lines[0] == 'id,file,row,representative,representative_file,representative_row,similarity', lines[0]
    rows = list(csv.reader(lines[1:]))
    removed = [(int(i), int(r)) for i, k, r in zip(ids, keep, rep) if not k]
    assert len(rows) == len(removed) > 50, (len(rows), len(removed))
    for row, (i, r) in zip(rows, removed):
        assert int(row[0]) == i and int(row[3]) == r, (row, i, r)
        assert place[(row[1], int(row[2]))] == i, row
        assert place[(row[4], int(row[5]))] == r, row
        pair = sims.get((min(i, r), max(i, r)))
        if row[6] == '':
            assert not adjacent_only and pair is None, row
        else:
            assert np.float32(row[6]) == pair, (row, pair)
            x, y = vec[i], vec[r]
            cos = float(np.dot(x, y) / np.linalg.norm(x) / np.linalg.norm(y))
            assert abs(cos - float(row[6])) < 1e-5, (row, cos)
    return len(rows)


results = [dedup(r, f'greedy{r}') for r in (1, 2, 3, 4)]
n = check(*results[0], adjacent_only=True)
for out, rm in results[1:]:
    same_result(results[0][0], out)
    assert open(rm, 'rb').read() == open(results[0][1], 'rb').read(), f'{rm} differs from {results[0][1]}'
one = [dedup(r, f'one{r}', '--keep', 'one-per-group') for r in (1, 3)]
check(*one[0], adjacent_only=False)
empty = sum(line.endswith(',') for line in open(one[0][1]).read().splitlines())
assert empty >= 8, f'{one[0][1]}: {empty} lines without a similarity; the chains give at least 8'
assert open(one[0][1], 'rb').read() == open(one[1][1], 'rb').read()
ok(f'removed-csv: {n} removed items read back, identical at 1-4 ranks')

expect_error(2, 2, ['--removed-csv', 'an output may not overwrite an input'], 'dedup', '-i', files[2],
             '--removed-csv', files[2], '-o', os.path.join(d, 'x.h5'))
expect_error(2, 2, ['--removed-csv'], 'dedup', '-i', files[2], '--removed-csv', os.path.join(d, 'nowhere', 'r.csv'),
             '-o', os.path.join(d, 'x.h5'))
assert not os.path.exists(os.path.join(d, 'x.h5'))
ok('removed-csv: refused paths')
