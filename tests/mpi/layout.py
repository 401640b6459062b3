#!/usr/bin/python3
"""The project's own check that a result file has the layout SPEC.md promises (the sections "Result of
`dedup`", "Result of `audit`", the `kmeans` command and "JSON summary"): datasets with their dtypes and
shapes, the relations between them, the required attributes with their types, the summary's required
keys and their agreement with the file. It does not judge whether the numbers are right: the tests do.

    python3 tests/mpi/layout.py dedup|audit|kmeans RESULT.h5 [--summary RESULT.json]
    python3 tests/mpi/layout.py --selftest dedup|audit|kmeans RESULT.h5 [--summary RESULT.json]

Exit 0 when the layout holds, 1 with one line per problem. --selftest breaks copies of a good result
in the ways listed in BREAKAGES and exits 1 unless each one is caught.

The tests call check() through harness.spec_check(), which also runs ../shared/tools/spec_check.py
when the source tree has one beside it. Needs numpy and h5py only."""
import json
import numbers
import os
import shutil
import sys
import tempfile

import h5py
import numpy as np

INT, FLOAT, STR = 'integer', 'float', 'string'

# SPEC.md, "Result of `dedup`": root attributes and their kinds.
DEDUP_ATTRS = {'n': INT, 'dim': INT, 'clusters': INT, 'reclusterings': INT, 'threshold': FLOAT, 'seed': INT,
               'removed': INT, 'version': STR, 'command_line': STR}
# SPEC.md, `kmeans`: the root attribute `objective`.
KMEANS_ATTRS = {'objective': FLOAT}
PAIR_FIELDS = (('a', np.int64), ('b', np.int64), ('sim', np.float32), ('clustering', np.int16))
RECALL_FIELDS = (('clusterings', np.int32), ('recall', np.float64), ('ci_low', np.float64), ('ci_high', np.float64),
                 ('true_pairs', np.int64))
# SPEC.md, "JSON summary".
SUMMARY_KEYS = ('command', 'version', 'n', 'dim', 'ranks', 'seconds', 'phases')
SUMMARY_EXTRA = {'dedup': ('removed', 'removed_fraction', 'pairs', 'groups', 'recall'),
                 'audit': ('generated', 'flagged', 'flagged_fraction', 'nearest_similarity'),
                 'kmeans': ()}


class _Check:
    def __init__(self):
        self.problems = []

    def need(self, cond, msg):
        if not cond:
            self.problems.append(msg)
        return bool(cond)

    def dataset(self, f, name, dtype, ndim, rows=None, required=True):
        """The dataset `name` with `dtype` (a numpy dtype or a tuple of compound fields) and `ndim`
        dimensions, of `rows` rows when given; None when absent or of the wrong kind."""
        if name not in f:
            self.need(not required, f'missing dataset /{name}')
            return None
        d = f[name]
        if not self.need(isinstance(d, h5py.Dataset), f'/{name} is not a dataset'):
            return None
        ok = True
        if isinstance(dtype, tuple):
            names = d.dtype.names or ()
            ok = self.need(names[:len(dtype)] == tuple(n for n, _ in dtype),
                           f'/{name}: fields {names}, SPEC says {tuple(n for n, _ in dtype)}')
            for fld, t in dtype:
                if fld in names:
                    ok &= self.need(d.dtype[fld] == np.dtype(t),
                                    f'/{name}.{fld}: {d.dtype[fld]}, SPEC says {np.dtype(t)}')
        else:
            ok = self.need(d.dtype == np.dtype(dtype), f'/{name}: dtype {d.dtype}, SPEC says {np.dtype(dtype)}')
        ok &= self.need(d.ndim == ndim, f'/{name}: {d.ndim}-D, SPEC says {ndim}-D')
        if rows is not None and d.ndim >= 1:
            ok &= self.need(d.shape[0] == rows, f'/{name}: {d.shape[0]} rows, expected {rows}')
        return d if ok else None

    def attributes(self, obj, where, kinds):
        for name, kind in kinds.items():
            if not self.need(name in obj.attrs, f'missing attribute {name} of {where}'):
                continue
            v = np.asarray(obj.attrs[name])
            if kind == STR:
                good = v.shape == () and (v.dtype.kind in 'SU' or isinstance(v.item(), (str, bytes)))
            else:
                want = np.integer if kind == INT else np.floating
                good = v.shape == () and np.issubdtype(v.dtype, want)
            self.need(good, f'attribute {name} of {where}: {v.dtype}{v.shape}, SPEC says a scalar {kind}')

    def clusterings(self, f, rows, reclusterings, dim):
        """/clusterings/<r>/centroids float32 [K, D] and /assignment int32 [rows], r = 0..R-1."""
        if not self.need('clusterings' in f and isinstance(f['clusterings'], h5py.Group), 'missing group /clusterings'):
            return
        rs = sorted(f['clusterings'].keys(), key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))
        want = [str(i) for i in range(reclusterings if reclusterings is not None else len(rs))]
        self.need(rs == want and want, f'/clusterings holds {rs}, SPEC says {want or "0..R-1"}')
        for r in rs:
            c = self.dataset(f, f'clusterings/{r}/centroids', np.float32, 2)
            a = self.dataset(f, f'clusterings/{r}/assignment', np.int32, 1, rows)
            if c is not None and dim is not None:
                self.need(c.shape[1] == dim,
                          f'/clusterings/{r}/centroids: {c.shape[1]} columns, attribute dim is {dim}')
            if c is not None and a is not None:
                v = a[...]
                self.need(v.size == 0 or (v.min() >= 0 and v.max() < c.shape[0]),
                          f'/clusterings/{r}/assignment outside 0..{c.shape[0] - 1}')


def _int_attr(f, name):
    v = f.attrs.get(name)
    return int(v) if v is not None and np.issubdtype(np.asarray(v).dtype, np.integer) else None


def _check_dedup(c, f):
    c.attributes(f, 'the root', DEDUP_ATTRS)
    against = _int_attr(f, 'against') or 0
    ids = c.dataset(f, 'ids', np.int64, 1)
    n = ids.shape[0] if ids is not None else None
    if n is not None and _int_attr(f, 'n') is not None and not against:
        c.need(_int_attr(f, 'n') == n, f'attribute n is {_int_attr(f, "n")}, /ids has {n} rows')
    keep = c.dataset(f, 'keep', np.uint8, 1, n)
    rep = c.dataset(f, 'representative', np.int64, 1, n)
    pairs = c.dataset(f, 'pairs', PAIR_FIELDS, 1)
    recl = _int_attr(f, 'reclusterings')
    if pairs is not None and pairs.shape[0]:
        p = pairs[...]
        a, b = p['a'], p['b']
        c.need(bool(np.all(a < b)), '/pairs: a < b does not hold everywhere')
        c.need(bool(np.all((a[:-1] < a[1:]) | ((a[:-1] == a[1:]) & (b[:-1] < b[1:])))),
               '/pairs: not sorted by (a, b) or not unique')
        lows = [float(f.attrs['threshold'])] if np.asarray(f.attrs.get('threshold', '')).dtype.kind == 'f' else []
        if 'sweep' in f:
            lows += [float(g.attrs['threshold']) for g in f['sweep'].values() if 'threshold' in g.attrs]
        if lows:
            c.need(bool(np.all(p['sim'] >= np.float32(min(lows)))),  # dedup compares in float
                   f'/pairs: a pair below the lowest threshold {min(lows)}')
        if recl is not None:
            c.need(bool(np.all((p['clustering'] >= 0) & (p['clustering'] < recl))),
                   f'/pairs.clustering outside 0..{recl - 1}')
    if keep is not None and rep is not None and ids is not None:
        k, r, i = keep[...], rep[...], ids[...]
        c.need(bool(np.all((k == 0) | (k == 1))), '/keep holds values other than 0 and 1')
        c.need(bool(np.all(r[k == 1] == i[k == 1])), '/representative of a kept item is not its own id')
        kept, listed = set(i[k == 1].tolist()), set(i.tolist())
        # with --against, a removed item's representative may be one of those rows, which /ids does not list
        bad = [x for x in r[k == 0].tolist() if x not in kept and (not against or x in listed)]
        c.need(not bad, f'{len(bad)} removed items point to a representative that is not kept')
        if _int_attr(f, 'removed') is not None:
            c.need(_int_attr(f, 'removed') == int((k == 0).sum()), 'attribute removed != the count of /keep == 0')
    if 'recall' in f:
        rc = c.dataset(f, 'recall', RECALL_FIELDS, 1)
        if rc is not None:
            v = rc[...]
            c.need(recl is None or v['clusterings'].tolist() == list(range(1, recl + 1)),
                   f'/recall.clusterings is {v["clusterings"].tolist()}, SPEC says 1..R')
            c.need(bool(np.all((v['ci_low'] <= v['recall']) & (v['recall'] <= v['ci_high']))),
                   '/recall: an estimate outside its interval')
    if 'sweep' in f:
        names = sorted(f['sweep'].keys())
        c.need(names == [str(i) for i in range(len(names))], f'/sweep holds {names}, expected 0..{len(names) - 1}')
        for s in names:
            c.attributes(f['sweep'][s], f'/sweep/{s}', {'threshold': FLOAT})
            c.dataset(f, f'sweep/{s}/keep', np.uint8, 1, n)
    c.clusterings(f, None if n is None else n + against, recl, _int_attr(f, 'dim'))


def _check_audit(c, f):
    nb = c.dataset(f, 'neighbors', np.int64, 2)
    m = nb.shape[0] if nb is not None else None
    sim = c.dataset(f, 'similarity', np.float32, 2, m)
    nc = c.dataset(f, 'near_count', np.int64, 1, m)
    fl = c.dataset(f, 'flagged', np.uint8, 1, m)
    c.dataset(f, 'source_similarity', np.float32, 1, m, required='source_ids' in f)
    c.dataset(f, 'holdout/similarity', np.float32, 1, required=False)
    if nb is not None and sim is not None:
        c.need(nb.shape == sim.shape, f'/neighbors {nb.shape} and /similarity {sim.shape} differ')
        s = sim[...]
        c.need(s.size == 0 or bool(np.all(np.diff(s, axis=1) <= 0)), '/similarity rows are not most-similar-first')
        if fl is not None and nc is not None and s.size:
            flagged, near = fl[...], nc[...]
            c.need(bool(np.all((flagged == 1) == (near > 0))),
                   '/flagged (nearest >= threshold) disagrees with /near_count')


def _check_kmeans(c, f):
    c.attributes(f, 'the root', KMEANS_ATTRS)
    ids = c.dataset(f, 'ids', np.int64, 1)
    c.clusterings(f, ids.shape[0] if ids is not None else None, _int_attr(f, 'reclusterings'), _int_attr(f, 'dim'))


def _same_value(js, h5):
    """A summary number against the file's: a recall with no true pair is NaN in the file, null in JSON."""
    return js == h5 or (h5 != h5 and js is None) or (h5 != h5 and isinstance(js, float) and js != js)


def _check_summary(c, kind, path, f):
    try:
        with open(path) as fh:
            s = json.load(fh)
    except (OSError, ValueError) as e:
        c.problems.append(f'summary {path}: {e}')
        return
    if not c.need(isinstance(s, dict), f'summary {path} is not a JSON object'):
        return
    for k in SUMMARY_KEYS + SUMMARY_EXTRA[kind]:
        c.need(k in s, f'summary lacks key {k}')
    c.need(s.get('command') == kind, f'summary command is {s.get("command")!r}, expected {kind!r}')
    for k in ('n', 'dim', 'ranks'):
        c.need(k not in s or (isinstance(s[k], int) and s[k] >= 0), f'summary {k} is {s.get(k)!r}, not a count')
    c.need('seconds' not in s or isinstance(s['seconds'], numbers.Real), 'summary seconds is not a number')
    c.need('phases' not in s or (isinstance(s['phases'], dict)
                                 and all(isinstance(v, numbers.Real) for v in s['phases'].values())),
           'summary phases is not a map of name to seconds')
    for k in ('n', 'dim', 'removed'):
        if k in s and _int_attr(f, k) is not None and (k != 'n' or 'against' not in f.attrs):
            c.need(s[k] == _int_attr(f, k), f'summary {k} {s[k]} vs attribute {k} {_int_attr(f, k)}')
    if kind == 'dedup':
        if 'pairs' in s and 'pairs' in f:
            c.need(s['pairs'] == f['pairs'].shape[0],
                   f'summary pairs {s["pairs"]} vs /pairs {f["pairs"].shape[0]} rows')
        if 'recall' in s:
            rows = f['recall'][...] if 'recall' in f else []
            ok = isinstance(s['recall'], list) and len(s['recall']) == len(rows)
            ok = ok and all(isinstance(e, dict)
                            and all(_same_value(e.get(k), row[k].item()) for k, _ in RECALL_FIELDS)
                            for e, row in zip(s['recall'], rows))
            c.need(ok, 'summary recall is not the list of the /recall rows')
    if kind == 'audit':
        if 'generated' in s and 'flagged' in f:
            c.need(s['generated'] == f['flagged'].shape[0],
                   f'summary generated {s["generated"]} vs {f["flagged"].shape[0]} rows')
            c.need(s.get('flagged') == int(f['flagged'][...].sum()), f'summary flagged {s.get("flagged")} vs /flagged')
        c.need(isinstance(s.get('nearest_similarity'), dict), 'summary nearest_similarity is not a map of quantiles')
        if 'holdout' in f:
            for k in ('holdout_nearest_similarity', 'verdict'):
                c.need(k in s, f'summary lacks key {k} (a holdout was given)')


def check(kind, path, summary=None):
    """The layout problems of the `kind` result `path` (and its JSON `summary`), one string each; an
    empty list when the layout holds. Not collective (plain h5py)."""
    c = _Check()
    if kind not in SUMMARY_EXTRA:
        return [f'unknown kind {kind!r}']
    try:
        with h5py.File(path, 'r') as f:
            {'dedup': _check_dedup, 'audit': _check_audit, 'kmeans': _check_kmeans}[kind](c, f)
            if summary:
                _check_summary(c, kind, summary, f)
    except OSError as e:
        c.problems.append(f'{path}: {e}')
    return c.problems


def _rewrite(f, name, dtype):
    data, attrs = f[name][...], dict(f[name].attrs)
    del f[name]
    f[name] = data.astype(dtype)
    f[name].attrs.update(attrs)


def _drop_field(f, name, field):
    data = f[name][...]
    keep = [n for n in data.dtype.names if n != field]
    del f[name]
    f[name] = np.array(data[keep].tolist(), dtype=[(n, data.dtype[n]) for n in keep])


def _rewrite_short(f, name):
    data = f[name][...]
    del f[name]
    f[name] = data[:-1]


def _first(f, prefix, leaf):
    return f'{prefix}/{sorted(f[prefix].keys())[0]}/{leaf}'


# Ways to break a good result, each of which check() must report: (kind, what, file edit, summary edit).
BREAKAGES = (
    ('dedup', 'dataset /keep removed', lambda f: f.__delitem__('keep'), None),
    ('dedup', '/representative stored as int32', lambda f: _rewrite(f, 'representative', np.int32), None),
    ('dedup', '/pairs without its field sim', lambda f: _drop_field(f, 'pairs', 'sim'), None),
    ('dedup', '/ids one row short', lambda f: _rewrite_short(f, 'ids'), None),
    ('dedup', 'attribute seed removed', lambda f: f.attrs.__delitem__('seed'), None),
    ('dedup', 'attribute removed a string', lambda f: f.attrs.__setitem__('removed', 'many'), None),
    ('dedup', 'centroids of clustering 0 in float64',
     lambda f: _rewrite(f, _first(f, 'clusterings', 'centroids'), np.float64), None),
    ('dedup', 'summary without groups', None, lambda s: s.pop('groups')),
    ('audit', 'dataset /near_count removed', lambda f: f.__delitem__('near_count'), None),
    ('audit', '/similarity stored as float64', lambda f: _rewrite(f, 'similarity', np.float64), None),
    ('audit', 'summary without flagged_fraction', None, lambda s: s.pop('flagged_fraction')),
    ('kmeans', 'attribute objective removed', lambda f: f.attrs.__delitem__('objective'), None),
    ('kmeans', 'assignment of clustering 0 in int64',
     lambda f: _rewrite(f, _first(f, 'clusterings', 'assignment'), np.int64), None),
    ('kmeans', 'summary without phases', None, lambda s: s.pop('phases')),
)


def selftest(kind, path, summary=None):
    """The checker can fail: `path` (and `summary`) must pass, and every BREAKAGES entry of `kind` applied
    to a copy must be reported. Returns the list of breakages that went unnoticed (and the problems of
    the intact file, if any)."""
    missed = [f'intact file: {p}' for p in check(kind, path, summary)]
    with tempfile.TemporaryDirectory(prefix='ma-layout-') as tmp:
        for k, what, edit_file, edit_summary in BREAKAGES:
            if k != kind or (edit_summary and not summary):
                continue
            bad, bad_summary = os.path.join(tmp, 'broken.h5'), summary
            shutil.copyfile(path, bad)
            if edit_file:
                with h5py.File(bad, 'r+') as f:
                    edit_file(f)
            if edit_summary:
                s = json.load(open(summary))
                edit_summary(s)
                bad_summary = os.path.join(tmp, 'broken.json')
                json.dump(s, open(bad_summary, 'w'))
            if not check(kind, bad, bad_summary):
                missed.append(f'not caught: {what}')
    return missed


def main(argv):
    test = '--selftest' in argv
    argv = [a for a in argv if a != '--selftest']
    summary = None
    if '--summary' in argv:
        i = argv.index('--summary')
        summary, argv = argv[i + 1], argv[:i] + argv[i + 2:]
    if len(argv) != 2 or argv[0] not in SUMMARY_EXTRA:
        sys.exit(__doc__)
    kind, path = argv
    problems = selftest(kind, path, summary) if test else check(kind, path, summary)
    for p in problems:
        print(f'layout: {p}')
    print(f'layout: {kind} {"self-test" if test else "layout"} {"holds" if not problems else "fails"}')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
