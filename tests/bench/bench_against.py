#!/usr/bin/python3
"""Incremental dedup (issue 14): the cost of checking new rows against a kept corpus (dedup -i NEW
--against CORPUS) against deduplicating the union from scratch (dedup -i CORPUS -i NEW), on the same
rows, on 2 ranks: synth writes n + m rows as shards of m rows (default 1,000,000 + 100,000, 64 float16
dimensions); the last shard is the new part. Both runs use the same K, R and recall sample.

    /usr/bin/python3 tests/bench/bench_against.py [--build build] [--n 1000000] [--m 100000]

Prints wall time, per-phase seconds and the search's comparisons of both runs and their ratios;
asserts nothing about time (a benchmark, not a test)."""
import argparse
import json
import os
import subprocess
import tempfile
import time

from machine import describe, isa_env

p = argparse.ArgumentParser()
p.add_argument('--build', default=os.path.join(os.path.dirname(__file__), '..', '..', 'build'))
p.add_argument('--n', type=int, default=1000000, help='rows of the kept corpus')
p.add_argument('--m', type=int, default=100000, help='new rows (n must be a multiple of m)')
p.add_argument('--dim', type=int, default=64)
p.add_argument('--k', type=int, default=1024)
p.add_argument('--reclusterings', type=int, default=2)
p.add_argument('--ranks', type=int, default=2)
a = p.parse_args()
assert a.n % a.m == 0, '--n must be a multiple of --m (the shards are m rows)'
memaudit = os.path.abspath(os.path.join(a.build, 'memaudit'))
env = isa_env(dict(os.environ, OPENBLAS_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1'),
              'default')
tmp = tempfile.mkdtemp(prefix='ma-bench-against-')


def ma(*args):
    cmd = ['mpiexec', '-q', '--oversubscribe', '-n', str(a.ranks), memaudit] + [str(x) for x in args]
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f'memaudit failed: {r.stderr[-2000:]}')
    return time.perf_counter() - t


shards = (a.n + a.m) // a.m
data = os.path.join(tmp, 'all.h5')
ma('synth', '--n', a.n + a.m, '--dim', a.dim, '--dtype', 'f16', '--shards', shards, '--seed', 1, '-o', data, '-q')
names = [line.strip() for line in open(os.path.join(tmp, 'all.list')) if line.strip()]
corpus, new = names[:-1], names[-1]
common = ['--clusters', a.k, '--reclusterings', a.reclusterings, '--threshold', 0.95, '-q']
runs = {}
for name, inputs in (('full rerun', sum((['-i', s] for s in corpus), []) + ['-i', new]),
                     ('incremental', ['-i', new] + sum((['--against', s] for s in corpus), []))):
    summary = os.path.join(tmp, name.replace(' ', '-') + '.json')
    wall = ma('dedup', *inputs, *common, '-o', os.path.join(tmp, 'out.h5'), '--summary', summary)
    runs[name] = (wall, json.load(open(summary)))

print(f'\ndedup --against: {a.n} kept + {a.m} new rows x {a.dim} float16, K = {a.k}, R = {a.reclusterings}, '
      f'{a.ranks} ranks')
print(f'  {describe(memaudit, env)}')
for name, (wall, s) in runs.items():
    phases = ', '.join(f'{k} {v:.1f}' for k, v in s['phases'].items())
    search = sum(cl['search_flops'] for cl in s['clusterings'])
    print(f'  {name}: wall {wall:.1f} s; search {search / 1e9:.1f} GFLOP; removed {s["removed"]} of {s["n"]}; '
          f'pairs {s["pairs"]}')
    print(f'      phases (s): {phases}')
(fw, fs), (iw, is_) = runs['full rerun'], runs['incremental']
fsearch = sum(cl['search_flops'] for cl in fs['clusterings'])
isearch = sum(cl['search_flops'] for cl in is_['clusterings'])
print(f'  incremental / full: wall {iw / fw:.2f}, search work {isearch / fsearch:.3f}')
