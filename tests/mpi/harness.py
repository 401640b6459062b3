"""Shared helpers for the MPI integration tests: run memaudit under the launcher, check its error
discipline, compare result files across rank counts, check a result's layout. Every check raises
AssertionError with a message that says what differed."""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import h5py
import numpy as np

import layout

# Every check here and in the tests is an assert: under `python -O` (or PYTHONOPTIMIZE) they would all
# pass silently, so such a run is refused outright.
if not __debug__ or sys.flags.optimize:
    sys.stderr.write('memaudit tests: Python runs with assertions disabled (-O or PYTHONOPTIMIZE), so no check '
                     'would run; refusing. Run without -O and with PYTHONOPTIMIZE unset.\n')
    sys.exit(2)

MEMAUDIT = os.environ.get('MEMAUDIT', 'memaudit')
MPIEXEC = shlex.split(os.environ.get('MEMAUDIT_MPIEXEC', 'mpiexec -q --oversubscribe -n'))
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The shared interface checker beside the source tree (../shared), when there is one: it runs in addition
# to the project's own layout check (layout.py), never instead of it.
SPEC_CHECK = (os.environ.get('MEMAUDIT_SPEC_CHECK')
              or os.path.join(SOURCE_ROOT, '..', 'shared', 'tools', 'spec_check.py'))

# Where the tests make their work folders (workdir()): other tests, run at the same time by ctest -j,
# add their own folders there, which a listing of it must not count.
TESTS_ROOT = os.getcwd()


def ranks_arg():
    p = argparse.ArgumentParser()
    p.add_argument('--ranks', type=int, default=2)
    return p.parse_args().ranks


def workdir(name):
    d = tempfile.mkdtemp(prefix=f'ma-{name}-', dir=TESTS_ROOT)
    return d


# Options whose value is an output file (or, for report and synth, a folder or shards named after it).
# --workdir is not among them: its checkpoints are meant to outlive a failed run.
OUTPUT_OPTIONS = ('-o', '--output', '--summary', '--keep-list', '--removed-csv', '--csv')


def output_folders(args):
    """The existing folders the output paths in `args` go into (the folders their files appear in),
    and the --workdir paths, which a failed run may create or fill."""
    args = [str(a) for a in args]
    folders, workdirs = set(), set()
    for opt, val in zip(args, args[1:]):
        if opt in OUTPUT_OPTIONS:
            folder = os.path.dirname(os.path.abspath(val))
            if os.path.isdir(folder):
                folders.add(folder)
        elif opt == '--workdir':
            workdirs.add(os.path.abspath(val))
    return sorted(folders), workdirs


def folder_listing(folder, skip=()):
    """name -> (size, modification time) of every entry of `folder`, hidden temporaries included (a
    folder's entry: its name only), but for the paths in `skip` and other tests' work folders."""
    out = {}
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if path in skip or (folder == TESTS_ROOT and name.startswith('ma-') and os.path.isdir(path)):
            continue
        st = os.lstat(path)
        out[name] = None if os.path.isdir(path) else (st.st_size, st.st_mtime_ns)
    return out


def run(ranks, *args, timeout=240, expect=0, env=None):
    """Runs memaudit on `ranks` ranks; checks the exit code; returns (stdout, stderr). A run expected to
    fail (expect not 0) must leave every folder its outputs go into as it found it: no result, no
    summary, no hidden temporary (.NAME.tmp.PID), no earlier file replaced or touched (SPEC, "Exit
    codes and errors"; docs/errors.md)."""
    cmd = MPIEXEC + [str(ranks), MEMAUDIT] + [str(a) for a in args]
    e = dict(os.environ)
    if env:
        e.update(env)
    folders, workdirs = output_folders(args) if expect else ((), ())
    before = {f: folder_listing(f, workdirs) for f in folders}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f'{" ".join(cmd)}: exit {p.returncode}, expected {expect}\n'
                             f'stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}')
    for f in folders:
        same_listing(f, before[f], folder_listing(f, workdirs), f'the failed run {" ".join(cmd)}')
    return p.stdout, p.stderr


def same_listing(folder, before, after, who):
    """`folder`'s listings (folder_listing) before and after `who` are the same."""
    added = sorted(set(after) - set(before))
    gone = sorted(set(before) - set(after))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    assert not (added or gone or changed), \
        f'{who} changed {folder}: added {added}, removed {gone}, changed {changed}'


def start_paused(ranks, args, pause):
    """Starts memaudit with MEMAUDIT_PAUSE_AT=pause, which holds the run at the start of that phase
    (for up to 60 s, or until a signal); returns (process, stderr lines so far) once it says so."""
    cmd = MPIEXEC + [str(ranks), MEMAUDIT] + [str(a) for a in args]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=dict(os.environ, MEMAUDIT_PAUSE_AT=pause))
    seen = []
    for line in p.stderr:
        seen.append(line)
        if 'paused for a test' in line:
            return p, seen
    raise AssertionError(f'the run never reached phase {pause!r}:\n{"".join(seen)}')


def finish_paused(p, seen, timeout=120):
    """Waits for a start_paused run to end; fails when it takes longer than timeout seconds (the job is
    then killed). Returns (exit code, all of its stderr)."""
    try:
        _, rest = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        raise AssertionError(f'the job did not end within {timeout} s:\n{"".join(seen)}')
    return p.returncode, ''.join(seen) + rest


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith('memaudit: error: ')]


def expect_error(ranks, code, must_contain, *args):
    """The run exits with `code` and prints exactly one error line holding every string of must_contain."""
    out, err = run(ranks, *args, expect=code)
    lines = error_lines(err)
    assert len(lines) == 1, f'{args}: expected one error line, got {len(lines)}:\n{err}'
    for s in must_contain:
        assert s in lines[0], f'{args}: error line lacks {s!r}: {lines[0]}'
    return lines[0]


def datasets(path):
    """name -> numpy array of every dataset in an HDF5 file."""
    out = {}
    with h5py.File(path, 'r') as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) else None)
    return out


def _objects(path):
    """'/' and every group and dataset name -> (kind, attributes as numpy arrays, data or None)."""
    def attrs(o):
        return {k: np.asarray(v) for k, v in o.attrs.items()}
    out = {}
    with h5py.File(path, 'r') as f:
        out['/'] = ('group', attrs(f), None)
        f.visititems(lambda n, o: out.__setitem__(
            n, ('dataset', attrs(o), o[...]) if isinstance(o, h5py.Dataset) else ('group', attrs(o), None)))
    return out


def _same_array(what, x, y):
    assert x.dtype == y.dtype and x.shape == y.shape, f'{what}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}'
    if x.dtype.kind == 'O':  # variable-length strings
        assert x.tolist() == y.tolist(), f'{what}: {x.tolist()!r} vs {y.tolist()!r}'
    else:
        assert x.tobytes() == y.tobytes(), \
            f'{what}: {x.tolist()!r} vs {y.tolist()!r}' if x.size <= 8 else f'{what} differs'


# Summary keys that measure the run rather than its result: wall times, rates (gflops, per second), the
# rank count, how evenly the search work was spread over the ranks (dedup's work_max_over_mean: 1 at
# one rank by definition), and the bytes the search moved between ranks (a block two tasks need is sent
# to each of their ranks, once when one rank runs both: with dedup --against, a cluster's new block is
# needed by its own task and by its task against the kept block). Everything else in a summary must not
# depend on the rank count.
RUN_MEASURES = re.compile(r'^(seconds|phases|ranks|.*_seconds|.*gflops.*|.*per_second.*|work_max_over_mean|bytes_moved|peak_rss_bytes|.*_rescored)$')


def _same_json(where, x, y):
    if isinstance(x, dict) and isinstance(y, dict):
        kx = {k for k in x if not RUN_MEASURES.match(k)}
        ky = {k for k in y if not RUN_MEASURES.match(k)}
        assert kx == ky, f'summary{where}: keys {sorted(kx ^ ky)} in one only'
        for k in sorted(kx):
            _same_json(f'{where}.{k}', x[k], y[k])
    elif isinstance(x, list) and isinstance(y, list):
        assert len(x) == len(y), f'summary{where}: {len(x)} vs {len(y)} entries'
        for i, (u, v) in enumerate(zip(x, y)):
            _same_json(f'{where}[{i}]', u, v)
    else:
        same = (x == y and type(x) is type(y)) or (isinstance(x, float) and isinstance(y, float) and x != x and y != y)
        assert same, f'summary{where}: {x!r} vs {y!r}'


def same_result(a, b, summaries=None, skip=()):
    """Collective results are rank-count independent: the files `a` and `b` hold the same groups and
    datasets, every dataset byte-identical (but those named in `skip`), every attribute of every object
    (root and groups included) identical but the root's `command_line`; and, with summaries=(sa, sb),
    the two JSON summaries are equal in every key but the run's measures (RUN_MEASURES)."""
    oa, ob = _objects(a), _objects(b)
    assert sorted(oa) == sorted(ob), f'{a} and {b} hold different objects: {sorted(set(oa) ^ set(ob))}'
    for name in sorted(oa):
        (ka, aa, da), (kb, ab, db) = oa[name], ob[name]
        assert ka == kb, f'{name}: a {ka} in {a}, a {kb} in {b}'
        drop = {'command_line'} if name == '/' else set()
        assert set(aa) - drop == set(ab) - drop, \
            f'{name}: attributes {sorted((set(aa) ^ set(ab)) - drop)} in one file only ({a}, {b})'
        for k in sorted(set(aa) - drop):
            _same_array(f'attribute {k} of {name} ({a} vs {b})', aa[k], ab[k])
        if da is not None and name not in skip:
            _same_array(f'dataset {name} ({a} vs {b})', da, db)
    if summaries:
        sa, sb = summaries
        _same_json(f' ({sa} vs {sb})', json.load(open(sa)), json.load(open(sb)))


def same_datasets(a, b, skip=()):
    """Kept for the callers outside tests/mpi (tests/slurm): the full comparison of same_result."""
    same_result(a, b, skip=skip)


_spec_check_noted = []


def spec_check(kind, path, summary=None):
    """The result's layout against SPEC.md: the project's own check (layout.py) always, and the shared
    ../shared/tools/spec_check.py in addition when the source tree has one beside it."""
    problems = layout.check(kind, path, summary)
    assert not problems, f'layout of {kind} result {path}:\n' + '\n'.join(problems)
    if os.path.exists(SPEC_CHECK):
        args = [sys.executable, SPEC_CHECK, kind, path] + (['--summary', summary] if summary else [])
        p = subprocess.run(args, capture_output=True, text=True)
        assert p.returncode == 0, f'spec_check {kind} {path}:\n{p.stdout}{p.stderr}'
    elif not _spec_check_noted:
        _spec_check_noted.append(True)
        print(f'{SPEC_CHECK} is absent: the result layouts are checked by tests/mpi/layout.py alone')


def layout_selftest(kind, path, summary=None):
    """The layout check can fail: copies of this good result, broken in the ways layout.BREAKAGES lists
    (a dataset removed, a wrong dtype, an attribute or summary key dropped...), are each reported."""
    missed = layout.selftest(kind, path, summary)
    assert not missed, f'layout check of {kind} result {path}:\n' + '\n'.join(missed)


def ok(name):
    print(f'{name}: ok')
    sys.stdout.flush()
