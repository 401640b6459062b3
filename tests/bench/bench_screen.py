#!/usr/bin/python3
"""int8 screening benchmark (issue 15), all figures from one run on one machine, per CPU path:

  1. audit: Q generated samples x N training items x 256 float32, k = 10 (default 10,000 x 1,000,000; no
     holdout, no baseline: the k-NN alone), --screen off and --screen int8: the search's seconds, their
     ratio, the share of the Q x N entries rescored exactly; faiss.IndexFlatIP (2 threads) on the same
     data for the ratio;
  2. dedup: N x 256 float16 from synth (default 1,000,000), K = 1024, R = 1 and R = 5, --screen off and
     int8: each phase's seconds (k-means Lloyd iterations, the assignment, the intra-cluster search, the
     recall's exact search), their ratios, the share rescored; the SemDeDup-style pipeline of
     bench_dedup.py (faiss k-means + numpy per-cluster all-pairs, R = 1) for the ratio;
  3. every result of a --screen int8 run compared with its --screen off twin: every dataset and every
     attribute but command_line byte for byte (the benchmark stops if one differs).

Runs on --ranks ranks (default 2), one OpenBLAS / oneDNN thread each (--ranks 1: one core, no exchange
between ranks). --isa takes a comma list of MEMAUDIT_ISA values
(default: the CPU's best, then avx2 when the best is avx512, which measures an AVX2 machine's integer
path: memaudit's own GEMM; "avx2+onednn" runs oneDNN's held to AVX2 instead, for the comparison). Each configuration runs --repeat times (default 2), off and int8 in turn,
and each phase's figure is its smallest: on a shared VM a phase moves by about 15% from run to run.
Prints a table; asserts nothing about time.

    /usr/bin/python3 tests/bench/bench_screen.py [--build build] [--n 1000000] [--queries 10000] [--isa default,avx2]
                                                 [--repeat 2] [--ranks 2]
"""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

os.environ.setdefault('OPENBLAS_NUM_THREADS', '2')
os.environ.setdefault('OMP_NUM_THREADS', '2')
import h5py  # noqa: E402
import numpy as np  # noqa: E402  (after the thread settings)

from machine import describe, isa_env  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--build', default=os.path.join(os.path.dirname(__file__), '..', '..', 'build'))
p.add_argument('--n', type=int, default=1000000, help='training items (audit) and items (dedup)')
p.add_argument('--queries', type=int, default=10000)
p.add_argument('--dim', type=int, default=256)
p.add_argument('--k', type=int, default=1024, help='clusters (dedup)')
p.add_argument('--threshold', type=float, default=0.95)
p.add_argument('--isa', default='default,avx2')
p.add_argument('--dedup-r5-isa', default='default', help='paths on which dedup R = 5 runs too (comma list)')
p.add_argument('--no-baselines', action='store_true', help='skip FAISS and the SemDeDup-style pipeline')
p.add_argument('--repeat', type=int, default=2, help='runs of each configuration; the fastest of each phase is kept')
p.add_argument('--ranks', type=int, default=2, help='MPI ranks of the memaudit runs')
p.add_argument('--keep', action='store_true')
a = p.parse_args()
memaudit = os.path.abspath(os.path.join(a.build, 'memaudit'))
base_env = dict(os.environ, OPENBLAS_NUM_THREADS='1', OMP_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1',
                OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
tmp = tempfile.mkdtemp(prefix='ma-bench-screen-')
pth = lambda name: os.path.join(tmp, name)


def ma(env, *args):
    t = time.perf_counter()
    r = subprocess.run(['mpiexec', '-q', '--oversubscribe', '-n', str(a.ranks), memaudit] + [str(x) for x in args], env=env,
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f'memaudit failed: {r.stderr[-3000:]}')
    return time.perf_counter() - t


def same_bytes(x, y):
    """Every dataset and attribute of x and y (but the root's command_line) identical."""
    def objects(path):
        out = {}
        with h5py.File(path, 'r') as f:
            def visit(name, o):
                attrs = {k: np.asarray(v).tobytes() for k, v in o.attrs.items() if not (name == '/' and k == 'command_line')}
                data = o[...].tobytes() if isinstance(o, h5py.Dataset) else None
                out[name] = (attrs, data)
            visit('/', f)
            f.visititems(visit)
        return out
    ox, oy = objects(x), objects(y)
    bad = sorted(k for k in set(ox) | set(oy) if ox.get(k) != oy.get(k))
    if bad:
        raise SystemExit(f'{x} and {y} differ in {bad[:5]}')


env0 = isa_env(base_env, 'default')
train, gen, data = pth('train.h5'), pth('gen.h5'), pth('dedup.h5')
ma(env0, 'synth', '--n', a.n, '--dim', a.dim, '--seed', 1, '-o', train, '-q')
ma(env0, 'synth', '--like', train, '--regurgitate', 0.01, '--n', a.queries, '--seed', 2, '-o', gen, '-q')
ma(env0, 'synth', '--n', a.n, '--dim', a.dim, '--dtype', 'f16', '--seed', 1, '-o', data, '-q')

lines = []
for isa in a.isa.split(','):
    # "avx2+onednn": the path, and the integer GEMM to use on it (MEMAUDIT_Q8_GEMM)
    env = isa_env(base_env, isa.split('+')[0])
    if '+' in isa:
        env['MEMAUDIT_Q8_GEMM'] = isa.split('+')[1]
    lines.append(f'\n== {describe(memaudit, env)}; {a.ranks} rank{"s" if a.ranks > 1 else ""}')
    ver = subprocess.run([memaudit, '--version'], capture_output=True, text=True, env=env).stdout
    lines.append('   ' + [ln for ln in ver.splitlines() if ln.startswith('integer GEMM')][0])

    # 1. audit
    res, best = {}, {}
    for _ in range(a.repeat):
        for mode in ('off', 'int8'):
            out, js = pth(f'audit-{isa}-{mode}.h5'), pth(f'audit-{isa}-{mode}.json')
            ma(env, 'audit', '--train', train, '--generated', gen, '--k', 10, '--baseline-sample', 0, '--screen',
               mode, '-o', out, '--summary', js, '-q')
            res[mode] = (out, json.load(open(js)))
            best[mode] = min(best.get(mode, float('inf')), res[mode][1]['search_seconds'])
        same_bytes(res['off'][0], res['int8'][0])
    so, si = best['off'], best['int8']
    share = res['int8'][1]['search_rescored'] / (a.queries * a.n)
    lines.append(f'   audit {a.queries} x {a.n} x {a.dim} f32, k = 10: search off {so:.2f} s, int8 {si:.2f} s, '
                 f'ratio {si / so:.3f}; rescored {share:.3%} of the entries '
                 f'({res["int8"][1]["search_rescored"] / a.queries:.1f} per query); results identical')
    res_audit = (so, si)

    # 2. dedup
    runs = [1] + ([5] if isa in a.dedup_r5_isa.split(',') else [])
    res_dedup = {}
    for R in runs:
        res, row = {}, {'off': {}, 'int8': {}}
        for _ in range(a.repeat):
            for mode in ('off', 'int8'):
                out, js = pth(f'dedup-{isa}-{R}-{mode}.h5'), pth(f'dedup-{isa}-{R}-{mode}.json')
                wall = ma(env, 'dedup', '-i', data, '--clusters', a.k, '--reclusterings', R, '--threshold',
                          a.threshold, '--screen', mode, '-o', out, '--summary', js, '-q')
                res[mode] = (out, json.load(open(js)), wall)
                s = res[mode][1]
                cl = s['clusterings']
                got = {'lloyd': sum(c['lloyd_seconds'] for c in cl), 'assign': sum(c['assign_seconds'] for c in cl),
                       'search': sum(c['search_seconds'] for c in cl), 'recall': s['phases'].get('recall', 0.0),
                       'wall': wall}
                row[mode] = {k: min(v, row[mode].get(k, float('inf'))) for k, v in got.items()}
            same_bytes(res['off'][0], res['int8'][0])
        s = res['int8'][1]
        cl = s['clusterings']
        compared = sum(c['search_flops'] for c in cl) / (2 * a.dim)
        lloyd_entries = sum(c['iterations'] for c in cl) * min(a.n, 256 * a.k) * a.k  # the sample is all items here
        shares = {'lloyd': sum(c['lloyd_rescored'] for c in cl) / lloyd_entries,
                  'assign': sum(c['assign_rescored'] for c in cl) / (len(cl) * a.n * a.k),
                  'search': sum(c['search_rescored'] for c in cl) / compared,
                  'recall': s['recall_rescored'] / (s['recall_sample'] * a.n)}
        lines.append(f'   dedup {a.n} x {a.dim} f16, K = {a.k}, R = {R}: wall off {row["off"]["wall"]:.1f} s, '
                     f'int8 {row["int8"]["wall"]:.1f} s ({row["int8"]["wall"] / row["off"]["wall"]:.3f}); results identical')
        for ph in ('lloyd', 'assign', 'search', 'recall'):
            o, i = row['off'][ph], row['int8'][ph]
            lines.append(f'      {ph:7s} off {o:7.2f} s  int8 {i:7.2f} s  ratio {i / o if o else float("nan"):.3f}  '
                         f'rescored {shares[ph]:.4%}')
        res_dedup[R] = row
    if not a.no_baselines and isa == a.isa.split(',')[0]:
        import faiss  # noqa: E402
        faiss.omp_set_num_threads(2)
        with h5py.File(train, 'r') as f:
            x = f['embeddings'][...]
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        with h5py.File(gen, 'r') as f:
            g = f['embeddings'][...]
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        index = faiss.IndexFlatIP(a.dim)
        index.add(x)
        del x
        t = time.perf_counter()
        index.search(g, 10)
        faiss_s = time.perf_counter() - t
        del index
        lines.append(f'   faiss IndexFlatIP (2 threads) search {faiss_s:.2f} s; memaudit / faiss: off '
                     f'{res_audit[0] / faiss_s:.3f}, int8 {res_audit[1] / faiss_s:.3f}')
        with h5py.File(data, 'r') as f:
            x = f['embeddings'][...].astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        t = time.perf_counter()
        km = faiss.Kmeans(a.dim, a.k, niter=20, spherical=True, seed=1, max_points_per_centroid=256)
        km.train(x)
        _, assign = km.index.search(x, 1)
        assign = assign[:, 0]
        order = np.argsort(assign, kind='stable')
        bounds = np.searchsorted(assign[order], np.arange(a.k + 1))
        pairs = 0
        for c in range(a.k):
            idx = order[bounds[c]:bounds[c + 1]]
            if len(idx) > 1:
                s_ = x[idx] @ x[idx].T
                pairs += int((np.triu(s_, 1) >= a.threshold).sum())
        sem = time.perf_counter() - t
        del x
        r1 = res_dedup[1]
        lines.append(f'   SemDeDup-style (faiss k-means + numpy all-pairs, R = 1): {sem:.1f} s, {pairs} pairs; memaudit R = 1 wall / '
                     f'SemDeDup: off {r1["off"]["wall"] / sem:.3f}, int8 {r1["int8"]["wall"] / sem:.3f}')
    print('\n'.join(lines), flush=True)
    lines = []

if a.keep:
    print(f'files kept in {tmp}')
else:
    shutil.rmtree(tmp)
