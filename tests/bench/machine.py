"""What a benchmark figure ran on, printed with every figure: the CPU (lscpu), the code path memaudit
chose (its --version, which honours MEMAUDIT_ISA) and the core OpenBLAS chose for its kernels (numpy's
OpenBLAS and memaudit's are the same library, so one core serves both)."""
import subprocess


def cpu_model():
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True).stdout
    except OSError:
        return 'unknown CPU'
    for line in out.splitlines():
        if line.startswith('Model name:'):
            return line.split(':', 1)[1].strip()
    return 'unknown CPU'


def isa_env(env, isa):
    """env with MEMAUDIT_ISA set to isa ('default': the CPU's best, the variable removed)."""
    e = dict(env)
    e.pop('MEMAUDIT_ISA', None)
    if isa != 'default':
        e['MEMAUDIT_ISA'] = isa
    return e


def describe(memaudit, env):
    """One line: CPU, memaudit's path, OpenBLAS's core."""
    out = subprocess.run([memaudit, '--version'], capture_output=True, text=True, env=env, check=True).stdout
    path = core = '?'
    for line in out.splitlines():
        if line.startswith('cpu path '):
            path = line[len('cpu path '):]
        if line.startswith('OpenBLAS core '):
            core = line[len('OpenBLAS core '):]
    return f'CPU {cpu_model()}; memaudit path {path}; OpenBLAS core {core}'
