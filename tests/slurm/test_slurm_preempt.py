"""Preemption of a real dedup job through slurm/dedup.sbatch on the single-node test cluster: the job is
held in the middle of its second search, gets its USR1 (`scancel --signal=USR1 --batch`, what Slurm
sends 300 s before a time limit), the ranks save a checkpoint and exit 75, the job requeues itself,
the second run resumes from the work directory, and the result is byte-identical to an uninterrupted
run."""
import os
import subprocess
import sys
import tempfile
import time

import cluster

cluster.skip_unless_available()

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'mpi'))
from harness import same_datasets  # noqa: E402

MEMAUDIT = os.environ['MEMAUDIT']
top = tempfile.mkdtemp(prefix='ma-slurm-preempt-', dir=os.getcwd())
data = os.path.join(top, 'train.h5')
ARGS = ['--clusters', '40', '--reclusterings', '3', '--threshold', '0.95', '--recall-sample', '200', '--iters', '8']
subprocess.run([MEMAUDIT, 'synth', '--n', '12000', '--dim', '48', '--shards', '2', '--seed', '6', '-o', data, '-q'],
               check=True)
inputs = os.path.join(top, 'train.list')
reference = os.path.join(top, 'reference.h5')
subprocess.run([MEMAUDIT, 'dedup', '-i', '@' + inputs, *ARGS, '-o', reference, '-q'], check=True)

with cluster.start() as c:
    d = os.path.join(top, 'job')
    os.mkdir(d)
    out, log = os.path.join(d, 'dedup.h5'), os.path.join(d, 'job.out')
    env = {'MEMAUDIT': os.path.join(HERE, 'first_run_pauses.sh'), 'MEMAUDIT_BIN': MEMAUDIT,
           'PAUSE_FIRST_RUN_AT': 'search 1', 'INPUT_LIST': inputs, 'OUT': out, 'WORKDIR': os.path.join(d, 'work')}
    job = c.sbatch(os.path.join(HERE, '..', '..', 'slurm', 'dedup.sbatch'), *ARGS, env=env,
                   options=['--time=30', '--mem-per-cpu=1G', '--ntasks-per-node=2', '-D', d, '-o', log])
    end = time.monotonic() + 60
    while 'paused for a test' not in (open(log).read() if os.path.exists(log) else ''):
        assert time.monotonic() < end, f'job {job} never reached the second search\n{c.logs()}'
        time.sleep(0.2)
    c.run('scancel', '--signal=USR1', '--batch', str(job))
    r = c.wait(job, timeout=120)
    text = open(log).read()
    assert (r.state, r.exit_code, r.restarts) == ('COMPLETED', 0, 1), \
        f'job {job}: {r.state} exit {r.exit_code} after {r.restarts} requeues, expected COMPLETED 0 after 1\n{text}'
    assert 'interrupted by signal' in text and 'its pairs loaded' in text, text
    same_datasets(reference, out)
print('slurm_preempt: ok')
