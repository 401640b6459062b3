"""--screen auto|int8|off gives the same bytes (issue 15): kmeans (Lloyd iterations and the assignment),
dedup (the clustered search, --exact, the recall estimate, a threshold sweep) and audit (the k-NN of the
generated samples and of the holdout, and the train-to-train baseline) run with --screen int8 at 1, 2, 3
and 4 ranks, with --screen auto, and with int8 on every CPU path this machine can force
(MEMAUDIT_ISA=scalar runs the reference integer GEMM, avx2 memaudit's own AVX2 GEMM at 63 levels a side;
and, in a build with oneDNN, oneDNN held to AVX2 with MEMAUDIT_Q8_GEMM=onednn: 63 levels on the x side),
give files identical in every dataset and attribute (but command_line) to --screen off at 1 rank,
and summaries equal in every key but the run's measures (the *_rescored counts among them) and the keys
that say how the run went (`screen`, `integer_gemm`, `isa`).

Two data sets: synth's (float16, planted near-duplicates and regurgitated copies), and an adversarial
float32 one: a few rows copied many times (hundreds of pairs exactly at the threshold, which is the exact
similarity of two of them), rows that quantise badly (one spike) and rows that quantise exactly
(+-constant), and near-copies a few ulps apart. The summary names the mode and counts the rescored
entries; `--screen auto` follows `memaudit --version`'s "integer GEMM" line; a bad value is exit 2."""
import json
import os

import h5py
import numpy as np

from exact import ma_dot, ma_normalize
from harness import expect_error, ok, run, same_result, workdir

d = workdir('screen')
rng = np.random.default_rng(15)
out, _ = run(1, '--version')
hw = out.split('this CPU runs ')[1].split(')')[0]
auto = out.split('--screen auto: ')[1].split(')')[0]
assert auto in ('int8', 'off'), out
onednn = 'not built in' not in out.split('oneDNN ')[1].splitlines()[0]
ORDER = ['scalar', 'avx2', 'avx512']
paths = ORDER[:ORDER.index(hw) + 1]
p = lambda name: os.path.join(d, name)


def adversarial():
    """float32 rows whose exact similarities put many entries exactly at the threshold."""
    dim = 48
    base = rng.standard_normal((12, dim)).astype(np.float32)
    base[3] = 0
    base[3, 5] = 1  # a spike: one element, the rest 0 (quantises exactly)
    base[4] = 0.01 * rng.standard_normal(dim)
    base[4, 0] = 3  # one large element: a coarse scale for the rest
    base[5] = np.where(np.arange(dim) % 2, 1, -1)  # +-constant
    rows = [np.repeat(base, 25, axis=0)]  # 300 exact copies of 12 rows
    near = np.repeat(base[:6], 10, axis=0)
    near[:, 1] = np.nextafter(np.nextafter(near[:, 1], np.float32(9)), np.float32(9))  # two ulps away
    rows.append(near)
    rows.append(rng.standard_normal((1500, dim)).astype(np.float32))
    x = np.concatenate(rows)
    x = x[rng.permutation(len(x))]
    xn = ma_normalize(x)
    # the threshold: the exact similarity of base rows 0 and 1 as memaudit normalises them (625 pairs
    # of copies sit exactly on it), below most copies' 1.0
    i0 = int(np.nonzero((x == base[0]).all(axis=1))[0][0])
    i1 = int(np.nonzero((x == base[1]).all(axis=1))[0][0])
    t = float(ma_dot(xn[i0:i0 + 1], xn[i1:i1 + 1])[0, 0])
    return x, t


def write(path, x, ids=None, **extra):
    with h5py.File(path, 'w') as f:
        f['embeddings'] = x
        if ids is not None:
            f['ids'] = np.asarray(ids, np.int64)
        for k, v in extra.items():
            f[k] = v


# The data sets.
run(2, 'synth', '--n', 5000, '--dim', 64, '--dtype', 'f16', '--concepts', 10, '--seed', 3, '-o', p('train.h5'), '-q')
run(1, 'synth', '--like', p('train.h5'), '--n', 300, '--regurgitate', 0.1, '--seed', 4, '-o', p('gen.h5'), '-q')
run(1, 'synth', '--like', p('train.h5'), '--n', 200, '--seed', 5, '-o', p('hold.h5'), '-q')
xa, ta = adversarial()
write(p('adv.h5'), xa, ids=np.arange(len(xa))[::-1] * 3 + 7)  # ids not in row order: ties by id
write(p('advgen.h5'), xa[::7])
# the threshold as text that parses back to the float32 value
tat = repr(float(np.float32(ta)))
assert np.float32(float(tat)) == np.float32(ta)
ties = int((ma_dot(ma_normalize(xa), ma_normalize(xa)) == np.float32(ta)).sum())
assert ties >= 600, f'only {ties} entries at the threshold'

jobs = {
    'kmeans': ['kmeans', '-i', p('train.h5'), '--clusters', 12, '--reclusterings', 2],
    'kmeans-adv': ['kmeans', '-i', p('adv.h5'), '--clusters', 9],
    'dedup': ['dedup', '-i', p('train.h5'), '--clusters', 8, '--reclusterings', 2, '--threshold', '0.95,0.9',
              '--recall-sample', 300],
    'dedup-adv': ['dedup', '-i', p('adv.h5'), '--clusters', 6, '--reclusterings', 2, '--threshold', f'{tat},0.5',
                  '--recall-sample', 200],
    'exact-adv': ['dedup', '-i', p('adv.h5'), '--exact', '--threshold', tat],
    'audit': ['audit', '--train', p('train.h5'), '--generated', p('gen.h5'), '--holdout', p('hold.h5'), '--k', 5,
              '--threshold', 0.9, '--source-ids', '/source_ids'],
    'audit-adv': ['audit', '--train', p('adv.h5'), '--generated', p('advgen.h5'), '--k', 7, '--threshold', tat,
                  '--baseline-sample', 300, '--query-block', 50],
}


def job(name, mode, ranks, env=None):
    tag = f'{name}-{mode}-r{ranks}' + ''.join(f'-{v}' for v in (env or {}).values())
    _, err = run(ranks, *jobs[name], '--screen', mode, '-o', p(tag + '.h5'), '--summary', p(tag + '.json'), env=env)
    with open(p(tag + '.json')) as f:
        s = json.load(f)
    want = 'off' if mode == 'off' else 'int8' if mode == 'int8' else auto
    assert s['screen'] == want, f'{tag}: summary says screen {s["screen"]}, want {want}'
    assert ('integer_gemm' in s) == (want == 'int8'), tag
    assert f'screening {want}' in err, f'{tag}: no log line for the screening\n{err[-2000:]}'
    return p(tag + '.h5'), p(tag + '.json')


def stripped(js):
    """The summary without the keys that say how the run went."""
    with open(js) as f:
        s = json.load(f)
    for k in ('screen', 'integer_gemm', 'isa'):
        s.pop(k, None)
    path = js + '.strip'
    with open(path, 'w') as f:
        json.dump(s, f)
    return path


def rescored(js):
    """Every *_rescored count in a summary, summed."""
    def walk(o):
        if isinstance(o, dict):
            return sum(v if k.endswith('_rescored') and isinstance(v, int) else walk(v) for k, v in o.items())
        if isinstance(o, list):
            return sum(walk(v) for v in o)
        return 0
    with open(js) as f:
        return walk(json.load(f))


for name in jobs:
    ref = job(name, 'off', 1)
    # 2 ranks: auto, and int8 on each path but the CPU's best where auto screens (auto is that run)
    runs = [job(name, 'int8', r) for r in (1, 3, 4)] + [job(name, 'auto', 2)]
    runs += [job(name, 'int8', 2, env={'MEMAUDIT_ISA': isa}) for isa in paths if not (auto == 'int8' and isa == hw)]
    if onednn and 'avx2' in paths:
        runs.append(job(name, 'int8', 2, env={'MEMAUDIT_ISA': 'avx2', 'MEMAUDIT_Q8_GEMM': 'onednn'}))
    for h5, js in runs:
        same_result(ref[0], h5, summaries=(stripped(ref[1]), stripped(js)))
    assert rescored(runs[0][1]) > 0, f'{name}: nothing rescored with int8'
    ok(f'{name}: --screen int8 at 1-4 ranks, auto, and int8 on {", ".join(paths)}'
       f'{" and oneDNN held to AVX2" if onednn and "avx2" in paths else ""} equal --screen off')

expect_error(1, 2, '--screen', 'kmeans', '-i', p('train.h5'), '--clusters', 4, '--screen', 'fast', '-o', p('bad.h5'))
ok('--screen fast: exit 2')

# Rows wider than the integer sums allow (kernels/quant.h, Q8_MAX_D = 32768): auto runs unscreened, int8
# is a usage error before any search.
run(1, 'synth', '--n', 40, '--dim', 32769, '--seed', 3, '-o', p('wide.h5'), '-q')
run(1, 'kmeans', '-i', p('wide.h5'), '--clusters', 2, '--screen', 'auto', '-o', p('wide-km.h5'), '--summary',
    p('wide-km.json'), '-q')
with open(p('wide-km.json')) as f:
    assert json.load(f)['screen'] == 'off', 'auto screened rows of 32769 dimensions'
expect_error(1, 2, ('--screen int8', '32768', '32769'), 'kmeans', '-i', p('wide.h5'), '--clusters', 2, '--screen',
             'int8', '-o', p('wide-bad.h5'))
ok('32769 dimensions: auto runs unscreened, int8 is exit 2')
