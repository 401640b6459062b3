#!/usr/bin/python3
"""audit benchmark (issue 5), all figures from one run on one machine:

  1. OpenBLAS SGEMM peak on 2 threads for the search's shape (10,000 x 256 times 256 x 1M), through numpy
     (Debian's numpy calls OpenBLAS's sgemm), measured on pieces of 16,384 training rows;
  2. memaudit audit on 2 ranks: 10,000 generated samples x 1,000,000 training items x 256 float32, k = 10
     (no holdout, no baseline: the search alone), its search time and whole-job wall time;
  3. faiss.IndexFlatIP on 2 threads, the same normalised data, k = 10: the search time;
  4. agreement: how many samples get the same nearest neighbour and the same top-10 set from both.

    /usr/bin/python3 tests/bench/bench_audit.py [--build build] [--n 1000000] [--queries 10000]
Prints a table; asserts nothing about time (it is a benchmark, not a test). Needs about 6 GB of memory
and 2 GB of disk in the temporary directory."""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

os.environ.setdefault('OPENBLAS_NUM_THREADS', '2')
os.environ.setdefault('OMP_NUM_THREADS', '2')
import numpy as np  # noqa: E402  (after the thread settings)

from machine import describe, isa_env  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--build', default=os.path.join(os.path.dirname(__file__), '..', '..', 'build'))
p.add_argument('--n', type=int, default=1000000)
p.add_argument('--queries', type=int, default=10000)
p.add_argument('--dim', type=int, default=256)
p.add_argument('--k', type=int, default=10)
p.add_argument('--ranks', type=int, default=2)
p.add_argument('--keep', action='store_true', help='keep the temporary directory')
p.add_argument('--isa', default='default', help='MEMAUDIT_ISA for memaudit (default: the CPU\'s best)')
a = p.parse_args()
memaudit = os.path.abspath(os.path.join(a.build, 'memaudit'))
env = isa_env(dict(os.environ, OPENBLAS_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1'),
              a.isa)
mpiexec = ['mpiexec', '-q', '--oversubscribe', '-n', str(a.ranks)]
tmp = tempfile.mkdtemp(prefix='ma-bench-audit-')


def ma(*args):
    t = time.perf_counter()
    subprocess.run(mpiexec + [memaudit] + [str(x) for x in args], check=True, env=env)
    return time.perf_counter() - t


flop = 2.0 * a.queries * a.n * a.dim

# 1. SGEMM peak for the shape, in pieces of the training side.
rng = np.random.default_rng(0)
q = rng.standard_normal((a.queries, a.dim), dtype=np.float32)
piece = rng.standard_normal((16384, a.dim), dtype=np.float32)
best = min((lambda t0: (q @ piece.T, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(8))
peak = 2.0 * a.queries * piece.shape[0] * a.dim / best / 1e9
del q, piece

# 2. memaudit.
train = os.path.join(tmp, 'train.h5')
gen = os.path.join(tmp, 'generated.h5')
ma('synth', '--n', a.n, '--dim', a.dim, '--seed', 1, '-o', train, '-q')
ma('synth', '--like', train, '--regurgitate', 0.01, '--n', a.queries, '--seed', 2, '-o', gen, '-q')
summary = os.path.join(tmp, 'audit.json')
out = os.path.join(tmp, 'audit.h5')
wall = ma('audit', '--train', train, '--generated', gen, '--k', a.k, '--baseline-sample', 0, '-o', out,
          '--summary', summary, '-q')
s = json.load(open(summary))
ma_search = s['search_seconds']

# 3. FAISS, same data, normalised as memaudit does (to float32 unit rows).
import faiss  # noqa: E402
import h5py  # noqa: E402
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
fs, fi = index.search(g, a.k)
faiss_s = time.perf_counter() - t
del index

# 4. Agreement.
with h5py.File(out, 'r') as f:
    nb, sims = f['neighbors'][...], f['similarity'][...]
same1 = float(np.mean(nb[:, 0] == fi[:, 0]))
same_k = float(np.mean([set(u) == set(v) for u, v in zip(nb.tolist(), fi.tolist())]))
maxdiff = float(np.max(np.abs(sims - fs)))

print(f'\naudit: {a.queries} queries x {a.n} training items x {a.dim} float32, k = {a.k}, '
      f'{a.ranks} ranks / 2 threads')
print(f'  {describe(memaudit, env)}')
print(f'  OpenBLAS SGEMM peak (2 threads, {a.queries}x{a.dim} . {a.dim}x16384 pieces): {peak:7.1f} GFLOP/s')
print(f'  memaudit audit   search {ma_search:6.1f} s  {flop / ma_search / 1e9:6.1f} GFLOP/s '
      f'= {flop / ma_search / 1e9 / peak:5.1%} of peak   (whole job {wall:6.1f} s, incl. start-up, read, write)')
print(f'  faiss FlatIP     search {faiss_s:6.1f} s  {flop / faiss_s / 1e9:6.1f} GFLOP/s '
      f'= {flop / faiss_s / 1e9 / peak:5.1%} of peak')
print(f'  memaudit / faiss time: search {ma_search / faiss_s:.2f}, whole job {wall / faiss_s:.2f}')
print(f'  agreement: same nearest {same1:.2%}, same top-{a.k} set {same_k:.2%}, max |sim difference| {maxdiff:.1e}')
if a.keep:
    print(f'  files kept in {tmp}')
else:
    shutil.rmtree(tmp)
