#!/usr/bin/python3
"""Scale benchmark (issue 12): how dedup's cost grows with N when K grows with it, in one run.

  1. OpenBLAS SGEMM peak on one thread (the per-core constant of docs/scale.md's cost model) for the
     Lloyd iteration's shape;
  2. for N = 1M, 2M, 4M, 8M, 16M (--sizes, in millions): synth float16, D = 256, then memaudit dedup on
     2 ranks with --clusters auto (K = N / 1000), R = 1, the default recall sample of 1,000: wall time,
     time per row, each phase, seeding's share of the job, the largest peak RSS of a rank against its
     share of the rows (N * D * 2 / 2 bytes), the estimated recall, and each phase's GEMM rate;
  3. at the first N: flat against two-level k-means at the same K, R = 5 (time, objective, estimated
     recall after 1 and after 5 clusterings).

    /usr/bin/python3 tests/bench/bench_scale.py [--build build] [--sizes 1,2,4,8,16] [--json out.json]
                                                [--svg curve.svg] [--isa avx2]
    /usr/bin/python3 tests/bench/bench_scale.py --project avx512.json [--avx2 avx2.json]

--project runs nothing: it projects a dedup of 300M x 768 float16, K = 300,000, R = 5, on 16, 32 and 64
nodes of 64 cores from the per-core constants of the largest N in a --json file (docs/scale.md, "Cost
model"); --avx2 scales each phase by the AVX2/AVX-512 ratio measured at the largest N both files hold.

The data is deleted after each size (16M x 256 float16 is 8 GiB). Prints tables; asserts nothing about
time (a benchmark, not a test). --svg writes the time-per-row curve as the SVG that docs/scale.md holds."""
import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
import numpy as np  # noqa: E402  (after the thread setting)

from machine import describe, isa_env  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('--build', default=os.path.join(os.path.dirname(__file__), '..', '..', 'build'))
p.add_argument('--sizes', default='1,2,4,8,16', help='N in millions, comma-separated')
p.add_argument('--dim', type=int, default=256)
p.add_argument('--no-compare', action='store_true', help='skip the flat vs two-level comparison')
p.add_argument('--compare-r', type=int, default=5)
p.add_argument('--isa', default='default', help='MEMAUDIT_ISA for memaudit (default: the CPU\'s best)')
p.add_argument('--json', help='write every figure here')
p.add_argument('--svg', help='write the time-per-row curve here')
p.add_argument('--tmp', default=None, help='where the data goes (default: a new temporary folder)')
p.add_argument('--project', help='a --json file: print the 300M x 768 projection from it and exit')
p.add_argument('--avx2', help='with --project: a --json file from --isa avx2, for the AVX2 column')
a = p.parse_args()

# Assumptions of the projection that this machine cannot measure (docs/scale.md says so).
NODE_CORES, NET_GBPS, NET_EFFICIENCY, FS_GBPS = 64, 12.5, 0.5, 50.0


def constants(row, dim):
    """Per-core seconds per unit of each phase's work at one measured N (2 ranks = 2 cores)."""
    n, k, cores = row['n'], row['k'], 2
    ph = row['phases']
    kmeans = sum(v for key, v in ph.items() if key.startswith('kmeans'))
    search = sum(v for key, v in ph.items() if key.startswith('search'))
    return {
        'kmeans': kmeans * cores / (n * k ** 0.5 * dim),              # per row * sqrt(K) * D
        'search': row['search_seconds'] * cores / row['search_flops'],  # per flop of the intra-cluster search
        'search_flops_per_row_dim': row['search_flops'] / (n * dim),  # sum of m^2 over N, at N/K = 1000
        'exchange': (search - row['search_seconds']) * cores / n / dim,  # pack, sort, copy: per row * D
        'recall': ph['recall'] * cores / row['recall_flops'],
        'keep': ph['keep'] * cores / n,
    }


def project(c, label):
    n, dim, r, k = 300_000_000, 768, 5, 300_000
    data = n * dim * 2
    print(f'\n{label}: 300M x 768 float16, K = {k:,}, R = {r}; {NODE_CORES} cores a node; network {NET_GBPS} GB/s a '
          f'node at {NET_EFFICIENCY:.0%} for the exchange; file system {FS_GBPS} GB/s in all (assumed)')
    print('| nodes | read | k-means (x5) | search (x5) | exchange (x5) | recall | keep | total | data a rank |')
    print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for nodes in (16, 32, 64):
        cores = nodes * NODE_CORES
        read = data / (FS_GBPS * 1e9)
        km = c['kmeans'] * n * k ** 0.5 * dim / cores
        se = c['search'] * c['search_flops_per_row_dim'] * n * dim / cores
        xc = c['exchange'] * n * dim / cores + n * (dim * 2 + 24) / (nodes * NET_GBPS * 1e9 * NET_EFFICIENCY)
        rc = c['recall'] * 2.0 * 1000 * n * dim / cores
        kp = c['keep'] * n / cores
        total = read + r * (km + se + xc) + rc + kp
        print(f'| {nodes} | {read:.0f} s | {r * km:.0f} s | {r * se:.0f} s | {r * xc:.0f} s | {rc:.0f} s | {kp:.0f} s | '
              f'{total / 60:.1f} min | {data / cores / 2**20:.0f} MiB |')


if a.project:
    base = json.load(open(a.project))
    row = base['sizes'][-1]
    c = constants(row, base.get('dim', 256))
    print(f'constants from N = {row["n"]:,} ({base["machine"]}):')
    for key, v in c.items():
        print(f'  {key}: {v:.4g}')
    project(c, 'AVX-512 path')
    if a.avx2:
        other = json.load(open(a.avx2))
        common = max(set(r['n'] for r in other['sizes']) & set(r['n'] for r in base['sizes']))
        c5 = constants(next(r for r in base['sizes'] if r['n'] == common), base.get('dim', 256))
        c2 = constants(next(r for r in other['sizes'] if r['n'] == common), other.get('dim', 256))
        ratio = {key: c2[key] / c5[key] if c5[key] else 1.0 for key in c}
        ratio['search_flops_per_row_dim'] = 1.0
        print(f'AVX2 / AVX-512 per-core cost at N = {common:,} ({other["machine"]}): ' +
              ', '.join(f'{key} {v:.2f}' for key, v in ratio.items() if key != 'search_flops_per_row_dim'))
        project({key: c[key] * ratio[key] for key in c}, 'AVX2 path')
    raise SystemExit(0)

memaudit = os.path.abspath(os.path.join(a.build, 'memaudit'))
env = isa_env(dict(os.environ, OPENBLAS_NUM_THREADS='1', OMPI_ALLOW_RUN_AS_ROOT='1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM='1'),
              a.isa)
tmp = tempfile.mkdtemp(prefix='ma-bench-scale-', dir=a.tmp)
machine = describe(memaudit, env)
print(machine, flush=True)


def ma(*args):
    t = time.perf_counter()
    r = subprocess.run(['mpiexec', '-q', '--oversubscribe', '-n', '2', memaudit] + [str(x) for x in args], env=env,
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f'memaudit {args[0]} failed: {r.stderr[-3000:]}')
    return time.perf_counter() - t, r.stderr


# 1. the per-core SGEMM peak at the Lloyd shape (sample rows against K centroids)
rng = np.random.default_rng(0)
x = rng.standard_normal((65536, a.dim), dtype=np.float32)
c = rng.standard_normal((1024, a.dim), dtype=np.float32)
best = min((lambda t0: (x @ c.T, time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(5))
peak = 2.0 * 65536 * 1024 * a.dim / best / 1e9
del x, c
print(f'OpenBLAS SGEMM, 1 thread, 65536 x 1024 x {a.dim}: {peak:.1f} GFLOP/s', flush=True)

figures = {'machine': machine, 'dim': a.dim, 'sgemm_gflops_per_core': peak, 'sizes': [], 'compare': {}}


def dedup(data, out, *extra):
    summary = out + '.json'
    wall, err = ma('dedup', '-i', data, '--summary', summary, '-o', out, *extra)
    s = json.load(open(summary))
    os.unlink(out)
    return wall, s, err


sizes = [int(float(v) * 1000000) for v in a.sizes.split(',')]
for n in sizes:
    data = os.path.join(tmp, 'train.h5')
    t_synth, _ = ma('synth', '--n', n, '--dim', a.dim, '--dtype', 'f16', '--seed', 1, '-o', data, '-q')
    wall, s, err = dedup(data, os.path.join(tmp, 'dedup.h5'), '--clusters', 'auto', '--reclusterings', 1)
    cl = s['clusterings'][0]
    share = n * a.dim * 2 / 2
    phases = s['phases']
    row = {
        'n': n, 'k': s['clusters'], 'kmeans': s['kmeans'], 'wall': wall, 'seconds': s['seconds'],
        'us_per_row': s['seconds'] / n * 1e6, 'phases': phases, 'seed_seconds': cl['seed_seconds'],
        'seed_share': cl['seed_seconds'] / s['seconds'], 'peak_rss_bytes': s['peak_rss_bytes'],
        'rss_over_share': s['peak_rss_bytes'] / share, 'recall': s['recall'][0]['recall'],
        'ci': [s['recall'][0]['ci_low'], s['recall'][0]['ci_high']], 'objective': cl['objective'],
        'iterations': cl['iterations'], 'lloyd_seconds': cl['lloyd_seconds'], 'lloyd_gflops': cl['lloyd_gflops'],
        'assign_seconds': cl['assign_seconds'], 'assign_gflops': cl['assign_gflops'],
        'search_seconds': cl['search_seconds'], 'search_gflops_per_rank': cl['search_gflops_per_rank'],
        'exchange_seconds': cl['exchange_seconds'], 'bytes_moved': cl['bytes_moved'],
        'search_flops': cl['search_flops'], 'kmeans_flops': cl['kmeans_flops'], 'recall_flops': s['recall_flops'],
        'removed_fraction': s['removed_fraction'], 'synth_seconds': t_synth,
    }
    if 'fine k-means' in err:  # two levels: the log splits the k-means phase
        tail = err.split('; coarse ')[1].split('\n')[0]
        row['two_level_seconds'] = dict(zip(('coarse', 'fine', 'reassignment', 'size cap'),
                                            (float(v.split(' s')[0].split()[-1]) for v in tail.split(', '))))
    figures['sizes'].append(row)
    print(f'N = {n:>10,}  K = {row["k"]:>6,} ({row["kmeans"]}): {s["seconds"]:7.1f} s, {row["us_per_row"]:5.1f} us/row; '
          f'seeding {row["seed_seconds"]:.2f} s ({100 * row["seed_share"]:.1f}%); peak RSS {row["peak_rss_bytes"] / 2**20:,.0f} '
          f'MiB = {row["rss_over_share"]:.2f} x share; recall {row["recall"]:.4f}; phases '
          + ', '.join(f'{k} {v:.1f}' for k, v in phases.items()), flush=True)
    if n == sizes[0] and not a.no_compare:
        for method in ('flat', 'two-level'):
            wall, s, _ = dedup(data, os.path.join(tmp, f'cmp-{method}.h5'), '--clusters', row['k'], '--kmeans', method,
                               '--reclusterings', a.compare_r)
            kmeans_s = sum(v for k, v in s['phases'].items() if k.startswith('kmeans'))
            search_s = sum(v for k, v in s['phases'].items() if k.startswith('search'))
            figures['compare'][method] = {
                'seconds': s['seconds'], 'kmeans_seconds': kmeans_s, 'search_seconds': search_s,
                'objectives': [cl['objective'] for cl in s['clusterings']],
                'seed_seconds': sum(cl['seed_seconds'] for cl in s['clusterings']),
                'recall': [r['recall'] for r in s['recall']], 'pairs': s['pairs'],
            }
            f = figures['compare'][method]
            print(f'  {method:9} K = {row["k"]}, R = {a.compare_r}: {f["seconds"]:.1f} s (k-means {kmeans_s:.1f}, search '
                  f'{search_s:.1f}); objective per clustering {" ".join(f"{o:.4f}" for o in f["objectives"])}; recall '
                  f'after 1 and {a.compare_r}: {f["recall"][0]:.4f}, {f["recall"][-1]:.4f}; {f["pairs"]:,} pairs',
                  flush=True)
    os.unlink(data)

first, last = figures['sizes'][0], figures['sizes'][-1]
print(f'\ntime per row at {last["n"]:,} / at {first["n"]:,}: {last["us_per_row"] / first["us_per_row"]:.2f} (target <= 1.3)')
print(f'seeding share, largest: {max(r["seed_share"] for r in figures["sizes"]) * 100:.1f}% (target <= 5%)')
print(f'peak RSS / share, largest: {max(r["rss_over_share"] for r in figures["sizes"]):.2f} (target <= 2)')
if figures['compare']:
    fl, tl = figures['compare']['flat']['recall'], figures['compare']['two-level']['recall']
    print(f'recall two-level - flat, after 1 and {a.compare_r}: {tl[0] - fl[0]:+.4f}, {tl[-1] - fl[-1]:+.4f} '
          '(target >= -0.01)')

if a.json:
    with open(a.json, 'w') as f:
        json.dump(figures, f, indent=1)


def svg(rows, path):
    """Time per row (us) against N on a log2 axis, one stacked bar per N: read, k-means, search, recall,
    keep and write; plain SVG, no script, so it can sit inline in Markdown."""
    w, h, left, bottom, top = 560, 300, 60, 40, 20
    groups = [('read', '#8da0cb'), ('kmeans', '#66c2a5'), ('search', '#fc8d62'), ('recall', '#e78ac3'),
              ('keep', '#a6d854'), ('write', '#ffd92f')]
    ymax = max(r['us_per_row'] for r in rows) * 1.15
    bw = (w - left - 20) / len(rows) * 0.6
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + 30}" font-family="sans-serif" '
           'font-size="11">',
           f'<text x="{left}" y="12">dedup time per row (us), 2 ranks, K = N/1000, R = 1, D = 256 float16</text>']
    for t in range(0, int(ymax) + 1, max(1, int(ymax / 5))):
        y = h - bottom - (h - bottom - top) * t / ymax
        out.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t}</text>')
    for i, r in enumerate(rows):
        x = left + (i + 0.5) * (w - left - 20) / len(rows) - bw / 2
        y = h - bottom
        for name, colour in groups:
            sec = sum(v for k, v in r['phases'].items() if k.split()[0] == name)
            hh = (h - bottom - top) * sec / r['n'] * 1e6 / ymax
            y -= hh
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{hh:.1f}" fill="{colour}"/>')
        out.append(f'<text x="{x + bw / 2:.1f}" y="{h - bottom + 14}" text-anchor="middle">{r["n"] / 1e6:g}M</text>'
                   f'<text x="{x + bw / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{r["us_per_row"]:.1f}</text>')
    for j, (name, colour) in enumerate(groups):
        out.append(f'<rect x="{left + j * 80}" y="{h + 6}" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{left + j * 80 + 14}" y="{h + 15}">{name}</text>')
    out.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(out) + '\n')


if a.svg:
    svg(figures['sizes'], a.svg)
shutil.rmtree(tmp, ignore_errors=True)
