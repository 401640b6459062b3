"""Shared helpers for the MPI integration tests: run memaudit under the launcher, check its error
discipline, compare result files across rank counts. Every check raises AssertionError with a message
that says what differed."""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MEMAUDIT = os.environ.get('MEMAUDIT', 'memaudit')
MPIEXEC = shlex.split(os.environ.get('MEMAUDIT_MPIEXEC', 'mpiexec -q --oversubscribe -n'))
SPEC_CHECK = os.environ.get('MEMAUDIT_SPEC_CHECK', '')


def ranks_arg():
    p = argparse.ArgumentParser()
    p.add_argument('--ranks', type=int, default=2)
    return p.parse_args().ranks


def workdir(name):
    d = tempfile.mkdtemp(prefix=f'ma-{name}-', dir=os.getcwd())
    return d


def run(ranks, *args, timeout=240, expect=0, env=None):
    """Runs memaudit on `ranks` ranks; checks the exit code; returns (stdout, stderr)."""
    cmd = MPIEXEC + [str(ranks), MEMAUDIT] + [str(a) for a in args]
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f'{" ".join(cmd)}: exit {p.returncode}, expected {expect}\n'
                             f'stdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}')
    return p.stdout, p.stderr


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


def same_datasets(a, b, skip=()):
    """The two files hold the same datasets with byte-identical contents."""
    da, db = datasets(a), datasets(b)
    assert sorted(da) == sorted(db), f'{a} and {b} hold different datasets: {sorted(da)} vs {sorted(db)}'
    for k in da:
        if k in skip:
            continue
        assert da[k].dtype == db[k].dtype and da[k].shape == db[k].shape, f'{k}: {da[k].dtype}{da[k].shape} vs {db[k].dtype}{db[k].shape}'
        assert da[k].tobytes() == db[k].tobytes(), f'{k} differs between {a} and {b}'


def spec_check(kind, path, summary=None):
    args = ['/usr/bin/python3', SPEC_CHECK, kind, path] + (['--summary', summary] if summary else [])
    p = subprocess.run(args, capture_output=True, text=True)
    assert p.returncode == 0, f'spec_check {kind} {path}:\n{p.stdout}{p.stderr}'


def ok(name):
    print(f'{name}: ok')
    sys.stdout.flush()
