"""A full file system ends the run on every rank, within seconds, with one line naming the file and the
cause, and leaves the folder as it found it (issue 17). Each output kind is written into a tmpfs too
small for it: the result, the summary, --keep-list, a checkpoint in --workdir, embed's output and a
report folder, at 2 and 3 ranks. The tmpfs is mounted and unmounted here (needs root: skipped with 77
otherwise), and unmounted even when a check fails.

Also: an earlier result of the same name, in a folder with room, is not replaced by a run that then
fails on its summary (results are renamed into place only when the whole run succeeded)."""
import os
import subprocess
import sys
import time

from harness import MEMAUDIT, error_lines, ok, run, workdir

if os.geteuid() != 0:
    print('diskfull: needs root to mount a tmpfs; skipped')
    sys.exit(77)

d = workdir('diskfull')
small = os.path.join(d, 'small')
os.mkdir(small)
data = os.path.join(d, 'train.h5')
run(2, 'synth', '--n', 200000, '--dim', 64, '--seed', 3, '-o', data, '-q')
GEN_IMAGES = os.path.join(os.path.dirname(os.path.abspath(MEMAUDIT)), 'ma_gen_images')
images = os.path.join(d, 'images')
subprocess.run([GEN_IMAGES, '-o', images, '--scenes', '12'], check=True, capture_output=True)
km = ['--clusters', 64, '--reclusterings', 1, '--recall-sample', 0]
small_result = os.path.join(d, 'small-result.h5')
run(2, 'dedup', '-i', data, '--clusters', 16, '--reclusterings', 1, '--recall-sample', 0, '-o', small_result, '-q')


def listing(folder):
    out = {}
    for root, dirs, files in os.walk(folder):
        for f in dirs + files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, folder)] = os.path.getsize(p) if os.path.isfile(p) else None
    return out


def full_run(ranks, size_kib, leave_kib, args, must, allowed=()):
    """Runs memaudit with `small` a tmpfs of size_kib, filled but for leave_kib; it must end with exit 1
    within 60 s, one error line naming `must` and the cause, and `small` as before (but `allowed`)."""
    subprocess.run(['mount', '-t', 'tmpfs', '-o', f'size={size_kib}k', 'tmpfs', small], check=True)
    try:
        if size_kib > leave_kib:
            with open(os.path.join(small, 'filler'), 'wb') as f:
                f.write(b'\0' * ((size_kib - leave_kib) * 1024))
        before = listing(small)
        t = time.monotonic()
        _, err = run(ranks, *args, timeout=60, expect=1)
        took = time.monotonic() - t
        lines = error_lines(err)
        assert len(lines) == 1, f'{args}: expected one error line:\n{err}'
        assert must in lines[0] and 'no space left on device' in lines[0].lower(), lines[0]
        after = listing(small)
        extra = {k: v for k, v in after.items() if k not in before and not any(k.startswith(a) for a in allowed)}
        assert not extra and all(after.get(k) == v for k, v in before.items()), \
            f'{args}: the failed run left {extra} / changed {set(before.items()) ^ set(after.items())}'
        print(f'  {ranks} ranks, {args[0]} into {size_kib} KiB ({leave_kib} free): exit 1 after {took:.1f} s: {lines[0]}')
    finally:
        subprocess.run(['umount', small], check=True)
    assert not os.listdir(small), 'the tmpfs left files in its mount point'


for ranks in (2, 3):
    # the result itself (the run of issue 17: it used to hang, every rank at 100% CPU)
    full_run(ranks, 1024, 1024, ['dedup', '-i', data, *km, '-o', os.path.join(small, 'r.h5'), '--summary',
                                 os.path.join(small, 'r.json'), '-q'], 'r.h5')
    # the summary, the result going elsewhere: neither appears
    out = os.path.join(d, f'r{ranks}.h5')
    full_run(ranks, 64, 0, ['dedup', '-i', data, *km, '-o', out, '--summary', os.path.join(small, 'r.json'), '-q'],
             'r.json')
    assert not os.path.exists(out), 'a run that failed left its result'
    # --keep-list
    full_run(ranks, 1024, 1024, ['dedup', '-i', data, *km, '-o', out, '--keep-list', os.path.join(small, 'k.txt'),
                                 '-q'], 'k.txt')
    assert not os.path.exists(out), 'a run that failed left its result'
    # a checkpoint: the work folder and its config stay (a later run resumes from them), no checkpoint
    # file or temporary does
    full_run(ranks, 1024, 1024, ['dedup', '-i', data, *km, '-o', out, '--workdir', os.path.join(small, 'wd'), '-q'],
             'clustering-0.h5', allowed=('wd',))
    # embed's output
    full_run(ranks, 64, 64, ['embed', '--images', f'@{os.path.join(images, "images.list")}', '-o',
                             os.path.join(small, 'e.h5'), '-q'], 'e.h5')

# a report folder (rank 0 writes it)
full_run(2, 64, 8, ['report', small_result, '-o', os.path.join(small, 'rep'), '-q'], 'rep')

# An earlier result is not replaced by a run that fails after writing its own.
prev = os.path.join(d, 'prev.h5')
run(2, 'dedup', '-i', data, *km, '-o', prev, '-q')
stamp = (os.path.getsize(prev), os.path.getmtime(prev))
full_run(2, 64, 0, ['dedup', '-i', data, *km, '--threshold', 0.9, '-o', prev, '--summary',
                    os.path.join(small, 'p.json'), '-q'], 'p.json')
assert (os.path.getsize(prev), os.path.getmtime(prev)) == stamp, 'the failed run replaced the earlier result'
assert not [f for f in os.listdir(d) if '.tmp.' in f], os.listdir(d)
ok('diskfull')
