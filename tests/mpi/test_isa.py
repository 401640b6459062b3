"""Every CPU path gives the same bytes (issue 11). synth (float16 and float32, and generated samples),
kmeans, dedup (two clusterings, the recall estimate, a threshold sweep) and audit (with a holdout), run
on every path this machine can force (MEMAUDIT_ISA=scalar, avx2, and avx512 where the CPU has it), give
files identical in every dataset and every attribute (but command_line), and summaries equal in every
key but the run's measures and `isa`, which must name the path asked for."""
import json
import os

from harness import ok, run, same_result, workdir

ORDER = ['scalar', 'avx2', 'avx512']
out, _ = run(1, '--version')
hw = out.split('this CPU runs ')[1].split(')')[0]
paths = ORDER[:ORDER.index(hw) + 1]
assert len(paths) >= 1
d = workdir('isa')


def jobs(isa, train=None):
    """Runs every job on path isa; returns {name: (result, summary)}. The generated samples are made
    like `train` (the first path's training set: synth records the path it was given)."""
    env = {'MEMAUDIT_ISA': isa}
    p = lambda name: os.path.join(d, f'{isa}-{name}')
    res = {}

    def job(name, *args, ranks=2):
        run(ranks, *args, '-o', p(name + '.h5'), '--summary', p(name + '.json'), '-q', env=env)
        with open(p(name + '.json')) as f:
            assert json.load(f)['isa'] == isa, f'{name}: summary names another path than {isa}'
        res[name] = (p(name + '.h5'), p(name + '.json'))

    job('train16', 'synth', '--n', 6000, '--dim', 48, '--dtype', 'f16', '--concepts', 12, '--seed', 5, ranks=3)
    job('train32', 'synth', '--n', 6000, '--dim', 48, '--dtype', 'f32', '--concepts', 12, '--seed', 5)
    like = train or res['train16'][0]
    job('gen', 'synth', '--like', like, '--n', 400, '--regurgitate', 0.1, '--seed', 6)
    job('hold', 'synth', '--like', like, '--n', 300, '--seed', 7)
    job('kmeans', 'kmeans', '-i', res['train32'][0], '--clusters', 24, '--reclusterings', 2, ranks=3)
    for t in ('train16', 'train32'):
        job('dedup-' + t, 'dedup', '-i', res[t][0], '--clusters', 16, '--reclusterings', 2, '--threshold', '0.95,0.9',
            '--recall-sample', 300)
    job('audit', 'audit', '--train', res['train16'][0], '--generated', res['gen'][0], '--holdout', res['hold'][0],
        '--source-ids', '/source_ids', '--k', 5, '--threshold', 0.9)
    return res


def without_isa(path):
    """The summary without the keys that name how it ran: the path, and whether the searches were
    screened with int8 (--screen auto: not on the scalar path) and by which integer GEMM."""
    with open(path) as f:
        s = json.load(f)
    s.pop('isa')
    s.pop('screen', None)
    s.pop('integer_gemm', None)
    stripped = path + '.noisa'
    with open(stripped, 'w') as f:
        json.dump(s, f)
    return stripped


results = {paths[0]: jobs(paths[0])}
for isa in paths[1:]:
    results[isa] = jobs(isa, results[paths[0]]['train16'][0])
for isa in paths[1:]:
    for name, (h5, js) in results[paths[0]].items():
        oh5, ojs = results[isa][name]
        same_result(h5, oh5, summaries=(without_isa(js), without_isa(ojs)))
    print(f'path {isa}: every result identical to path {paths[0]}')
ok('isa')
