#!/usr/bin/python3
"""k-means benchmark (issue 3), all figures from one run on one machine:

  1. OpenBLAS SGEMM peak on 2 threads for the shape of one Lloyd iteration (n x d times d x K),
     through numpy (Debian's numpy calls OpenBLAS's sgemm);
  2. memaudit kmeans on 2 ranks: 262,144 x 256 float32, K = 1024, 20 iterations, no subsampling
     (P = 256 so P*K = n), its Lloyd GFLOP/s and wall time;
  3. faiss.Kmeans(spherical=True) on 2 threads with the same data, K, iterations and no subsampling;
  4. the assignment of 1,000,000 items to 1024 centroids (memaudit's own timing of that phase).

    /usr/bin/python3 tests/bench/bench_kmeans.py [--build build] [--n 262144] [--assign-n 1000000]
Prints a table; asserts nothing about time (it is a benchmark, not a test)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault('OPENBLAS_NUM_THREADS', '2')
os.environ.setdefault('OMP_NUM_THREADS', '2')
import numpy as np  # noqa: E402  (after the thread settings)

from machine import describe, isa_env  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--build', default=os.path.join(os.path.dirname(__file__), '..', '..', 'build'))
p.add_argument('--n', type=int, default=262144)
p.add_argument('--dim', type=int, default=256)
p.add_argument('--k', type=int, default=1024)
p.add_argument('--iters', type=int, default=20)
p.add_argument('--assign-n', type=int, default=1000000)
p.add_argument('--ranks', type=int, default=2)
p.add_argument('--isa', default='default', help='MEMAUDIT_ISA for memaudit (default: the CPU\'s best)')
a = p.parse_args()
memaudit = os.path.abspath(os.path.join(a.build, 'memaudit'))
env = isa_env(dict(os.environ, OPENBLAS_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1'),
              a.isa)
mpiexec = ['mpiexec', '-q', '--oversubscribe', '-n', str(a.ranks)]
tmp = tempfile.mkdtemp(prefix='ma-bench-kmeans-')


def ma(*args):
    t = time.perf_counter()
    subprocess.run(mpiexec + [memaudit] + [str(x) for x in args], check=True, env=env)
    return time.perf_counter() - t


# 1. SGEMM peak for the iteration's shape.
rng = np.random.default_rng(0)
x = rng.standard_normal((a.n, a.dim), dtype=np.float32)
c = rng.standard_normal((a.k, a.dim), dtype=np.float32)
flop = 2.0 * a.n * a.k * a.dim
best = min((lambda t0: (x @ c.T, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(5))
peak = flop / best / 1e9
del x, c

# 2. memaudit.
data = os.path.join(tmp, 'train.h5')
ma('synth', '--n', a.n, '--dim', a.dim, '--seed', 1, '-o', data, '-q')
summary = os.path.join(tmp, 'kmeans.json')
wall = ma('kmeans', '-i', data, '--clusters', a.k, '--iters', a.iters, '--sample-per-cluster', a.n // a.k,
          '-o', os.path.join(tmp, 'k.h5'), '--summary', summary, '-q')
s = json.load(open(summary))
cl = s['clusterings'][0]
ma_lloyd, ma_gflops, ma_obj = cl['lloyd_seconds'], cl['lloyd_gflops'], s['objective']

# 3. FAISS, same data.
import faiss  # noqa: E402
import h5py  # noqa: E402
faiss.omp_set_num_threads(2)
with h5py.File(data, 'r') as f:
    x = f['embeddings'][...]
x /= np.linalg.norm(x, axis=1, keepdims=True)
km = faiss.Kmeans(a.dim, a.k, niter=a.iters, spherical=True, seed=1, max_points_per_centroid=a.n // a.k + 1)
t = time.perf_counter()
km.train(x)
faiss_s = time.perf_counter() - t
sims, _ = km.index.search(x, 1)
faiss_obj = float(np.mean(sims[:, 0]))
del x

# 4. Assignment of assign_n items (train on a small sample, then every item is assigned).
data2 = os.path.join(tmp, 'big.h5')
ma('synth', '--n', a.assign_n, '--dim', a.dim, '--seed', 2, '-o', data2, '-q')
summary2 = os.path.join(tmp, 'assign.json')
ma('kmeans', '-i', data2, '--clusters', a.k, '--iters', 2, '--sample-per-cluster', 16, '-o',
   os.path.join(tmp, 'k2.h5'), '--summary', summary2, '-q')
s2 = json.load(open(summary2))['clusterings'][0]

iter_flop = flop * s['clusterings'][0]['iterations']
print(f'\nk-means: {a.n} x {a.dim} float32, K = {a.k}, {a.iters} iterations, {a.ranks} ranks / 2 threads')
print(f'  {describe(memaudit, env)}')
print(f'  OpenBLAS SGEMM peak (2 threads, {a.n}x{a.dim} . {a.dim}x{a.k}): {peak:7.1f} GFLOP/s')
print(f'  memaudit kmeans  wall {wall:6.1f} s  Lloyd {ma_lloyd:6.1f} s  {ma_gflops:6.1f} GFLOP/s '
      f'= {ma_gflops / peak:5.1%} of peak  objective {ma_obj:.5f}')
print(f'  faiss Kmeans     train {faiss_s:6.1f} s  {iter_flop / faiss_s / 1e9:6.1f} GFLOP/s '
      f'= {iter_flop / faiss_s / 1e9 / peak:5.1%} of peak  objective {faiss_obj:.5f}')
print(f'  memaudit / faiss time: {wall / faiss_s:.2f} (whole job, incl. read, seeding, assignment, write)')
print(f'  assignment of {a.assign_n} items to {a.k} centroids: {s2["assign_seconds"]:.2f} s, '
      f'{s2["assign_gflops"]:.1f} GFLOP/s = {s2["assign_gflops"] / peak:5.1%} of peak')
