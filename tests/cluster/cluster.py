"""A throw-away Slurm cluster of three hosts on one machine, for the multi-node tests.

Each host is a network namespace with its own host name (UTS namespace) and its own /tmp and /dev/shm
(mount namespace), joined by a veth pair to a bridge in a fourth namespace, the controller, which runs
munged and slurmctld and is where srun is called from (a login node). Addresses come from 10.213.0.0/24
and exist only inside these namespaces: nothing is added to the machine's own network namespace, so two
such clusters (or the single-node one of tests/slurm) never see each other.

    controller  mactl   10.213.0.1   br0 (the switch), munged, slurmctld, srun
    host 1      node1   10.213.0.11  slurmd -N node1
    host 2      node2   10.213.0.12  slurmd -N node2
    host 3      node3   10.213.0.13  slurmd -N node3

Everything the cluster writes is under one folder in /var/tmp (configuration, munge key and socket,
state, spool and logs, each host's private /tmp): the file system every host sees, as a parallel file
system would be. /var/tmp rather than /tmp because each host mounts its own /tmp over the machine's
(Slurm's PMIx plugin makes a per-step folder in /tmp on every node: on a shared /tmp the nodes collide).

    with cluster.start() as c:
        p = c.srun(['-N', '3', '-n', '6', MEMAUDIT, 'dedup', ...])     # a Popen in the controller
        c.kill_host(3)           # SIGKILL to every process of host 3, by pid
        c.cut_link(3)            # or: its link down

stop() (also on an exception) kills the processes of every namespace by pid, deletes the namespaces
(which removes their links) and the folder. By hand: `python3 tests/cluster/cluster.py` starts one and
prints how to use it; Ctrl-C stops it.
"""
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# tests/slurm/cluster.py, under another name (this module is also `cluster` to its tests): its client
# calls (sbatch, job, wait), waiting and context management serve this cluster too
_spec = importlib.util.spec_from_file_location(
    'single_node_cluster', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'slurm', 'cluster.py'))
single = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(single)
_exe, _tail = single._exe, single._tail

SKIP = 77
PROGRAMS = ('ip', 'tc', 'unshare', 'nsenter', 'munged', 'slurmctld', 'slurmd', 'srun', 'scontrol', 'sinfo')
HOSTS = 3
SUBNET = '10.213.0'
CTL_ADDR = f'{SUBNET}.1'
MPI_ENV = {
    # Ranks on different hosts talk TCP; no shared-memory transport (vader) is even opened, so nothing
    # but the network can join them. The TCP BTL uses the hosts' eth0 (the veth), never lo.
    'OMPI_MCA_btl': 'tcp,self',
    'OMPI_MCA_btl_tcp_if_include': f'{SUBNET}.0/24',
    'OMPI_MCA_pml': 'ob1',
    'OPENBLAS_NUM_THREADS': '1',
}

CONF = """\
ClusterName=mamulti
SlurmctldHost=mactl({ctl})
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge.sock,cred_expire=5
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool-%n
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd-%n.pid
SlurmctldLogFile={dir}/log/slurmctld.log
SlurmdLogFile={dir}/log/slurmd-%n.log
PlugStackConfig={dir}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MpiDefault=pmix
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc={dir}/jobcomp.txt
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
KillWait=3
# A node that stops answering is DOWN after SlurmdTimeout; short here so the tests stay short.
SlurmdTimeout=10
ReturnToService=2
SlurmdParameters=config_overrides
{nodes}
PartitionName=test Nodes=node[1-{hosts}] Default=YES MaxTime=INFINITE State=UP
"""


def skip_unless_available():
    """Exits 77 ("SKIPPED: ...") when this machine cannot run the test cluster."""
    missing = [d for d in PROGRAMS if shutil.which(d) is None and not os.path.exists('/usr/sbin/' + d)]
    if missing:
        print(f'SKIPPED: missing {" ".join(missing)} (apt-get install iproute2 slurmctld slurmd slurm-client munge '
              f'libpmix-dev)')
        sys.exit(SKIP)
    if os.geteuid() != 0:
        print('SKIPPED: the multi-node test cluster needs root (network namespaces, slurmd)')
        sys.exit(SKIP)
    if subprocess.run(['ip', 'netns', 'list'], capture_output=True).returncode != 0:
        print('SKIPPED: network namespaces are not available here (ip netns list fails)')
        sys.exit(SKIP)


def _ip(*args, check=True):
    p = subprocess.run(['ip'] + list(args), capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RuntimeError(f'ip {" ".join(args)}: {p.stderr.strip()}')
    return p


class Cluster(single.Cluster):
    def __init__(self, directory):
        self.dir = directory
        self.conf = os.path.join(directory, 'slurm.conf')
        self.prefix = f'mamn{os.getpid()}'
        self.ctl = self.prefix + '-ctl'
        self.env = dict(os.environ, SLURM_CONF=self.conf, **MPI_ENV)
        for k in [k for k in self.env if k.startswith(('SLURM_', 'SBATCH_', 'SRUN_', 'SALLOC_')) and k != 'SLURM_CONF']:
            del self.env[k]
        self.namespaces = []
        self.procs = {}

    def ns(self, k):
        """The network namespace of host k (1..HOSTS)."""
        return f'{self.prefix}-node{k}'

    @staticmethod
    def addr(k):
        return f'{SUBNET}.{10 + k}'

    # -- the network ----------------------------------------------------------------------------
    def _network(self):
        for ns in [self.ctl] + [self.ns(k) for k in range(1, HOSTS + 1)]:
            _ip('netns', 'add', ns)
            self.namespaces.append(ns)
            _ip('-n', ns, 'link', 'set', 'lo', 'up')
        _ip('-n', self.ctl, 'link', 'add', 'br0', 'type', 'bridge')
        _ip('-n', self.ctl, 'addr', 'add', f'{CTL_ADDR}/24', 'dev', 'br0')
        _ip('-n', self.ctl, 'link', 'set', 'br0', 'up')
        for k in range(1, HOSTS + 1):
            # created inside the controller's namespace with its peer inside the host's: the machine's own
            # namespace never holds either end
            _ip('-n', self.ctl, 'link', 'add', f'vnode{k}', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', self.ns(k))
            _ip('-n', self.ctl, 'link', 'set', f'vnode{k}', 'master', 'br0', 'up')
            _ip('-n', self.ns(k), 'addr', 'add', f'{self.addr(k)}/24', 'dev', 'eth0')
            _ip('-n', self.ns(k), 'link', 'set', 'eth0', 'up')

    def throttle(self, rate='1gbit', delay='0.5ms'):
        """Each host sends at `rate` after `delay` (tc netem on its eth0) and receives at `rate` (on its
        switch port), as a NIC of that speed would. Where the kernel has no netem (sch_netem), a token
        bucket (tbf) gives the rate and there is no added delay. Returns what was applied."""
        def tc(ns, dev, *qdisc):
            return subprocess.run(['tc', '-n', ns, 'qdisc', 'replace', 'dev', dev, 'root'] + list(qdisc),
                                  capture_output=True, text=True)
        netem = tc(self.ns(1), 'eth0', 'netem', 'rate', rate, 'delay', delay, 'limit', '10000').returncode == 0
        for k in range(1, HOSTS + 1):
            for ns, dev, extra in ((self.ns(k), 'eth0', ['delay', delay]), (self.ctl, f'vnode{k}', [])):
                if netem:
                    p = tc(ns, dev, 'netem', 'rate', rate, *extra, 'limit', '10000')
                else:
                    p = tc(ns, dev, 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '20ms')
                if p.returncode != 0:
                    raise RuntimeError(f'tc on {ns} {dev}: {p.stderr.strip()}')
        return f'netem rate {rate} delay {delay}' if netem else f'tbf rate {rate} (no netem in this kernel: no delay)'

    def cut_link(self, k):
        """Host k's link down: its processes live on, but nothing reaches them or leaves."""
        _ip('-n', self.ns(k), 'link', 'set', 'eth0', 'down')

    def host_pids(self, k):
        return [int(p) for p in _ip('netns', 'pids', self.ns(k), check=False).stdout.split()]

    def kill_host(self, k):
        """SIGKILL to every process of host k (slurmd, its step daemons, the ranks), by pid; returns
        the pids killed."""
        killed = []
        for _ in range(50):
            pids = self.host_pids(k)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        p = self.procs.get(f'slurmd-node{k}')
        if p is not None:
            p.wait()
        return killed

    # -- daemons ------------------------------------------------------------------------------
    def _in_host(self, ns, hostname, private, argv):
        """argv run in namespace ns with its own host name and, when `private` (a folder), its own /tmp
        and /dev/shm."""
        mounts = ''
        if private:
            os.makedirs(os.path.join(private, 'tmp'), mode=0o1777, exist_ok=True)
            os.makedirs(os.path.join(private, 'shm'), mode=0o1777, exist_ok=True)
            mounts = 'mount --bind "$2/tmp" /tmp && mount --bind "$2/shm" /dev/shm && '
            # A clone or build under /tmp (CI's may be) must stay visible on every host: the machine's
            # /tmp is bound aside first, and those folders are bound back into the host's own /tmp.
            keep = sorted({os.path.relpath(p, '/tmp').split(os.sep)[0] for p in (os.path.abspath(__file__), os.getcwd())
                           if p.startswith('/tmp/')})
            if keep:
                os.makedirs(os.path.join(private, 'outer'), exist_ok=True)
                mounts = 'mount --bind /tmp "$2/outer" && ' + mounts + ''.join(
                    f'mkdir -p "/tmp/{k}" && mount --bind "$2/outer/{k}" "/tmp/{k}" && ' for k in keep)
        # nsenter, not `ip netns exec`, which remounts /sys and so hides the cgroup file systems slurmd
        # needs; unshare adds the UTS namespace and a mount namespace whose mounts stay this host's
        return ['nsenter', f'--net=/run/netns/{ns}', 'unshare', '--uts', '--mount', '--propagation', 'private', '--', 'sh', '-c',
                f'hostname "$1" && {mounts}shift 2 && exec "$@"', 'sh', hostname, private or '-'] + list(argv)

    def _spawn(self, name, argv):
        out = open(os.path.join(self.dir, 'log', name + '.stdio'), 'w')
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                            env=self.env, start_new_session=True)
        out.close()

    def _check_alive(self, what):
        for name, p in self.procs.items():
            if p.poll() is not None and not name.startswith('slurmd-'):
                raise RuntimeError(f'{name} exited with {p.returncode} while {what}; cluster in {self.dir}\n{self.logs()}')

    def logs(self):
        parts = []
        for name in ['munged', 'slurmctld'] + [f'slurmd-node{k}' for k in range(1, HOSTS + 1)]:
            t = _tail(os.path.join(self.dir, 'log', name + '.stdio'))
            if t.strip():
                parts.append(f'--- {name}\n{t}')
        return ''.join(parts)

    def start_slurmd(self, k):
        self._spawn(f'slurmd-node{k}', self._in_host(self.ns(k), f'node{k}', os.path.join(self.dir, f'node{k}'),
                                                     [_exe('slurmd'), '-D', '-f', self.conf, '-N', f'node{k}']))

    def _start(self, timeout):
        d = self.dir
        self._network()
        key = os.path.join(d, 'munge.key')
        with open(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), 'wb') as f:
            f.write(os.urandom(128))
        # one munged for every host: its socket is a file, which the hosts' namespaces all reach
        self._spawn('munged', self._in_host(self.ctl, 'mactl', None, [
            _exe('munged'), '--foreground', f'--socket={d}/munge.sock', f'--key-file={key}',
            f'--pid-file={d}/munged.pid', f'--seed-file={d}/munged.seed']))
        self._until(lambda: os.path.exists(f'{d}/munge.sock'), timeout, 'munged creates its socket')
        self._spawn('slurmctld', self._in_host(self.ctl, 'mactl', None, [_exe('slurmctld'), '-D', '-f', self.conf]))
        self._until(lambda: self.run('scontrol', 'ping', check=False).returncode == 0, timeout, 'slurmctld answers')
        for k in range(1, HOSTS + 1):
            self.start_slurmd(k)
        self._until(lambda: self.idle() == HOSTS, timeout, f'sinfo shows {HOSTS} nodes idle')

    def idle(self):
        out = self.run('sinfo', '-h', '-N', '-o', '%N %T', check=False).stdout.split('\n')
        return sum(1 for l in out if l.endswith(' idle'))

    def stop(self, keep=False):
        """Ends every process of the cluster's namespaces (by pid: the daemons, job steps and ranks this
        cluster started, wherever they are stuck), deletes the namespaces and with them their links,
        and removes the folder unless keep. Safe to call twice."""
        for ns in list(self.namespaces):
            for _ in range(100):
                pids = [int(p) for p in _ip('netns', 'pids', ns, check=False).stdout.split()]
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.05)
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
            p.wait()
        self.procs.clear()
        for ns in reversed(self.namespaces):
            _ip('netns', 'del', ns, check=False)
        self.namespaces.clear()
        if keep:
            print(f'multi-node test cluster folder kept in {self.dir}', file=sys.stderr)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- clients, run in the controller -----------------------------------------------------------
    def command(self, argv):
        """argv as run in the controller's namespace (where srun, sbatch and scontrol reach slurmctld)."""
        return ['nsenter', f'--net=/run/netns/{self.ctl}'] + [str(a) for a in argv]

    def run(self, *cmd, check=True, env=None, timeout=60):
        """A Slurm client command, in the controller; returns the CompletedProcess."""
        e = dict(self.env, **(env or {}))
        p = subprocess.run(self.command(cmd), capture_output=True, text=True, env=e, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f'{" ".join(cmd)}: exit {p.returncode}\n{p.stdout}{p.stderr}')
        return p

    def srun(self, args, env=None, **popen):
        """Starts `srun --mpi=pmix ARGS` in the controller; returns the Popen."""
        e = dict(self.env, **(env or {}))
        return subprocess.Popen(self.command([_exe('srun'), '--mpi=pmix'] + list(args)), env=e, text=True,
                                start_new_session=True, **popen)


def start(timeout=30):
    """Starts the cluster; returns a Cluster (a context manager that stops it)."""
    d = tempfile.mkdtemp(prefix='ma-mn-', dir='/var/tmp')  # short: the munge socket's path must fit sun_path
    os.chmod(d, 0o755)
    for sub in ('state', 'log'):
        os.mkdir(os.path.join(d, sub))
    for k in range(1, HOSTS + 1):
        os.mkdir(os.path.join(d, f'spool-node{k}'))
    open(os.path.join(d, 'plugstack.conf'), 'w').close()
    cpus = 2
    memory = os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') // (1 << 20) * 6 // 10 // HOSTS
    nodes = '\n'.join(f'NodeName=node{k} NodeAddr={Cluster.addr(k)} CPUs={cpus} RealMemory={memory} State=UNKNOWN'
                      for k in range(1, HOSTS + 1))
    with open(os.path.join(d, 'slurm.conf'), 'w') as f:
        f.write(CONF.format(ctl=CTL_ADDR, dir=d, nodes=nodes, hosts=HOSTS))
    c = Cluster(d)
    try:
        c._start(timeout)
    except BaseException:
        c.stop(keep=True)
        raise
    return c


if __name__ == '__main__':
    skip_unless_available()
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with start() as c:
        print(f'multi-node Slurm cluster up (node1..node{HOSTS}); in another shell:\n'
              f'    export SLURM_CONF={c.conf}\n'
              f'    ip netns exec {c.ctl} srun --mpi=pmix -N 3 -n 6 hostname\n'
              f'(with {" ".join(f"{k}={v}" for k, v in MPI_ENV.items())} for MPI programs). Ctrl-C stops it.',
              flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
