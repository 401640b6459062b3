"""Failures at run time, after the work has started (exit 1, or the job killed), each bounded by a
timeout that fails the test:

- an output folder made read-only during the run (a tmpfs this test mounts, remounted read-only while
  the run holds at the start of its write phase, MEMAUDIT_PAUSE_AT): exit 1, one error line naming the
  file, and every output folder as it was: no result, no summary, no temporary. As root, chmod would not
  stop the writes, hence the remount; needs root (skipped otherwise, the rest runs).
- the folder of --summary removed during the run: exit 1, one line, no result or temporary.
- one rank killed with SIGKILL while the result's temporary is open: the job ends with a non-zero exit,
  no result and no summary appear, and the only thing left is the killed job's hidden temporary
  `.NAME.tmp.PID`, which nothing can remove once its writer is killed (docs/errors.md).
The full file system is test_diskfull.py; errors before any work, test_outputs.py."""
import os
import signal
import subprocess
import time

from harness import error_lines, finish_paused as finish, folder_listing, ok, run, start_paused, workdir

d = workdir('runfail')
out = os.path.join(d, 'out')
os.mkdir(out)
data = os.path.join(d, 'train.h5')
run(2, 'synth', '--n', 12000, '--dim', 48, '--seed', 4, '-o', data, '-q')
ARGS = ['dedup', '-i', data, '--clusters', 40, '--reclusterings', 1, '--recall-sample', 0]


def start(ranks, args):
    """A run held at the start of its write phase: after the last checkpoint, with the result's
    temporary open."""
    return start_paused(ranks, args, 'write')


# A folder made read-only during the run: --summary and --keep-list go into it (the result goes to
# `out`: a tmpfs cannot be remounted read-only while a file on it is open for writing).
if os.geteuid() == 0:
    ro = os.path.join(d, 'ro')
    os.mkdir(ro)
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', ro], check=True)
    try:
        with open(os.path.join(ro, 'earlier.txt'), 'w') as f:
            f.write('an earlier file\n')
        for ranks in (2, 3):
            before = {f: folder_listing(f) for f in (out, ro)}
            # --workdir: the signal that ends the pause is caught only by a run with checkpoints to save
            p, seen = start(ranks, ARGS + ['-o', os.path.join(out, 'r.h5'), '--summary', os.path.join(ro, 'r.json'),
                                           '--keep-list', os.path.join(ro, 'k.txt'),
                                           '--workdir', os.path.join(d, f'work-{ranks}')])
            subprocess.run(['mount', '-o', 'remount,ro', ro], check=True)
            p.send_signal(signal.SIGUSR1)  # ends the pause; after the last checkpoint, the run goes on
            t = time.monotonic()
            code, err = finish(p, seen, 60)
            lines = error_lines(err)
            assert code == 1 and len(lines) == 1, f'exit {code}, expected 1 with one error line:\n{err}'
            # the keep list is written through MPI-IO: 'MPI_ERR_READ_ONLY: file is read only'
            assert 'read only' in lines[0].lower().replace('-', ' ') and os.path.join(ro, 'k.txt') in lines[0], lines[0]
            for f in (out, ro):
                after = folder_listing(f)
                assert after == before[f], f'{f}: before {before[f]}, after {after}'
            print(f'  read-only folder, {ranks} ranks: exit 1 {time.monotonic() - t:.1f} s after the remount: {lines[0]}')
            subprocess.run(['mount', '-o', 'remount,rw', ro], check=True)
    finally:
        subprocess.run(['umount', ro], check=True)
else:
    print('  read-only folder: needs root to mount a tmpfs; skipped')

# A folder that vanishes during the run (docs/errors.md: exit 1): --summary's folder removed while the
# run holds at its write phase.
gone = os.path.join(d, 'gone')
os.mkdir(gone)
before = folder_listing(out)
p, seen = start(2, ARGS + ['-o', os.path.join(out, 'r.h5'), '--summary', os.path.join(gone, 'r.json'),
                           '--workdir', os.path.join(d, 'work-gone')])
os.rmdir(gone)
p.send_signal(signal.SIGUSR1)
code, err = finish(p, seen, 60)
lines = error_lines(err)
assert code == 1 and len(lines) == 1 and 'r.json' in lines[0], f'exit {code}, expected 1 with one error line:\n{err}'
assert folder_listing(out) == before and not os.path.exists(gone), f'{out}: {folder_listing(out)}'
print(f'  vanished folder: exit 1: {lines[0]}')

# A rank killed while the result's temporary is open (rank 1 of 3, at the start of the write phase).
before = folder_listing(out)
p, seen = start(3, ARGS + ['-o', os.path.join(out, 'r.h5'), '--summary', os.path.join(out, 'r.json')])
ranks = subprocess.run(['pgrep', '-P', str(p.pid)], capture_output=True, text=True).stdout.split()
assert len(ranks) == 3, f'mpiexec has {len(ranks)} children, expected 3 ranks'
os.kill(int(ranks[1]), signal.SIGKILL)
t = time.monotonic()
code, err = finish(p, seen, 60)
assert code != 0, f'the job went on without a rank:\n{err}'
left = sorted(set(folder_listing(out)) - set(before))
assert all(n.startswith('.r.h5.tmp.') for n in left) and len(left) <= 1, f'a killed job left {left}'
print(f'  rank killed: exit {code} {time.monotonic() - t:.1f} s later; left {left or "nothing"}')
ok('runfail')
