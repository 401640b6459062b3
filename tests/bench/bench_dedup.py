#!/usr/bin/python3
"""dedup benchmark (issue 4), all figures from one run on one machine:

  1. OpenBLAS SGEMM peak on 2 threads for the k-means iteration's shape (numpy calls OpenBLAS sgemm);
  2. memaudit dedup on 2 ranks: n x 256 float16 from synth (default n = 1,000,000), K = 1024, R = 5:
     wall time, per-phase seconds, peak resident memory per rank, and the job's efficiency
     = (flops of all its GEMM work / SGEMM peak) / wall time, where the work is k-means (seeding, Lloyd,
     the assignment), the search (m^2/2 products per cluster of m) and the recall's exact search;
  3. a SemDeDup-style pipeline on the same data: faiss.Kmeans (spherical, 2 threads, 20 iterations,
     256 points per centroid as memaudit's default sample) + per-cluster numpy all-pairs, R = 1;
     and memaudit with R = 1 for the ratio, once as by default and once with --recall-sample 0 (the
     SemDeDup pipeline estimates no recall).

    /usr/bin/python3 tests/bench/bench_dedup.py [--build build] [--n 1000000]
Prints a table; asserts nothing about time (a benchmark, not a test)."""
import argparse
import json
import os
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
p.add_argument('--dim', type=int, default=256)
p.add_argument('--k', type=int, default=1024)
p.add_argument('--threshold', type=float, default=0.95)
p.add_argument('--isa', default='default', help='MEMAUDIT_ISA for memaudit (default: the CPU\'s best)')
a = p.parse_args()
memaudit = os.path.abspath(os.path.join(a.build, 'memaudit'))
env = isa_env(dict(os.environ, OPENBLAS_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1'),
              a.isa)
tmp = tempfile.mkdtemp(prefix='ma-bench-dedup-')


def ma(*args, timed_ranks=True):
    """Runs memaudit on 2 ranks, each under GNU time for its peak resident memory (a file per rank:
    the two ranks' stderr lines can interleave)."""
    cmd = ['mpiexec', '-q', '--oversubscribe', '-n', '2']
    if timed_ranks:
        cmd += ['sh', '-c', f'exec /usr/bin/time -o {tmp}/maxrss.$OMPI_COMM_WORLD_RANK -f %M "$@"', 'sh']
    t = time.perf_counter()
    r = subprocess.run(cmd + [memaudit] + [str(x) for x in args], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f'memaudit failed: {r.stderr[-2000:]}')
    rss = [int(open(f'{tmp}/maxrss.{rank}').read().split()[-1]) for rank in range(2)] if timed_ranks else []
    return wall, rss


# 1. SGEMM peak for the k-means iteration's shape (256 * K sample rows against K centroids).
rng = np.random.default_rng(0)
m = 256 * a.k
x = rng.standard_normal((m, a.dim), dtype=np.float32)
c = rng.standard_normal((a.k, a.dim), dtype=np.float32)
best = min((lambda t0: (x @ c.T, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(4))
peak = 2.0 * m * a.k * a.dim / best / 1e9
del x, c

# 2. memaudit dedup, R = 5 and R = 1.
data = os.path.join(tmp, 'train.h5')
ma('synth', '--n', a.n, '--dim', a.dim, '--dtype', 'f16', '--seed', 1, '-o', data, '-q', timed_ranks=False)
share_mib = a.n / 2 * (a.dim * 2 + 8) / 2**20
rows = {}
RUNS = {'R=5': (5, 1000), 'R=1': (1, 1000), 'R=1, no recall': (1, 0)}
for name, (R, S) in RUNS.items():
    summary = os.path.join(tmp, 'dedup.json')
    wall, rss = ma('dedup', '-i', data, '--clusters', a.k, '--reclusterings', R, '--threshold', a.threshold,
                   '--recall-sample', S, '-o', os.path.join(tmp, 'dedup.h5'), '--summary', summary, '-q')
    s = json.load(open(summary))
    flops = sum(cl['search_flops'] + cl['kmeans_flops'] for cl in s['clusterings']) + s['recall_flops']
    rows[name] = (wall, rss, s, flops)

# 3. SemDeDup-style: faiss k-means, then numpy all-pairs inside each cluster.
import faiss  # noqa: E402
import h5py  # noqa: E402
faiss.omp_set_num_threads(2)
with h5py.File(data, 'r') as f:
    x = f['embeddings'][...].astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
t = time.perf_counter()
km = faiss.Kmeans(a.dim, a.k, niter=20, spherical=True, seed=1, max_points_per_centroid=256)
km.train(x)
t_train = time.perf_counter() - t
_, assign = km.index.search(x, 1)
assign = assign[:, 0]
t_assign = time.perf_counter() - t - t_train
order = np.argsort(assign, kind='stable')
bounds = np.searchsorted(assign[order], np.arange(a.k + 1))
pairs = 0
for cl in range(a.k):
    idx = order[bounds[cl]:bounds[cl + 1]]
    if len(idx) < 2:
        continue
    s_ = x[idx] @ x[idx].T
    pairs += int((np.triu(s_, 1) >= a.threshold).sum())
sem = time.perf_counter() - t

print(f'\ndedup: {a.n} x {a.dim} float16, K = {a.k}, threshold {a.threshold}, 2 ranks / 2 threads')
print(f'  {describe(memaudit, env)}')
print(f'  OpenBLAS SGEMM peak (2 threads, {m}x{a.dim} . {a.dim}x{a.k}): {peak:.1f} GFLOP/s')
for name, (wall, rss, s, flops) in rows.items():
    eff = flops / (peak * 1e9) / wall
    phases = ', '.join(f'{k} {v:.1f}' for k, v in s['phases'].items())
    iters = ', '.join(str(cl['iterations']) for cl in s['clusterings'])
    print(f'  memaudit {name}: wall {wall:.1f} s (job {s["seconds"]:.1f} s); GEMM work {flops / 1e12:.2f} TFLOP; '
          f'efficiency {eff:.2f}; removed {s["removed"]} ({100 * s["removed_fraction"]:.1f}%), pairs {s["pairs"]}')
    print(f'      phases (s): {phases}; k-means iterations: {iters}')
    print(f'      peak RSS per rank: {", ".join(f"{v / 1024:.0f} MiB" for v in rss)} '
          f'(share of the data: {share_mib:.0f} MiB; ratio {max(rss) / 1024 / share_mib:.2f})')
    if s['recall']:
        print('      recall: ' + ', '.join(f'{r["recall"]:.4f}' for r in s['recall']))
print(f'  SemDeDup-style (faiss k-means + numpy per-cluster all-pairs, R=1): {sem:.1f} s, {pairs} pairs '
      f'(train {t_train:.1f} s, assign {t_assign:.1f} s, all-pairs {sem - t_train - t_assign:.1f} s)')
print(f'  SemDeDup / memaudit R=1: {sem / rows["R=1"][0]:.2f}x; without the recall estimate: '
      f'{sem / rows["R=1, no recall"][0]:.2f}x')
