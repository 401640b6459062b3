"""A host lost in the middle of a dedup --workdir job on 3 hosts x 2 ranks, during its second
clustering: --fault kill sends SIGKILL to every process of host 3 (slurmd, step daemon, ranks);
--fault cut takes its link down (its processes live on, unreachable). Either way the job must end
within BOUND seconds of the fault with one clear error line, leave no result, and a rerun on the two
surviving hosts with the same --workdir resumes from the checkpoints and writes a result
byte-identical to an uninterrupted run."""
import argparse
import os
import re
import time

import cluster

cluster.skip_unless_available()

import mn  # noqa: E402  (first: it puts tests/mpi on the path)
import harness  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument('--fault', choices=('kill', 'cut'), required=True)
fault = ap.parse_args().fault
# The watchdog's W, a heartbeat period (W/4) and srun's teardown of a step with an unreachable node
# (KillWait 3 s in the test cluster, then its own timeout): what a test may wait for after the fault.
BOUND = mn.WATCHDOG + 20

d = mn.folder(f'lost-{fault}')
train = mn.make_data(d)
ref = f'{d}/ref.h5'
harness.run(1, 'dedup', '-i', train, '-o', ref, *mn.DEDUP, '-q')
work, out = f'{d}/work', f'{d}/out.h5'
args = ['dedup', '-i', train, '-o', out, '--workdir', work, *mn.DEDUP, '-v']

with cluster.start() as c:
    # Held at the start of the second clustering (MEMAUDIT_PAUSE_AT: the ranks sleep there, for 60 s at
    # most, while the watchdog's heartbeats go on), so that the fault always falls inside it: without the
    # hold, a fast machine could finish the clustering before the fault and another rank's MPI error could
    # come before the watchdog's line (seen once in 4 runs).
    j = mn.Job(c, ['-N', 3, '-n', 6, '--ntasks-per-node', 2], args,
               env={'MEMAUDIT_WATCHDOG': str(mn.WATCHDOG), 'MEMAUDIT_PAUSE_AT': 'kmeans 1'})
    j.wait_line(r'paused for a test', timeout=120)
    assert j.p.poll() is None, f'the job ended before the fault:\n{j.text()}'
    t_fault = time.monotonic()
    if fault == 'kill':
        killed = c.kill_host(3)
        assert killed, 'host 3 had no processes to kill'
    else:
        c.cut_link(3)
    code, t_end = j.wait(BOUND)
    if code is None:
        raise AssertionError(f'the job did not end within {BOUND} s of the fault ({fault}):\n{j.text()}')
    took = t_end - t_fault
    errors = [l for l in j.lines if 'memaudit: error: ' in l]
    assert code != 0, f'srun exit 0 after the fault:\n{j.text()}'
    assert errors, f'no memaudit error line after the fault:\n{j.text()}'
    assert not os.path.exists(out), 'a result file was left by the failed run'
    print(f'{fault}: host 3 lost during clustering 1; the job ended {took:.1f} s later (srun exit {code}):\n  {errors[0]}')
    if fault == 'cut':
        # the ranks silent when the watchdog fires: both of node3's, or the first of them to miss a beat
        # (seen once: 'rank 5 (node3)'); never a rank of another host
        assert any(re.search(r'watchdog: no word from ranks? (4-5|4|5) \(node3\)', l) for l in errors), errors

    # the rerun on the surviving hosts resumes from the checkpoints
    r = mn.run(c, ['-N', 2, '-n', 4, '-w', 'node1,node2'], args, timeout=180)
    assert any('clustering 0: loaded from' in l for l in r.lines), f'the rerun did not resume:\n{r.text()}'
harness.same_result(ref, out)
print(f'{fault}: the rerun on node1 and node2 resumed from {work} and wrote a result byte-identical to an '
      f'uninterrupted run')
