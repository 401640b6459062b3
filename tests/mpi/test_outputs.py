"""No output ever overwrites an input (SPEC: exit 2 before any work, nothing touched), whatever the
spelling: the same name, ./name, a symlink, a hard link; two outputs bound for one file; a missing output
folder. After each refused run the folder's listing, sizes and modification times are as before, and the
input's bytes too. Also MEMAUDIT_ISA: a bad value is a usage error, and --version and the summary name
the path in use."""
import hashlib
import json
import os

from harness import expect_error, ok, run, workdir

d = workdir('outputs')
p = lambda *a: os.path.join(d, *a)
run(2, 'synth', '--n', '3000', '--dim', '16', '--shards', '2', '-o', p('train.h5'), '-q')
run(1, 'synth', '--like', p('train-00000-of-00002.h5'), '--n', '200', '--regurgitate', '0.1', '-o', p('gen.h5'), '-q')
os.symlink('train-00000-of-00002.h5', p('link.h5'))
os.link(p('train-00001-of-00002.h5'), p('hard.h5'))
os.mkdir(p('report'))
run(1, 'dedup', '-i', f'@{p("train.list")}', '--clusters', '4', '--reclusterings', '1', '-o', p('result.h5'), '-q')


def state():
    """Every file under d: size, modification time and a digest of its bytes."""
    out = {}
    for root, dirs, files in os.walk(d):
        for f in dirs + files:
            path = os.path.join(root, f)
            st = os.lstat(path)
            digest = ''
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
            out[os.path.relpath(path, d)] = (st.st_size, st.st_mtime_ns, digest)
    return out


def refused(ranks, must, *args):
    """Exit 2 with one line naming must, and d exactly as it was."""
    before = state()
    expect_error(ranks, 2, must, *args)
    after = state()
    assert after == before, f'{args}: the refused run changed {set(after.items()) ^ set(before.items())}'


shard0, shard1, lst = p('train-00000-of-00002.h5'), p('train-00001-of-00002.h5'), p('train.list')
train = ['-i', shard0, '-i', shard1]
km = ['--clusters', '4', '--reclusterings', '1']
# dedup: every output option against the inputs, by every spelling of the same file
for ranks in (1, 3):
    refused(ranks, ['-o ' + shard0, 'is the input -i ' + shard0], 'dedup', *train, *km, '-o', shard0)
refused(2, ['is the input -i', 'link.h5'], 'dedup', '-i', p('link.h5'), '-i', shard1, *km, '-o', shard0)
refused(2, ['is the input -i', 'hard.h5'], 'dedup', *train, *km, '-o', p('hard.h5'))
refused(2, ['is the input -i', 'train.list'], 'dedup', '-i', f'@{lst}', *km, '-o', lst)
refused(2, ['./train-00000-of-00002.h5'], 'dedup', *train, *km, '-o', os.path.join(d, '.', 'train-00000-of-00002.h5'))
refused(2, ['--summary', 'is the input'], 'dedup', *train, *km, '-o', p('r.h5'), '--summary', shard1)
refused(2, ['--keep-list', 'is the input'], 'dedup', *train, *km, '-o', p('r.h5'), '--keep-list', shard1)
refused(2, ['--workdir', 'is the input'], 'dedup', *train, *km, '-o', p('r.h5'), '--workdir', shard1)
refused(2, ['is the input --priority'], 'dedup', *train, *km, '-o', p('r.h5'), '--priority', f'{p("gen.h5")}:/source_ids',
        '--keep-list', p('gen.h5'))
refused(2, ['-o', '--summary', 'one file'], 'dedup', *train, *km, '-o', p('r.h5'), '--summary', p('.', 'r.h5'))
# a missing output folder, for each output option
for opt in ('-o', '--summary', '--keep-list'):
    args = {'-o': p('r.h5')}
    args[opt] = p('no', 'such', 'x.out')
    flat = [a for kv in args.items() for a in kv]
    refused(2, [opt, 'no/such', 'No such file'], 'dedup', *train, *km, *flat)
# kmeans, audit, synth, embed, report
refused(2, ['-o', 'is the input -i'], 'kmeans', *train, *km, '-o', shard1)
refused(2, ['-o', 'no/such'], 'kmeans', *train, *km, '-o', p('no', 'such', 'k.h5'))
refused(2, ['is the input --train'], 'audit', *train, '--generated', p('gen.h5'), '-o', shard0)
refused(2, ['is the input --generated'], 'audit', *train, '--generated', p('gen.h5'), '-o', p('a.h5'), '--csv', p('gen.h5'))
refused(2, ['is the input --generated'], 'audit', *train, '--generated', p('gen.h5'), '-o', p('a.h5'), '--summary',
        p('gen.h5'))
refused(2, ['--csv', 'no/such'], 'audit', *train, '--generated', p('gen.h5'), '-o', p('a.h5'), '--csv', p('no', 'such', 'f.csv'))
refused(2, ['is the input --like'], 'synth', '--like', shard0, '--n', '10', '-o', p('link.h5'))
refused(2, ['is the input --like'], 'synth', '--n', '10', '--dim', '4', '--like', shard0, '-o', shard0)
refused(2, ['train.list', 'is the input'], 'dedup', '-i', f'@{lst}', *km, '-o', p('r.h5'), '--summary', lst)
with open(p('images.list'), 'w') as f:
    f.write(p('gen.h5') + '\n')
refused(2, ['is the input --images'], 'embed', '--images', f'@{p("images.list")}', '-o', p('images.list'))
refused(2, ['is the input --images'], 'embed', '--images', p('gen.h5'), '-o', p('gen.h5'))
refused(2, ['-o', 'no/such'], 'embed', '--images', p('gen.h5'), '-o', p('no', 'such', 'e.h5'))
refused(2, ['-o', 'is the input RESULT'], 'report', p('result.h5'), '-o', p('result.h5'))
refused(2, ['-o', 'holds the input RESULT'], 'report', p('result.h5'), '-o', d)
refused(2, ['-o', 'no/such'], 'report', p('result.h5'), '-o', p('no', 'such', 'rep'))

# The code path: a bad MEMAUDIT_ISA is a usage error; --version and every summary name the path in use.
before = state()
out, err = run(1, '--version', expect=2, env={'MEMAUDIT_ISA': 'sse9'})
assert 'MEMAUDIT_ISA=sse9' in err, err
out, _ = run(1, '--version')
assert 'cpu path ' in out and 'OpenBLAS core ' in out, out
hw = out.split('this CPU runs ')[1].split(')')[0]
for isa in ('scalar', 'avx2', 'avx512'):
    out, err = run(1, '--version', env={'MEMAUDIT_ISA': isa})
    order = ['scalar', 'avx2', 'avx512']
    want = isa if order.index(isa) <= order.index(hw) else hw
    assert f'cpu path {want} ' in out, (isa, out)
    assert (want != isa) == ('warning' in err), (isa, err)
run(1, 'kmeans', *train, *km, '-o', p('k.h5'), '--summary', p('k.json'), '-q', env={'MEMAUDIT_ISA': 'scalar'})
with open(p('k.json')) as f:
    s = json.load(f)
assert s['isa'] == 'scalar' and s['blas_core'], s
ok('outputs')
