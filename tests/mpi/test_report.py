"""memaudit report: HTML folders from dedup and audit results.

1. dedup (synth + dedup with a sweep threshold and the recall estimate), no images: the folder is
   self-contained (no scripts, no external or missing references); the overview has the four charts and
   the note asking for --images; the groups shown are the largest ones by /representative (numpy), with
   their lowest removed ids and those ids' pair similarities; the pairs shown are those closest to the
   threshold, with kept/removed from /keep; lists are paginated by --per-page and capped by --max-pages
   with the count of what was left out.
2. Contact sheets: an id -> path mapping in two shards (variable-length UTF-8 with ids out of row order;
   fixed-length relative paths under --image-root, in a non-default dataset), pictures from ma_gen_images,
   one missing file, one corrupt file, one id without a path: each sheet is one JPEG of cols x rows
   thumbnails, every <img> crops its own tile, the defects are named under their pictures, the tooltips
   hold the paths. The folder is byte-identical at 1, 2, 3 and 4 ranks.
3. audit (synth --like --regurgitate, with a holdout; and without one): the charts and their series, the
   flagged samples in CSV order with their neighbours, the closest unflagged ones, generated and training
   pictures from --generated-images and --images; in paired mode, each sample's source.
4. 100,000 flagged samples (a result written with h5py): 20 pages of 50, the count of the 99,000 left
   out, every file small.
5. Errors: usage (exit 2), not a result / broken result / bad image paths (exit 3, one line naming file
   and dataset), -o on a folder that is not a report (exit 2, untouched), an old report replaced whole,
   nothing left behind by a failed run.
"""
import glob
import os
import shutil
import sys
import time

import h5py
import numpy as np

from harness import MEMAUDIT, expect_error, ok, run, workdir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'report'))
from report_pages import Page, check_folder, jpeg_size  # noqa: E402

d = workdir('report')
GEN_IMAGES = os.path.join(os.path.dirname(os.path.abspath(MEMAUDIT)), 'ma_gen_images')


def first_line_ids(cells):
    return [int(c['caption'].split()[-1] if c['caption'].startswith('sample') else c['caption'].split('\n')[0])
            for c in cells]


def strips(folder, prefix):
    out, p = [], 1
    while os.path.exists(os.path.join(folder, f'{prefix}-{p}.html')):
        out += Page(os.path.join(folder, f'{prefix}-{p}.html')).strips
        p += 1
    return out, p - 1


# 1. dedup without images.
data = os.path.join(d, 'train.h5')
run(2, 'synth', '--n', 4000, '--dim', 48, '--concepts', 6, '--dup-noise', 0.3, '--seed', 4, '-o', data, '-q')
dedup = os.path.join(d, 'dedup.h5')
run(2, 'dedup', '-i', data, '--clusters', 16, '--reclusterings', 2, '--threshold', '0.9,0.85', '--recall-sample', 300,
    '-o', dedup, '-q')
with h5py.File(dedup, 'r') as f:
    ids, rep, keep, prs = f['ids'][...], f['representative'][...], f['keep'][...], f['pairs'][...]
    n_recall = len(f['recall'])

per, pages, members, border = 10, 3, 6, 25
out = os.path.join(d, 'rep-dedup')
run(1, 'report', dedup, '-o', out, '--per-page', per, '--max-pages', pages, '--group-members', members,
    '--borderline', border, '-q')
html = check_folder(out)
index = html['index.html']
assert set(index.charts) == {'chart-similarity', 'chart-group-sizes', 'chart-cluster-sizes', 'chart-recall'}, index.charts
for c in index.charts.values():
    assert c['title'] and c['label'] == f'{c["id"]}-title {c["id"]}-desc', c
    assert c['series'] and all(s['shapes'] > 0 for s in c['series']), c
assert index.charts['chart-similarity']['markers'] == 2
assert index.charts['chart-recall']['series'][0]['kind'] == 'series-points'
assert index.charts['chart-recall']['series'][0]['shapes'] >= 2 * n_recall  # a point and an error bar each
assert 'id="no-images"' in index.html and '--images' in index.plain_text()


def size_label(size, groups):
    """The report's size classes: 2, 3, 4, 5-8, 9-16, ... (groups); 0, 1, 2-3, 4-7, ... (clusters)."""
    if groups and size <= 4 or not groups and size <= 1:
        return str(size)
    lo = 4 if groups else 1
    while lo * 2 < size + (0 if groups else 1):
        lo *= 2
    return f'{lo + 1}\u2013{2 * lo}' if groups else f'{lo}\u2013{2 * lo - 1}'


def bars(chart):
    """label -> value from the bars' tooltips."""
    return {t.rsplit(': ', 1)[0]: float(t.rsplit(': ', 1)[1].split()[0]) for t in chart['series'][0]['tips']}


with h5py.File(dedup, 'r') as f:
    csizes, recall = f['clusterings/0/sizes'][...], f['recall'][...]
_, gcounts = np.unique(rep[rep != ids], return_counts=True)
want = {}
for sz in (gcounts + 1).tolist():
    want[size_label(sz, True)] = want.get(size_label(sz, True), 0) + 1
assert bars(index.charts['chart-group-sizes']) == want, (bars(index.charts['chart-group-sizes']), want)
want = {}
for sz in csizes.tolist():
    want[size_label(sz, False)] = want.get(size_label(sz, False), 0) + 1
assert bars(index.charts['chart-cluster-sizes']) == want, (bars(index.charts['chart-cluster-sizes']), want)
hist = bars(index.charts['chart-similarity'])
assert sum(hist.values()) == len(prs), (sum(hist.values()), len(prs))
for label, v in hist.items():
    lo, hi = (float(x) for x in label.split('\u2013'))
    assert abs(v - np.sum((prs['sim'] >= lo) & (prs['sim'] < hi))) <= 2, (label, v)
tips = index.charts['chart-recall']['series'][0]['tips']
assert tips == [f'{r["clusterings"]}: {r["recall"]:.4f} ({r["ci_low"]:.4f}\u2013{r["ci_high"]:.4f})' for r in recall], tips
assert index.sections[:3] == ['summary', 'charts', 'groups'] and 'pairs' in index.sections

removed = rep != ids
reps, counts = np.unique(rep[removed], return_counts=True)
order = np.lexsort((reps, -counts))
shown = order[:per * pages]
assert len(reps) > per * pages, 'the test set must have more groups than the report shows'
pair_sim = {(int(a), int(b)): float(s) for a, b, s in zip(prs['a'], prs['b'], prs['sim'])}
got, npages = strips(out, 'groups')
assert npages == pages and len(got) == per * pages, (npages, len(got))
for g, st in zip(shown, got):
    r, size = int(reps[g]), int(counts[g]) + 1
    mem = np.sort(ids[rep == r][ids[rep == r] != r])[:members - 1]
    assert f'group of {size}' in st['head'] and f'kept {r},' in st['head'], (st['head'], r, size)
    assert first_line_ids(st['cells']) == [r] + mem.tolist(), (st, r, mem)
    assert st['cells'][0]['classes'][-1] == 'kept' and st['cells'][0]['img'] is None
    for c, m in zip(st['cells'][1:], mem.tolist()):
        s = pair_sim.get((min(r, m), max(r, m)))
        assert c['caption'].split('\n')[1] == ('(chain)' if s is None else f'{s:.5f}'), (c, s)
    more = size - 1 - len(mem)
    assert (st['more'] == f'+{more:,} more') if more else not st['more'], (st['more'], more)
left = len(reps) - per * pages
assert f'{per * pages} of {len(reps):,} groups' in index.plain_text() and 'not shown' in index.plain_text()

dist = np.abs(prs['sim'].astype(np.float64) - np.float64(np.float32(0.9)))  # dedup compares in float
near = np.lexsort((prs['b'], prs['a'], dist))[:border]
near = near[np.lexsort((prs['b'][near], prs['a'][near], -prs['sim'][near]))]
got, npages = strips(out, 'pairs')
assert npages == 3 and len(got) == border
keep_of = dict(zip(ids.tolist(), keep.tolist()))
for i, st in zip(near, got):
    a, b, s = int(prs['a'][i]), int(prs['b'][i]), float(prs['sim'][i])
    assert f'similarity {s:.6f}' in st['head'] and ('above' if s >= np.float32(0.9) else 'below') in st['head'], (st['head'], s)
    assert first_line_ids(st['cells']) == [a, b]
    assert [c['caption'].split('\n')[1] for c in st['cells']] == ['kept' if keep_of[x] else 'removed' for x in (a, b)]
ok('dedup report without images')

# 2. Contact sheets.
imgdir = os.path.join(d, 'imgs')
run_gen = [GEN_IMAGES, '-o', imgdir, '--scenes', 8, '--hours', 1, '--size', 96, '--seed', 2]
assert os.path.exists(GEN_IMAGES), f'{GEN_IMAGES} is missing (built by tests/images)'
import subprocess  # noqa: E402
subprocess.run([str(a) for a in run_gen], check=True, capture_output=True)
pictures = sorted(os.path.basename(p) for p in glob.glob(os.path.join(imgdir, 'img-*.jpg')))
corrupt = os.path.join(imgdir, 'corrupt.jpg')
with open(corrupt, 'wb') as f:
    f.write(b'\xff\xd8\xff\xe0 this is not really a JPEG' * 10)
missing = os.path.join(imgdir, 'missing.jpg')
big = shown[0]
big_rep = int(reps[big])
big_members = np.sort(ids[rep == big_rep][ids[rep == big_rep] != big_rep])[:3].tolist()
path_of = {int(i): pictures[int(i) % len(pictures)] for i in ids}
path_of[big_members[0]] = missing
path_of[big_members[1]] = corrupt
del path_of[big_members[2]]
all_ids = np.array(sorted(path_of), np.int64)
half = len(all_ids) // 2
shard0, shard1 = os.path.join(d, 'paths-0.h5'), os.path.join(d, 'paths-1.h5')
with h5py.File(shard0, 'w') as f:  # variable-length UTF-8, absolute paths, ids out of row order
    sel = all_ids[:half][::-1]
    f['ids'] = sel
    p = [path_of[i] if os.path.isabs(path_of[i]) else os.path.join(imgdir, path_of[i]) for i in sel.tolist()]
    f.create_dataset('paths', data=p, dtype=h5py.string_dtype('utf-8'))
with h5py.File(shard1, 'w') as f:  # fixed-length, relative to --image-root, another dataset name
    sel = all_ids[half:]
    f['ids'] = sel
    f['paths_fixed'] = np.array([path_of[i].encode() for i in sel.tolist()], dtype='S')
thumb = 64
img_args = ['--images', shard0, '--images', shard1 + ':/paths_fixed', '--image-root', imgdir, '--per-page', per,
            '--max-pages', pages, '--group-members', members, '--borderline', border, '--thumb', thumb, '-q']
outs = {}
for r in (1, 2, 3, 4):
    outs[r] = os.path.join(d, f'rep-img-{r}')
    run(r, 'report', dedup, '-o', outs[r], *img_args)
out = outs[1]
html = check_folder(out)
assert 'id="no-images"' not in html['index.html'].html
for name, page in html.items():
    if name == 'index.html':
        continue
    sheet = name.replace('.html', '.jpg')
    cols = max(len(s['cells']) for s in page.strips)
    assert jpeg_size(os.path.join(out, sheet)) == (cols * thumb, len(page.strips) * thumb), (name, jpeg_size(os.path.join(out, sheet)))
    for row, st in enumerate(page.strips):
        for col, c in enumerate(st['cells']):
            assert c['img']['src'] == sheet and c['img']['width'] == str(thumb), c
            assert c['img']['style'] == f'object-position:{-col * thumb}px {-row * thumb}px', (c['img'], row, col)
idx_imgs = [c for s in html['index.html'].strips for c in s['cells']]
assert idx_imgs and all(c['img'] and c['img']['src'] in ('groups-1.jpg', 'pairs-1.jpg') for c in idx_imgs)
first = html['groups-1.html'].strips[0]['cells']
assert first_line_ids(first)[1:4] == big_members
flags = [c['caption'].split('\n')[-1] for c in first[1:4]]
assert flags == ['file missing', 'not a readable JPEG', 'no image path'], flags
assert first[1]['title'] == missing and first[3]['title'] is None
assert first[0]['title'] == os.path.join(imgdir, pictures[big_rep % len(pictures)]), first[0]['title']
clean = [c for s in html['groups-1.html'].strips for c in s['cells'] if c not in first[1:4]]
assert all('\n' not in c['caption'] or c['caption'].split('\n')[-1] not in ('file missing', 'not a readable JPEG', 'no image path') for c in clean)
for r in (2, 3, 4):
    names = sorted(os.listdir(outs[r]))
    assert names == sorted(os.listdir(out)), (r, names)
    for n_ in names:
        with open(os.path.join(out, n_), 'rb') as a, open(os.path.join(outs[r], n_), 'rb') as b:
            assert a.read() == b.read(), f'{n_} differs between 1 and {r} ranks'
ok('dedup contact sheets, identical at 1, 2, 3, 4 ranks')

# 3. audit.
run(2, 'synth', '--like', data, '--regurgitate', 0.05, '--n', 600, '--seed', 8, '-o', os.path.join(d, 'gen.h5'), '-q')
run(2, 'synth', '--n', 500, '--dim', 48, '--concepts', 6, '--seed', 9, '-o', os.path.join(d, 'hold.h5'), '-q')
audit = os.path.join(d, 'audit.h5')
run(2, 'audit', '--train', data, '--generated', os.path.join(d, 'gen.h5'), '--holdout', os.path.join(d, 'hold.h5'),
    '-o', audit, '-q')
with h5py.File(audit, 'r') as f:
    a_ids, a_nb, a_sim = f['ids'][...], f['neighbors'][...], f['similarity'][...]
    a_flag, a_near = f['flagged'][...], f['near_count'][...]
gen_paths = os.path.join(d, 'gen-paths.h5')
with h5py.File(gen_paths, 'w') as f:
    f['ids'] = a_ids
    f.create_dataset('paths', data=[os.path.join(imgdir, pictures[(int(i) * 7) % len(pictures)]) for i in a_ids],
                     dtype=h5py.string_dtype('utf-8'))
out = os.path.join(d, 'rep-audit')
nbshow = 6
run(2, 'report', audit, '-o', out, '--images', shard0, '--images', shard1 + ':/paths_fixed', '--image-root', imgdir,
    '--generated-images', gen_paths, '--neighbors', nbshow, '--borderline', 12, '--thumb', thumb, '-q')
html = check_folder(out)
index = html['index.html']
assert set(index.charts) == {'chart-nearest', 'chart-flagged-by-threshold'}, index.charts
assert [s['kind'] for s in index.charts['chart-nearest']['series']] == ['series-step'] * 2
assert 'holdout' in index.charts['chart-nearest']['series'][1]['name']
assert index.charts['chart-flagged-by-threshold']['markers'] == 1
assert 'regurgitation' in index.plain_text() and 'id="verdict"' in index.html
fl = np.nonzero(a_flag)[0]
assert len(fl) >= 20, len(fl)
fl = fl[np.lexsort((a_ids[fl], -a_sim[fl, 0]))]
got, _ = strips(out, 'flagged')
assert len(got) == len(fl)
for row, st in zip(fl, got):
    assert f'sample {a_ids[row]} ' in st['head'] + ' ' and f'nearest {a_sim[row, 0]:.6f}' in st['head'], st['head']
    assert f'{a_near[row]} training item' in st['head']
    assert first_line_ids(st['cells']) == [int(a_ids[row])] + a_nb[row, :nbshow].tolist()
    assert [c['caption'].split('\n')[1] for c in st['cells'][1:]] == [f'{s:.5f}' for s in a_sim[row, :nbshow]]
    assert st['cells'][0]['classes'][-1] == 'sample' and st['cells'][0]['img'] is not None
    assert st['cells'][0]['title'] == os.path.join(imgdir, pictures[(int(a_ids[row]) * 7) % len(pictures)])
    assert st['more'] == f'+{a_nb.shape[1] - nbshow} more'
un = np.nonzero(a_flag == 0)[0]
un = un[np.lexsort((a_ids[un], -a_sim[un, 0]))][:12]
got, _ = strips(out, 'closest')
assert [first_line_ids(s['cells'])[0] for s in got] == a_ids[un].tolist()
assert jpeg_size(os.path.join(out, 'flagged-1.jpg')) == ((nbshow + 1) * thumb, min(50, len(fl)) * thumb)

run(3, 'audit', '--train', data, '--generated', os.path.join(d, 'gen.h5'), '--source-ids', '/source_ids',
    '-o', os.path.join(d, 'audit-p.h5'), '-q')
run(1, 'report', os.path.join(d, 'audit-p.h5'), '-o', os.path.join(d, 'rep-audit-p'), '-q')
with h5py.File(os.path.join(d, 'audit-p.h5'), 'r') as f:
    src, srcsim = f['source_ids'][...], f['source_similarity'][...]
got, _ = strips(os.path.join(d, 'rep-audit-p'), 'flagged')
for row, st in zip(fl, got):
    assert f'source {src[row]} ({srcsim[row]:.5f})' in st['head'], st['head']
run(2, 'audit', '--train', data, '--generated', os.path.join(d, 'gen.h5'), '--baseline-sample', 200,
    '-o', os.path.join(d, 'audit-b.h5'), '-q')
run(1, 'report', os.path.join(d, 'audit-b.h5'), '-o', os.path.join(d, 'rep-audit-b'), '-q')
index = check_folder(os.path.join(d, 'rep-audit-b'))['index.html']
assert 'train-to-train' in index.charts['chart-nearest']['series'][1]['name']
assert '--generated-images' in index.plain_text()
run(2, 'audit', '--train', data, '--generated', os.path.join(d, 'gen.h5'), '--baseline-sample', 0,
    '-o', os.path.join(d, 'audit-0.h5'), '-q')
run(1, 'report', os.path.join(d, 'audit-0.h5'), '-o', os.path.join(d, 'rep-audit-0'), '-q')
index = check_folder(os.path.join(d, 'rep-audit-0'))['index.html']
assert len(index.charts['chart-nearest']['series']) == 1
ok('audit report')

# 4. 100,000 flagged samples.
m, k, nflag = 110000, 10, 100000
rng = np.random.default_rng(3)
s0 = np.concatenate([rng.uniform(0.95, 1.0, nflag), rng.uniform(0.3, 0.94, m - nflag)]).astype(np.float32)
perm = rng.permutation(m)
s0 = s0[perm]
sims = np.sort(np.minimum(s0[:, None], rng.uniform(0.2, 1.0, (m, k)).astype(np.float32)), axis=1)[:, ::-1]
sims[:, 0] = s0
big = os.path.join(d, 'audit-100k.h5')
with h5py.File(big, 'w') as f:
    f['ids'] = np.arange(m, dtype=np.int64) + 5_000_000
    f['neighbors'] = rng.integers(0, 1_000_000, (m, k)).astype(np.int64)
    f['similarity'] = sims
    f['flagged'] = (s0 >= np.float32(0.95)).astype(np.uint8)
    f['near_count'] = rng.integers(1, 5, m).astype(np.int64)
    f['holdout/similarity'] = rng.uniform(0.2, 0.9, 5000).astype(np.float32)
    f.attrs['threshold'] = 0.95
    f.attrs['n'] = 1_000_000
    f.attrs['verdict'] = 'regurgitation: many'
out = os.path.join(d, 'rep-100k')
t0 = time.time()
run(3, 'report', big, '-o', out, '-q')
print(f'report of {nflag:,} flagged samples: {time.time() - t0:.2f} s')
html = check_folder(out)
names = sorted(os.listdir(out))
assert [n_ for n_ in names if n_.startswith('flagged-')] == sorted(f'flagged-{p}.html' for p in range(1, 21)), names
assert len(names) == 1 + 20 + 2, names
sizes = {n_: os.path.getsize(os.path.join(out, n_)) for n_ in names}
assert max(sizes.values()) < 250_000 and sum(sizes.values()) < 4_000_000, sizes
text = html['index.html'].plain_text()
assert '1,000 of 100,000 flagged samples' in text and 'not shown' in text, text[:2000]
assert html['flagged-20.html'].strips[-1]['id'] == 'flagged-1000'
top = np.lexsort((np.arange(m), -s0))[0]
assert f'sample {5_000_000 + top} ' in html['flagged-1.html'].strips[0]['head'] + ' '
ok('100,000 flagged samples: 20 pages, bounded files')

# 5. Errors.
expect_error(1, 2, ['usage: memaudit report'], 'report')
help_text, _ = run(3, 'report', '--help')
assert help_text.count('usage: memaudit report') == 1 and '--images' in help_text
expect_error(3, 2, ['-o DIR'], 'report', dedup)
expect_error(1, 2, ['one result file'], 'report', dedup, dedup, '-o', os.path.join(d, 'x'))
expect_error(1, 2, ['--per-page'], 'report', dedup, '-o', os.path.join(d, 'x'), '--per-page', 0)
expect_error(1, 2, ['exceeds'], 'report', dedup, '-o', os.path.join(d, 'x'), '--per-page', 500, '--thumb', 512)
expect_error(2, 3, ['nothere.h5'], 'report', os.path.join(d, 'nothere.h5'), '-o', os.path.join(d, 'x'))
notes = os.path.join(d, 'notes.txt')
with open(notes, 'w') as f:
    f.write('hello\n')
expect_error(1, 3, ['not an HDF5 file'], 'report', notes, '-o', os.path.join(d, 'x'))
expect_error(3, 3, ['neither a dedup result', 'train.h5'], 'report', data, '-o', os.path.join(d, 'x'))
km = os.path.join(d, 'km.h5')
run(2, 'kmeans', '-i', data, '--clusters', 4, '-o', km, '-q')
expect_error(2, 3, ['neither'], 'report', km, '-o', os.path.join(d, 'x'))
broken = os.path.join(d, 'broken.h5')
shutil.copy(dedup, broken)
with h5py.File(broken, 'a') as f:
    del f['keep']
    f['keep'] = np.ones(10, np.uint8)
expect_error(2, 3, ['broken.h5', '/keep', 'rows'], 'report', broken, '-o', os.path.join(d, 'x'))
nopaths = os.path.join(d, 'nopaths.h5')
with h5py.File(nopaths, 'w') as f:
    f['ids'] = np.arange(5, dtype=np.int64)
expect_error(2, 3, ['nopaths.h5', '/paths'], 'report', dedup, '-o', os.path.join(d, 'x'), '--images', nopaths)
badlen = os.path.join(d, 'badlen.h5')
with h5py.File(badlen, 'w') as f:
    f['ids'] = np.arange(5, dtype=np.int64)
    f['paths'] = np.array([b'a.jpg'] * 4)
expect_error(1, 3, ['badlen.h5', 'ids'], 'report', dedup, '-o', os.path.join(d, 'x'), '--images', badlen)
notstr = os.path.join(d, 'notstr.h5')
with h5py.File(notstr, 'w') as f:
    f['paths'] = np.arange(5)
expect_error(1, 3, ['notstr.h5', 'strings'], 'report', dedup, '-o', os.path.join(d, 'x'), '--images', notstr)
assert not os.path.exists(os.path.join(d, 'x')) and not glob.glob(os.path.join(d, 'x.tmp-*')), os.listdir(d)

foreign = os.path.join(d, 'foreign')
os.makedirs(foreign)
with open(os.path.join(foreign, 'thesis.tex'), 'w') as f:
    f.write('keep me')
expect_error(2, 2, ['foreign', 'thesis.tex'], 'report', dedup, '-o', foreign)
assert os.listdir(foreign) == ['thesis.tex']
expect_error(1, 2, ['not a directory'], 'report', dedup, '-o', notes)
os.makedirs(os.path.join(d, 'empty'))
run(1, 'report', dedup, '-o', os.path.join(d, 'empty'), '-q')
assert os.path.exists(os.path.join(d, 'empty', 'index.html'))
again = os.path.join(d, 'rep-dedup')
assert os.path.exists(os.path.join(again, 'groups-3.html'))
run(2, 'report', dedup, '-o', again + '/', '--per-page', per, '--max-pages', 1, '-q')
assert not os.path.exists(os.path.join(again, 'groups-3.html')) and os.path.exists(os.path.join(again, 'groups-1.html'))
assert not [n_ for n_ in os.listdir(d) if '.tmp-' in n_], os.listdir(d)
ok('report errors')
