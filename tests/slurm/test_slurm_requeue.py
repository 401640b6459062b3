"""The shell logic of slurm/dedup.sbatch and slurm/audit.sbatch on the single-node test cluster, with
fake_memaudit.sh in place of memaudit: USR1 to the batch shell is forwarded through srun to every rank,
the run exits 75 after its "checkpoint", the job requeues itself and the next run resumes from the
same --workdir and completes. A 75 without the job's own USR1 (the steps signalled directly, as
scancel does) is recorded as the job's exit code and does not requeue."""
import os
import tempfile
import time

import cluster

cluster.skip_unless_available()

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, '..', '..', 'slurm')
FAKE = os.path.join(HERE, 'fake_memaudit.sh')
top = tempfile.mkdtemp(prefix='ma-slurm-requeue-', dir=os.getcwd())


def read(path):
    with open(path, errors='replace') as f:
        return f.read()


def lines(path):
    return read(path).splitlines()


def wait_files(paths, timeout, c, job):
    end = time.monotonic() + timeout
    while not all(os.path.exists(p) for p in paths):
        f = c.job(job)
        assert f.get('JobState') in ('PENDING', 'RUNNING'), f'job {job} ended early: {f.get("JobState")}\n{c.history(job)}'
        assert time.monotonic() < end, f'job {job}: {paths} not there after {timeout} s\n{c.logs()}'
        time.sleep(0.2)


def submit(c, template, name, env, options, args):
    d = os.path.join(top, name)
    os.mkdir(d)
    env = dict(env, MEMAUDIT=FAKE, OUT=os.path.join(d, 'result.h5'), WORKDIR=os.path.join(d, 'work'))
    log = os.path.join(d, 'job.out')
    # --time well above the template's 300 s warning, so that USR1 comes only from the test.
    job = c.sbatch(os.path.join(TEMPLATES, template), *args, env=env,
                   options=['--time=30', '--mem-per-cpu=256M', '-D', d, '-o', log, *options])
    work = env['WORKDIR']
    ranks = 2 if '--ntasks-per-node=2' in options else 1
    wait_files([f'{work}/running.{r}.0' for r in range(ranks)], 30, c, job)
    return job, d, work, log


def interrupted_and_resumed(c, template, env, expect_args):
    """Sends USR1 to the batch shell of a running 2-rank job; checks it requeued once and completed."""
    name = template.split('.')[0]
    job, d, work, log = submit(c, template, name, env, ['--ntasks-per-node=2', '--cpus-per-task=1'], ['--seed', '7'])
    c.run('scancel', '--signal=USR1', '--batch', str(job))
    r = c.wait(job, timeout=60)
    text = read(log)
    assert (r.state, r.exit_code, r.restarts) == ('COMPLETED', 0, 1), \
        f'{template}: job {job} {r.state} exit {r.exit_code} after {r.restarts} requeues, expected COMPLETED 0 after 1\n' \
        f'{text}{c.history(job)}'
    assert read(os.path.join(d, 'result.h5')) == 'result of run 1\n', f'{template}: the resumed run wrote no result'
    for rank in (0, 1):
        assert read(f'{work}/checkpoint.{rank}') == 'run 0\n', f'{template}: rank {rank} saved no checkpoint'
        for run in (0, 1):
            got = lines(f'{work}/args.{rank}.{run}')
            assert got == expect_args(d, work), f'{template}: rank {rank} run {run} got the command line {got}'
        assert read(f'{work}/env.{rank}.0') == 'OPENBLAS_NUM_THREADS=1 SLURM_CPUS_PER_TASK=1\n', read(f'{work}/env.{rank}.0')
    for s in (f'{name}: job {job} run 1 ', f'{name}: job {job} run 2 ', 'rank 0: interrupted, checkpoint saved',
              'rank 1: interrupted, checkpoint saved', f'requeueing job {job}', 'rank 1: resumed from'):
        assert s in text, f'{template}: the job log (kept across requeues) lacks {s!r}:\n{text}'


with cluster.start() as c:
    inputs = os.path.join(top, 'train.list')
    with open(inputs, 'w') as f:
        f.write('/data/train-0.h5\n/data/train-1.h5\n')

    interrupted_and_resumed(
        c, 'dedup.sbatch', {'INPUT_LIST': inputs},
        lambda d, work: ['dedup', '-i', '@' + inputs, '-o', f'{d}/result.h5', '--workdir', work,
                         '--summary', f'{d}/result.json', '--seed', '7'])
    interrupted_and_resumed(
        c, 'audit.sbatch', {'TRAIN_LIST': inputs, 'GEN': '/data/gen.h5:/emb', 'HOLDOUT': '/data/holdout.h5'},
        lambda d, work: ['audit', '--train', '@' + inputs, '--generated', '/data/gen.h5:/emb',
                         '--holdout', '/data/holdout.h5', '-o', f'{d}/result.h5', '--workdir', work,
                         '--summary', f'{d}/result.json', '--seed', '7'])

    # USR1 to the steps only: the ranks exit 75 but the job did not ask for it, so it does not requeue.
    # One rank with two CPUs: OpenBLAS gets two threads, and srun hands the step both CPUs.
    job, d, work, log = submit(c, 'audit.sbatch', 'no-requeue', {'TRAIN_LIST': inputs},
                               ['--ntasks-per-node=1', '--cpus-per-task=2'], [])
    c.run('scancel', '--signal=USR1', str(job))
    r = c.wait(job, timeout=60)
    text = read(log)
    assert (r.state, r.exit_code, r.restarts) == ('FAILED', 75, 0), \
        f'job {job} {r.state} exit {r.exit_code} after {r.restarts} requeues, expected FAILED 75 after 0\n{text}'
    assert 'requeueing' not in text, text
    assert '--holdout' not in lines(f'{work}/args.0.0'), 'an empty HOLDOUT still passed --holdout'
    assert read(f'{work}/env.0.0') == 'OPENBLAS_NUM_THREADS=2 SLURM_CPUS_PER_TASK=2\n', read(f'{work}/env.0.0')

print('slurm_requeue: ok')
