"""memaudit under Slurm on the single-node test cluster: a batch job runs `srun --mpi=pmix` steps of
2 ranks (synth, then inspect of the shards through the list file), the memory budget comes from
Slurm's grant, and Slurm records memaudit's exit codes (0, and 2 for a usage error)."""
import json
import os
import tempfile

import h5py
import numpy as np

import cluster

cluster.skip_unless_available()

MEMAUDIT = os.path.abspath(os.environ.get('MEMAUDIT', 'memaudit'))
d = tempfile.mkdtemp(prefix='ma-slurm-basic-', dir=os.getcwd())

JOB = """#!/bin/bash
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OPENBLAS_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
srun --mpi=pmix -n 2 "$MEMAUDIT" synth --n 3000 --dim 64 --dtype f16 --shards 3 --seed 4 -o "$D/train.h5" -q
srun --mpi=pmix -n 2 "$MEMAUDIT" inspect -i "@$D/train.list" --summary "$D/inspect.json"
"""

USAGE_ERROR = """#!/bin/bash
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
srun --mpi=pmix -n 2 "$MEMAUDIT" synth --n 10 --no-such-option -o "$D/never.h5"
"""


def script(name, text):
    path = os.path.join(d, name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def read(path):
    with open(path, errors='replace') as f:
        return f.read()


env = {'MEMAUDIT': MEMAUDIT, 'D': d}
with cluster.start() as c:
    out = os.path.join(d, 'ok.out')
    job = c.sbatch(script('ok.sh', JOB), env=env,
                   options=['-n', '2', '--mem-per-cpu=1500M', '-t', '5', '-D', d, '-o', out])
    r = c.wait(job, timeout=60)
    log = read(out)
    assert (r.state, r.exit_code) == ('COMPLETED', 0), f'job {job}: {r.state} exit {r.exit_code}\n{log}'
    assert 'valid: yes (3000 rows read and checked on 2 ranks)' in log, f'inspect under srun:\n{log}'
    assert 'SLURM_MEM_PER_CPU' in log, f'the memory budget does not come from Slurm\'s grant:\n{log}'
    with open(os.path.join(d, 'inspect.json')) as f:
        summary = json.load(f)
    assert summary['ranks'] == 2 and summary['n'] == 3000, summary
    shards = read(os.path.join(d, 'train.list')).split()
    assert len(shards) == 3, shards
    rows = 0
    for s in shards:
        with h5py.File(s, 'r') as f:
            e = f['embeddings']
            assert e.dtype == np.float16 and e.shape[1] == 64, (s, e.dtype, e.shape)
            assert np.array_equal(f['ids'][...], np.arange(rows, rows + e.shape[0])), f'{s}: ids'
            rows += e.shape[0]
    assert rows == 3000, rows

    out = os.path.join(d, 'usage.out')
    job = c.sbatch(script('usage.sh', USAGE_ERROR), env=env, options=['-n', '2', '-t', '5', '-D', d, '-o', out])
    r = c.wait(job, timeout=60)
    log = read(out)
    assert (r.state, r.exit_code) == ('FAILED', 2), f'job {job}: {r.state} exit {r.exit_code}, expected FAILED 2\n{log}'
    errors = [line for line in log.splitlines() if line.startswith('memaudit: error: ')]
    assert len(errors) == 1 and '--no-such-option' in errors[0], f'expected one error line naming the option:\n{log}'
    assert not os.path.exists(os.path.join(d, 'never.h5')), 'a failed run left its output behind'

print('slurm_basic: ok')
