"""The exchange on a slow network: tc netem on every host's link (1 Gbit/s each way, 0.5 ms; a tbf at
1 Gbit/s without delay where the kernel has no netem), dedup on
3 hosts x 2 ranks, and each clustering's member exchange (bytes_moved, exchange_seconds in the summary)
set beside the bytes the cost model predicts (docs/dedup.md: N·(D·e + 24) per clustering when no
cluster is split). The same run on unthrottled links gives the baseline. Prints both; checks that the
bytes are the model's (more only for split clusters) and the result is unchanged."""
import json

import cluster

cluster.skip_unless_available()

import mn  # noqa: E402  (first: it puts tests/mpi on the path)
import harness  # noqa: E402

N, DIM = 40000, 128
d = mn.folder('netem')
train = mn.make_data(d, n=N, dim=DIM)
predicted = N * (DIM * 2 + 24)
args = ['dedup', '-i', train, '--clusters', 48, '--reclusterings', 2, '--recall-sample', 0, '--seed', 5, '-q']
figures = {}
with cluster.start() as c:
    for name in ('fast', 'throttled'):
        if name == 'throttled':
            shaping = c.throttle('1gbit', '0.5ms')
        mn.run(c, ['-N', 3, '-n', 6, '--ntasks-per-node', 2], args + ['-o', f'{d}/{name}.h5', '--summary', f'{d}/{name}.json'])
        figures[name] = json.load(open(f'{d}/{name}.json'))['clusterings']
harness.same_result(f'{d}/fast.h5', f'{d}/throttled.h5')
print(f'links: {shaping}')
print(f'N={N} D={DIM} float16, 3 hosts x 2 ranks; the model predicts {predicted} bytes per clustering '
      f'({predicted / 2**20:.1f} MiB), about 5/6 of them between hosts')
for r, (f, t) in enumerate(zip(figures['fast'], figures['throttled'])):
    assert f['bytes_moved'] == t['bytes_moved'], (f, t)
    assert predicted <= t['bytes_moved'] <= 2 * predicted, f'clustering {r}: moved {t["bytes_moved"]}, model {predicted}'
    wire = t['bytes_moved'] * 5 / 6 * 8 / 3e9  # three 1 Gbit/s links, each host sending its 5/6 share
    print(f'clustering {r}: moved {t["bytes_moved"]} bytes ({t["bytes_moved"] / predicted:.2f}x the model) in '
          f'{t["rounds"]} round(s); exchange {f["exchange_seconds"]:.3f} s unthrottled, '
          f'{t["exchange_seconds"]:.3f} s throttled (wire time at line rate {wire:.3f} s)')
