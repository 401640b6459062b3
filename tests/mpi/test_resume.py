"""Preemption and resume of dedup (and kmeans, audit) with --workdir (issue 6), under mpirun:

- interrupted with SIGUSR1 in the middle of each long phase (MEMAUDIT_PAUSE_AT holds the run at the
  start of a named phase until the signal comes), every rank exits 75 with one line, no result file is
  left, and a rerun with the same work directory at another rank count gives a result byte-identical
  to an uninterrupted run (every dataset and attribute);
- one rank killed with SIGKILL mid-run: the job ends (no hang: ctest's timeout bounds it), leaves no
  result file, and the rerun resumes from the last checkpoint with identical output;
- a rerun whose configuration differs is refused with exit 2.
"""
import os
import shutil
import signal
import subprocess
import time

from harness import expect_error, finish_paused as finish, ok, run, same_result, start_paused, workdir

d = workdir('resume')
data = os.path.join(d, 'train.h5')
run(2, 'synth', '--n', 12000, '--dim', 48, '--dtype', 'f16', '--seed', 4, '-o', data, '-q')
ARGS = ['dedup', '-i', data, '--clusters', 40, '--reclusterings', 3, '--threshold', '0.95,0.9',
        '--recall-sample', 300, '--iters', 10]
reference = os.path.join(d, 'reference.h5')
run(2, *ARGS, '-o', reference, '-q')


def start(ranks, out, work, pause, args=ARGS):
    """Starts a run that holds at the start of phase `pause`; returns once it says so."""
    return start_paused(ranks, list(args) + ['-o', out, '--workdir', work], pause)


for phase, again in (('kmeans 0', 3), ('search 1', 1), ('kmeans 2', 4), ('recall', 2)):
    work, out = os.path.join(d, f'work-{phase.replace(" ", "")}'), os.path.join(d, f'out-{phase.replace(" ", "")}.h5')
    p, seen = start(2, out, work, phase)
    p.send_signal(signal.SIGUSR1)  # mpirun forwards SIGUSR1 to every rank
    code, err = finish(p, seen)
    errors = [l for l in err.splitlines() if l.startswith('memaudit: error: ')]
    assert code == 75, f'{phase}: exit {code}, expected 75\n{err}'
    assert len(errors) == 1 and 'rerun with the same --workdir' in errors[0], f'{phase}: {errors}'
    assert not os.path.exists(out), f'{phase}: an interrupted run left {out}'
    _, err = run(again, *ARGS, '-o', out, '--workdir', work)
    if phase != 'kmeans 0':
        assert 'loaded from' in err, f'{phase}: the rerun did not resume:\n{err}'
    same_result(reference, out)

# A signal after the last checkpoint (the keep decisions and the writing take seconds): the run finishes.
work, out = os.path.join(d, 'work-keep'), os.path.join(d, 'out-keep.h5')
p, seen = start(2, out, work, 'keep')
p.send_signal(signal.SIGUSR1)
code, err = finish(p, seen)
assert code == 0, f'a signal after the last checkpoint: exit {code}\n{err}'
same_result(reference, out)

# A rank killed mid-run: the job ends, no result, the rerun resumes.
work, out = os.path.join(d, 'work-kill'), os.path.join(d, 'out-kill.h5')
p, seen = start(3, out, work, 'search 1')
ranks = subprocess.run(['pgrep', '-P', str(p.pid)], capture_output=True, text=True).stdout.split()
assert len(ranks) == 3, f'mpiexec has {len(ranks)} children, expected 3 ranks'
os.kill(int(ranks[1]), signal.SIGKILL)
t0 = time.monotonic()
code, err = finish(p, seen, timeout=60)
assert code != 0, 'the job went on without a rank'
print(f'job ended {time.monotonic() - t0:.1f} s after a rank was killed (exit {code})')
assert not os.path.exists(out)


def alive(pid):
    """Running (a zombie waiting for a reaper that is not there does not count)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            return 'State:\tZ' not in f.read()
    except OSError:
        return False


end = time.monotonic() + 10
while any(alive(r) for r in ranks) and time.monotonic() < end:
    time.sleep(0.2)
assert not any(alive(r) for r in ranks), 'ranks left running after the job ended'
_, err = run(2, *ARGS, '-o', out, '--workdir', work)
assert 'clustering 0: its pairs loaded' in err, err
same_result(reference, out)

# kmeans: interrupted in its second clustering, resumed at another rank count.
KM = ['kmeans', '-i', data, '--clusters', 30, '--reclusterings', 2, '--iters', 6]
km_ref, km_out, km_work = (os.path.join(d, n) for n in ('km-ref.h5', 'km-out.h5', 'km-work'))
run(3, *KM, '-o', km_ref, '-q')
p, seen = start(2, km_out, km_work, 'kmeans 1', KM)
p.send_signal(signal.SIGUSR1)
code, err = finish(p, seen)
assert code == 75 and not os.path.exists(km_out), f'kmeans: exit {code}\n{err}'
_, err = run(1, *KM, '-o', km_out, '--workdir', km_work)
assert 'clustering 0: loaded from' in err, err
same_result(km_ref, km_out)

# audit: interrupted in its holdout search, resumed at another rank count.
gen, hold = os.path.join(d, 'gen.h5'), os.path.join(d, 'hold.h5')
run(2, 'synth', '--like', data, '--regurgitate', 0.02, '--n', 900, '--seed', 8, '-o', gen, '-q')
run(2, 'synth', '--like', data, '--n', 500, '--seed', 9, '-o', hold, '-q')
AU = ['audit', '--train', data, '--generated', gen, '--holdout', hold, '--k', 5, '--query-block', 128]
au_ref, au_out, au_work = (os.path.join(d, n) for n in ('au-ref.h5', 'au-out.h5', 'au-work'))
run(2, *AU, '-o', au_ref, '-q')
p, seen = start(3, au_out, au_work, 'holdout', AU)
p.send_signal(signal.SIGUSR1)
code, err = finish(p, seen)
assert code == 75 and not os.path.exists(au_out), f'audit: exit {code}\n{err}'
_, err = run(2, *AU, '-o', au_out, '--workdir', au_work)
assert 'search: loaded from' in err, err
same_result(au_ref, au_out)

# Another configuration in the same work directory is refused.
expect_error(2, 2, ['--workdir', 'another configuration'], *ARGS[:4], 33, *ARGS[5:], '-o', os.path.join(d, 'x.h5'),
             '--workdir', work)
shutil.rmtree(os.path.join(d, 'work-kill'))
ok('resume')
