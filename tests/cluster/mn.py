"""Helpers of the multi-node tests: the data, memaudit under srun on the test cluster, and what a run's
Open MPI reported about its transports."""
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'mpi'))
import harness  # noqa: E402  (same_result, run: the reference on one host)

import cluster  # noqa: E402

MEMAUDIT = os.path.abspath(os.environ.get('MEMAUDIT', 'memaudit'))
# Small: seconds of work, yet a clustering long enough on 6 ranks for a fault to land inside it.
DEDUP = ['--clusters', 48, '--reclusterings', 3, '--recall-sample', 400, '--seed', 5, '--threshold', '0.95,0.97']
WATCHDOG = 4  # seconds, for the tests


def folder(name):
    return tempfile.mkdtemp(prefix=f'ma-mn-{name}-', dir=os.getcwd())


def make_data(d, n=40000, dim=64):
    train = os.path.join(d, 'train.h5')
    harness.run(2, 'synth', '--n', n, '--dim', dim, '--dtype', 'f16', '--seed', 11, '--dup-fraction', 0.2, '-o', train, '-q')
    return train


class Job:
    """memaudit under `srun --mpi=pmix` in the controller, its stderr read line by line as it comes."""

    def __init__(self, c, srun_args, args, env=None):
        self.lines = []
        self.started = time.monotonic()
        self.p = c.srun(list(srun_args) + [MEMAUDIT] + [str(a) for a in args], env=env, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.rstrip('\n'))

    def wait_line(self, pattern, timeout):
        """Waits until a line matches; returns the time it came. Fails when the job ends first."""
        end = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < end:
            if any(rx.search(l) for l in list(self.lines)):
                return time.monotonic()
            if self.p.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f'no line matching {pattern!r} within {timeout} s (exit {self.p.poll()}):\n{self.text()}')

    def wait(self, timeout):
        """Waits for srun to end; returns (exit code, when it ended); None as code on a timeout."""
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            return None, time.monotonic()
        ended = time.monotonic()
        self.reader.join(5)
        return self.p.returncode, ended

    def text(self):
        return '\n'.join(self.lines[-60:])


def run(c, srun_args, args, env=None, timeout=180, expect=0):
    j = Job(c, srun_args, args, env=env)
    code, _ = j.wait(timeout)
    assert code == expect, f'srun {" ".join(map(str, srun_args))} memaudit {" ".join(map(str, args))}: exit {code}, ' \
                           f'expected {expect}\n{j.text()}'
    return j


def same_dedup(a, b):
    """harness.same_result of two dedup results and their summaries, but for the per-clustering
    bytes_moved and rounds, which follow the rank count (clusters are cut into blocks to balance the
    ranks' search work), not the result; and search_flops, a sum over ranks in floating point, equal
    to 1e-12."""
    import json
    flops = []
    for path in (a, b):
        s = json.load(open(path[:-3] + '.json'))
        for cl in s['clusterings']:
            cl.pop('bytes_moved')
            cl.pop('rounds')
            flops.append(cl.pop('search_flops'))
        json.dump(s, open(path[:-3] + '.cmp.json', 'w'))
    half = len(flops) // 2
    for x, y in zip(flops[:half], flops[half:]):
        assert abs(x - y) <= 1e-12 * max(abs(x), 1), f'search_flops {x} vs {y}' 
    harness.same_result(a, b, summaries=(a[:-3] + '.cmp.json', b[:-3] + '.cmp.json'))


def transports(lines):
    """From Open MPI's btl_base_verbose output: {(host, pid): set of BTL components initialised}."""
    seen = {}
    rx = re.compile(r'^\[([^:\]]+):(\d+)\] select: initializing btl component (\w+)')
    for l in lines:
        m = rx.search(l)
        if m:
            seen.setdefault((m.group(1), int(m.group(2))), set()).add(m.group(3))
    return seen


def eth0_bytes(c, k):
    """Bytes host k has sent and received on its link."""
    out = subprocess.run(['ip', '-n', c.ns(k), '-s', '-o', 'link', 'show', 'eth0'], capture_output=True, text=True,
                         check=True).stdout
    nums = re.findall(r'RX:.*?\\\s+(\d+).*?TX:.*?\\\s+(\d+)', out)
    return (int(nums[0][0]), int(nums[0][1])) if nums else (0, 0)
