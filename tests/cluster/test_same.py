"""Same answers across hosts: dedup (three clusterings, two thresholds, the recall estimate) and audit on
3 hosts x 2 ranks of the test cluster give results byte-identical to 1 rank on one host. Open MPI's
own report shows the ranks on three different host names, each with only the TCP and self transports
(no shared memory between them), and the hosts' links carried the exchange."""
import json
import os

import cluster

cluster.skip_unless_available()

import mn  # noqa: E402  (first: it puts tests/mpi on the path)
import harness  # noqa: E402

d = mn.folder('same')
train = mn.make_data(d)
gen = os.path.join(d, 'gen.h5')
harness.run(2, 'synth', '--like', train, '--regurgitate', 0.05, '--n', 3000, '--seed', 12, '-o', gen, '-q')

# the reference: one rank on this host
harness.run(1, 'dedup', '-i', train, '-o', f'{d}/d1.h5', '--summary', f'{d}/d1.json', *mn.DEDUP, '-q')
harness.run(1, 'audit', '--train', train, '--generated', gen, '--k', 5, '-o', f'{d}/a1.h5', '--summary', f'{d}/a1.json', '-q')

with cluster.start() as c:
    before = [mn.eth0_bytes(c, k) for k in (1, 2, 3)]
    j = mn.run(c, ['-N', 3, '-n', 6, '--ntasks-per-node', 2],
               ['dedup', '-i', train, '-o', f'{d}/d6.h5', '--summary', f'{d}/d6.json', *mn.DEDUP, '-q'],
               env={'OMPI_MCA_btl_base_verbose': '100'})
    after = [mn.eth0_bytes(c, k) for k in (1, 2, 3)]
    seen = mn.transports(j.lines)
    hosts = sorted({h for h, _ in seen})
    assert hosts == ['node1', 'node2', 'node3'], f'ranks ran on {hosts}, not on three hosts:\n{j.text()}'
    assert len(seen) == 6 and all(len([1 for h, _ in seen if h == x]) == 2 for x in hosts), seen
    assert all(b == {'tcp', 'self'} for b in seen.values()), f'transports other than tcp and self: {seen}'
    moved = sum(cl['bytes_moved'] for cl in json.load(open(f'{d}/d6.json'))['clusterings'])
    sent = sum(a[1] - b[1] for a, b in zip(after, before))
    # two thirds of what a rank sends goes to another host; the exchange is most of the traffic
    assert sent > moved / 3, f'the links carried {sent} bytes, the exchange moved {moved}: not over the network?'
    print(f'dedup on 3 hosts x 2 ranks ({", ".join(hosts)}), transports tcp+self only; links sent {sent} bytes, '
          f'exchange moved {moved} bytes')

    mn.run(c, ['-N', 3, '-n', 6, '--ntasks-per-node', 2],
           ['audit', '--train', train, '--generated', gen, '--k', 5, '-o', f'{d}/a6.h5', '--summary', f'{d}/a6.json', '-q'])

mn.same_dedup(f'{d}/d1.h5', f'{d}/d6.h5')
harness.same_result(f'{d}/a1.h5', f'{d}/a6.h5', summaries=(f'{d}/a1.json', f'{d}/a6.json'))
print('dedup and audit on 3 hosts x 2 ranks: byte-identical to 1 rank on one host')
