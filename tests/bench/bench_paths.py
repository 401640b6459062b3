#!/usr/bin/python3
"""Same speed on every CPU path (issue 11), all figures from one run on one machine, for each path given
(default: the CPU's best, then MEMAUDIT_ISA=avx2):

  1. OpenBLAS SGEMM peak per core: numpy's sgemm (OpenBLAS) on 2 threads, divided by 2, so measured
     with both cores busy as they are when the 2 ranks run (one thread each); the best of the shapes
     memaudit's phases use;
  2. dedup of n x 256 rows on 2 ranks, R = 1, K = n / 1000, no recall estimate, from float16 and from
     the same rows widened to float32 (exactly: h5py converts): the wall times and their ratio;
  3. from the float32 run's summary: the Lloyd iterations, the assignment and the intra-cluster search
     per rank, against the peak;
  4. audit of 10,000 generated samples against the n training rows: the k-NN's rate per rank.

    /usr/bin/python3 tests/bench/bench_paths.py [--build build] [--n 400000] [--isa default,avx2]
Prints a table; asserts nothing about time (a benchmark, not a test)."""
import argparse
import json
import os
import subprocess
import tempfile
import time

os.environ['OPENBLAS_NUM_THREADS'] = '2'
import h5py  # noqa: E402
import numpy as np  # noqa: E402  (after the thread setting)

from machine import describe, isa_env  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--build', default=os.path.join(os.path.dirname(__file__), '..', '..', 'build'))
p.add_argument('--n', type=int, default=400000)
p.add_argument('--dim', type=int, default=256)
p.add_argument('--generated', type=int, default=10000)
p.add_argument('--isa', default='default,avx2')
p.add_argument('--repeat', type=int, default=2, help='runs of each dedup; the fastest counts')
a = p.parse_args()
memaudit = os.path.abspath(os.path.join(a.build, 'memaudit'))
base_env = dict(os.environ, OPENBLAS_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1')
tmp = tempfile.mkdtemp(prefix='ma-bench-paths-')
RANKS = 2
k = max(a.n // 1000, 1)


def ma(env, *args):
    t = time.perf_counter()
    subprocess.run(['mpiexec', '-q', '--oversubscribe', '-n', str(RANKS), memaudit] + [str(x) for x in args],
                   check=True, env=env)
    return time.perf_counter() - t


def sgemm_peak():
    """GFLOP/s per core of a 2-thread sgemm, the best over the shapes of the k-means iterations (256 K
    rows against K centroids), the search (a cluster against itself) and the audit (queries against a
    chunk)."""
    rng = np.random.default_rng(0)
    best = 0
    for m, n in ((256 * min(k, 256), min(k, 1024)), (2048, 2048), (8192, 1024)):
        x = rng.standard_normal((m, a.dim), dtype=np.float32)
        y = rng.standard_normal((n, a.dim), dtype=np.float32)
        x @ y.T
        t = min((lambda t0: (x @ y.T, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
        best = max(best, 2.0 * m * n * a.dim / t / 1e9 / RANKS)
    return best


f16 = os.path.join(tmp, 'train16.h5')
f32 = os.path.join(tmp, 'train32.h5')
gen = os.path.join(tmp, 'gen.h5')
ma(base_env, 'synth', '--n', a.n, '--dim', a.dim, '--dtype', 'f16', '--seed', 1, '-o', f16, '-q')
with h5py.File(f16, 'r') as src, h5py.File(f32, 'w') as dst:
    dst['embeddings'] = src['embeddings'][...].astype(np.float32)
    dst['ids'] = src['ids'][...]
ma(base_env, 'synth', '--like', f16, '--n', a.generated, '--regurgitate', 0.01, '--seed', 2, '-o', gen, '-q')

print(f'\nCPU paths: dedup {a.n} x {a.dim}, K = {k}, R = 1, no recall estimate; audit {a.generated} x {a.n}; '
      f'{RANKS} ranks, one thread each')
for isa in a.isa.split(','):
    env = isa_env(base_env, isa)
    peak = sgemm_peak()
    walls, sums = {}, {}
    for name, path in (('float16', f16), ('float32', f32)):
        summary = os.path.join(tmp, f'{name}.json')
        walls[name] = min(ma(env, 'dedup', '-i', path, '--clusters', k, '--reclusterings', 1, '--recall-sample', 0,
                             '-o', os.path.join(tmp, 'd.h5'), '--summary', summary, '-q') for _ in range(a.repeat))
        sums[name] = json.load(open(summary))
    asum = os.path.join(tmp, 'audit.json')
    ma(env, 'audit', '--train', f16, '--generated', gen, '-o', os.path.join(tmp, 'a.h5'), '--summary', asum, '-q')
    au = json.load(open(asum))
    print(f'\n  [{isa}] {describe(memaudit, env)}')
    print(f'    OpenBLAS SGEMM peak per core (2 threads / 2): {peak:.1f} GFLOP/s')
    print(f'    dedup wall: float16 {walls["float16"]:.2f} s, float32 {walls["float32"]:.2f} s, '
          f'ratio {walls["float16"] / walls["float32"]:.3f} (target <= 1.15)')
    for name in ('float32', 'float16'):
        cl = sums[name]['clusterings'][0]
        lloyd, assign, search = cl['lloyd_gflops'] / RANKS, cl['assign_gflops'] / RANKS, cl['search_gflops_per_rank']
        print(f'    {name}: Lloyd {lloyd:.1f} GFLOP/s per rank ({lloyd / peak:.0%} of peak, {cl["iterations"]} '
              f'iterations, {cl["lloyd_seconds"]:.2f} s), assignment {assign:.1f} ({assign / peak:.0%}, '
              f'{cl["assign_seconds"]:.2f} s), search {search:.1f} ({search / peak:.0%}, {cl["search_seconds"]:.2f} s); '
              f'phases: ' + ', '.join(f'{n} {v:.2f}' for n, v in sums[name]['phases'].items()))
    knn = au['search_gflops'] / RANKS
    print(f'    audit k-NN: {knn:.1f} GFLOP/s per rank ({knn / peak:.0%} of peak); phases: '
          + ', '.join(f'{n} {v:.2f}' for n, v in au['phases'].items()))
