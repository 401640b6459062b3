"""A throw-away single-node Slurm cluster for the tests: a private munged, slurmctld and slurmd, all
in the foreground as children of this process, configured in a fresh directory under /tmp, on free
ports. Nothing outside that directory is read or changed: a system munged or Slurm keeps running
untouched, and stop() ends only the processes start() began.

    with cluster.start() as c:
        job = c.sbatch('job.sh', options=['-n', '2'])
        result = c.wait(job, timeout=60)     # Result(state='COMPLETED', exit_code=0, ...)

By hand, `python3 tests/slurm/cluster.py` starts one and prints the SLURM_CONF to export; Ctrl-C stops it.

Tests call skip_unless_available() first: without Slurm installed, or not as root (slurmd must be
root to start job steps), they print "SKIPPED: ..." and exit 77, which ctest counts as skipped.
"""
import collections
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
PROGRAMS = ('munged', 'slurmctld', 'slurmd', 'sbatch', 'scontrol', 'sinfo', 'squeue', 'scancel', 'srun')
FINAL = {'COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'OUT_OF_MEMORY',
         'BOOT_FAIL', 'DEADLINE'}

Result = collections.namedtuple('Result', 'state exit_code signal restarts fields')

CONF = """\
ClusterName=matest
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket={dir}/munge.sock,cred_expire=5
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd.log
PlugStackConfig={dir}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MpiDefault=pmix
JobRequeue=1
# Finished jobs stay visible to `scontrol show job` for an hour: wait() reads their state there.
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc={dir}/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
KillWait=5
ReturnToService=2
# The node may declare more CPUs than the machine has (small CI machines still run 2-rank jobs).
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=test Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def skip_unless_available():
    """Exits 77 ("SKIPPED: ...") when this machine cannot run the test cluster."""
    missing = [d for d in PROGRAMS if shutil.which(d) is None and not os.path.exists('/usr/sbin/' + d)]
    if missing:
        print(f'SKIPPED: slurm not installed (missing {" ".join(missing)}; apt-get install slurmctld slurmd '
              f'slurm-client munge libpmix-dev)')
        sys.exit(SKIP)
    if os.geteuid() != 0:
        print('SKIPPED: the test Slurm cluster needs root (slurmd starts job steps as root)')
        sys.exit(SKIP)


def _exe(name):
    return shutil.which(name) or '/usr/sbin/' + name


def _free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(('127.0.0.1', 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _memory_mib():
    """80% of the machine's memory, in MiB: what the node offers to jobs."""
    return os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // (1 << 20) * 8 // 10


def _tail(path, lines=25):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


class Cluster:
    def __init__(self, directory, host):
        self.dir = directory
        self.host = host
        self.conf = os.path.join(directory, 'slurm.conf')
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        for k in [k for k in self.env if k.startswith(('SLURM_', 'SBATCH_', 'SRUN_', 'SALLOC_')) and k != 'SLURM_CONF']:
            del self.env[k]  # a test run inside a real Slurm job must not inherit that job's settings
        self.procs = {}

    # -- daemons ------------------------------------------------------------------------------
    def _spawn(self, name, args):
        out = open(os.path.join(self.dir, 'log', name + '.stdio'), 'w')
        # A session of its own: Ctrl-C at the terminal reaches this process, which then stops the
        # cluster in order (jobs first), instead of reaching the daemons directly.
        self.procs[name] = subprocess.Popen([_exe(name)] + args, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        out.close()

    def _check_alive(self, what):
        for name, p in self.procs.items():
            if p.poll() is not None:
                raise RuntimeError(f'{name} exited with {p.returncode} while {what}; cluster in {self.dir}\n'
                                   f'{self.logs()}')

    def logs(self):
        """The ends of the daemons' logs, for a failure message. In the foreground each logs to
        stderr too, from its first line on (a configuration error comes before its log file opens)."""
        parts = []
        for name in ('munged', 'slurmctld', 'slurmd'):
            t = _tail(os.path.join(self.dir, 'log', name + '.stdio'))
            if t.strip():
                parts.append(f'--- {name}\n{t}')
        return ''.join(parts)

    def _start(self, timeout):
        d = self.dir
        key = os.path.join(d, 'munge.key')
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'wb') as f:
            f.write(os.urandom(128))
        self._spawn('munged', ['--foreground', f'--socket={d}/munge.sock', f'--key-file={key}',
                               f'--pid-file={d}/munged.pid', f'--seed-file={d}/munged.seed'])
        self._until(lambda: os.path.exists(f'{d}/munge.sock'), timeout, 'munged creates its socket')
        self._spawn('slurmctld', ['-D', '-f', self.conf])
        self._until(lambda: self.run('scontrol', 'ping', check=False).returncode == 0, timeout,
                    'slurmctld answers')
        self._spawn('slurmd', ['-D', '-f', self.conf, '-N', self.host])
        self._until(lambda: self.run('sinfo', '-h', '-o', '%T', '-n', self.host, check=False).stdout.strip() == 'idle',
                    timeout, f'sinfo shows node {self.host} idle')

    def _until(self, ready, timeout, what):
        end = time.monotonic() + timeout
        while not ready():
            self._check_alive(f'waiting until {what}')
            if time.monotonic() > end:
                raise RuntimeError(f'timed out after {timeout} s waiting until {what}; cluster in {self.dir}\n'
                                   f'{self.logs()}')
            time.sleep(0.2)

    def stop(self, keep=False):
        """Cancels every job, ends the daemons start() began (by pid) and removes the directory
        unless keep. Safe to call twice."""
        if self.procs.get('slurmctld') and self.procs['slurmctld'].poll() is None:
            jobs = self.run('squeue', '-h', '-o', '%A', check=False).stdout.split()
            if jobs:
                self.run('scancel', *jobs, check=False)
            end = time.monotonic() + 15
            while time.monotonic() < end and self.run('squeue', '-h', '-t', 'R,CG', check=False).stdout.strip():
                time.sleep(0.3)
        for name in ('slurmd', 'slurmctld', 'munged'):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if keep:
            print(f'slurm test cluster kept in {self.dir}', file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        self.stop(keep=kind is not None)
        return False

    # -- clients ------------------------------------------------------------------------------
    def run(self, *cmd, check=True, env=None, timeout=60):
        """Runs a Slurm client command against this cluster; returns the CompletedProcess."""
        e = dict(self.env, **(env or {}))
        p = subprocess.run(list(cmd), capture_output=True, text=True, env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}')
        return p

    def sbatch(self, script, *args, options=(), env=None):
        """Submits `script` with sbatch OPTIONS and script ARGS; returns the job id. The job sees this
        process's environment (sbatch --export=ALL), plus `env`."""
        p = self.run('sbatch', '--parsable', *options, script, *[str(a) for a in args], env=env)
        return int(p.stdout.strip().split(';')[0])

    def job(self, jobid):
        """`scontrol show job` as a dict of its Key=Value fields (empty once the job is forgotten)."""
        p = self.run('scontrol', '-o', 'show', 'job', str(jobid), check=False)
        fields = {}
        for word in p.stdout.split():
            k, sep, v = word.partition('=')
            if sep and k not in fields:
                fields[k] = v
        return fields

    def wait_state(self, jobid, states, timeout):
        """Waits until the job is in one of `states` (e.g. {'RUNNING'}); returns its fields."""
        end = time.monotonic() + timeout
        while True:
            f = self.job(jobid)
            if f.get('JobState') in states:
                return f
            self._check_alive(f'waiting for job {jobid}')
            if time.monotonic() > end:
                raise AssertionError(f'job {jobid} not in {sorted(states)} after {timeout} s: '
                                     f'{f.get("JobState")} ({f.get("Reason")})\n{self.history(jobid)}{self.logs()}')
            time.sleep(0.3)

    def wait(self, jobid, timeout):
        """Waits until the job has ended for good (a requeue is not an end); returns its Result."""
        f = self.wait_state(jobid, FINAL, timeout)
        code, _, sig = f.get('ExitCode', '0:0').partition(':')
        return Result(f['JobState'], int(code), int(sig or 0), int(f.get('Restarts', 0)), f)

    def history(self, jobid):
        """The job-completion log's lines for this job: one per run, requeued runs included."""
        t = _tail(os.path.join(self.dir, 'jobcomp.txt'), 1000)
        lines = [l for l in t.splitlines() if l.startswith(f'JobId={jobid} ')]
        return ''.join(f'jobcomp: {l}\n' for l in lines)


def start(timeout=30, cpus=None):
    """Starts the cluster; returns a Cluster (a context manager that stops it). Raises RuntimeError
    with the daemons' logs when a daemon dies or the node is not idle within `timeout` seconds."""
    host = socket.gethostname().split('.')[0]
    d = tempfile.mkdtemp(prefix='ma-slurm-', dir='/tmp')  # short: munge's socket path must fit sun_path
    os.chmod(d, 0o755)  # munged requires its socket's directory to be searchable by all
    for sub in ('state', 'spool', 'log'):
        os.mkdir(os.path.join(d, sub))
    open(os.path.join(d, 'plugstack.conf'), 'w').close()
    ctld_port, slurmd_port = _free_ports(2)
    with open(os.path.join(d, 'slurm.conf'), 'w') as f:
        f.write(CONF.format(host=host, dir=d, ctld_port=ctld_port, slurmd_port=slurmd_port,
                            cpus=cpus or max(os.cpu_count() or 1, 2), memory=_memory_mib()))
    c = Cluster(d, host)
    try:
        c._start(timeout)
    except BaseException:
        c.stop(keep=True)
        raise
    return c


if __name__ == '__main__':
    skip_unless_available()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # kill PID stops it like Ctrl-C
    with start() as c:
        print(f'single-node Slurm cluster up (node {c.host}); in another shell:\n'
              f'    export SLURM_CONF={c.conf}\n'
              f'then sbatch, srun --mpi=pmix, squeue, scontrol as usual. Ctrl-C stops it.', flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
