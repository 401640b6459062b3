"""memaudit report opened in headless Chromium, the whole pipeline: ma_gen_images -> embed -> dedup / audit ->
report --images. Chromium is driven through the DevTools protocol over --remote-debugging-pipe (JSON
messages on fds 3 and 4, no network port). For each page:

- no console error, no uncaught exception, no failed resource load (Log, Runtime and Network events);
- the DOM holds the expected charts (by id, with titles, drawn at a visible size), every <img> loaded with
  the contact sheet's natural size, and the captions name the defects (missing file, corrupt JPEG);
- each thumbnail shows its own picture: the tile cut from the sheet, read back from a canvas, matches the
  original file (drawn letterboxed by the browser) far better than another row's picture, and the tiles of
  broken files are the grey placeholder;
- a full-page screenshot is written to screens/*.png (look at them).

A page built to fail (a missing image, console.error, a throw) must be caught, so a silent checker
cannot pass. Without chromium the test prints SKIPPED and exits 77."""
import base64
import glob
import json
import os
import select
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'mpi'))
from harness import MEMAUDIT, ok, run, workdir  # noqa: E402
from report_pages import jpeg_size  # noqa: E402

CHROMIUM = os.environ.get('CHROMIUM') or shutil.which('chromium') or shutil.which('chromium-browser')
if not CHROMIUM:
    print('SKIPPED: chromium is not installed (Debian: apt-get install chromium)')
    sys.exit(77)
GEN_IMAGES = os.path.join(os.path.dirname(os.path.abspath(MEMAUDIT)), 'ma_gen_images')
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
         '--disable-component-update', '--disable-sync', '--mute-audio', '--hide-scrollbars',
         '--allow-file-access-from-files', '--window-size=1280,900']
WIDTH = 1280


class Browser:
    """One Chromium, spoken to over the DevTools pipe; pages are targets with flat sessions."""

    def __init__(self, profile, log):
        cmd_r, self.w = os.pipe()
        self.r, ev_w = os.pipe()

        def child():
            os.dup2(cmd_r, 3)
            os.dup2(ev_w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.log = open(log, 'w')
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f'--user-data-dir={profile}', '--remote-debugging-pipe',
                                      'about:blank'], preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        os.close(cmd_r)
        os.close(ev_w)
        self.buf, self.next, self.events = b'', 0, []

    def _message(self, deadline):
        while b'\0' not in self.buf:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError('chromium did not answer')
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise EOFError(f'chromium closed the pipe (exit {self.proc.poll()}); see {self.log.name}')
                self.buf += chunk
        msg, self.buf = self.buf.split(b'\0', 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None, timeout=60):
        self.next += 1
        msg = {'id': self.next, 'method': method, 'params': params or {}}
        if session:
            msg['sessionId'] = session
        data = json.dumps(msg).encode() + b'\0'
        while data:
            data = data[os.write(self.w, data):]
        deadline = time.time() + timeout
        while True:
            m = self._message(deadline)
            if m.get('id') == self.next:
                if 'error' in m:
                    raise RuntimeError(f'{method}: {m["error"]}')
                return m.get('result', {})
            self.events.append(m)

    def wait_event(self, method, session, timeout=60):
        deadline = time.time() + timeout
        while True:
            for m in self.events:
                if m.get('method') == method and m.get('sessionId') == session:
                    return m
            self.events.append(self._message(deadline))

    def open(self, url, height=900):
        """Loads url in a new tab; returns (session, problems, seconds to the load event)."""
        if getattr(self, 'target', None):
            self.call('Target.closeTarget', {'targetId': self.target})
        target = self.target = self.call('Target.createTarget', {'url': 'about:blank'})['targetId']
        s = self.call('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        for domain in ('Page', 'Runtime', 'Log', 'Network'):
            self.call(domain + '.enable', session=s)
        self.call('Emulation.setDeviceMetricsOverride', {'width': WIDTH, 'height': height, 'deviceScaleFactor': 1,
                                                         'mobile': False}, session=s)
        self.events = []
        t0 = time.time()
        self.call('Page.navigate', {'url': url}, session=s)
        self.wait_event('Page.loadEventFired', s)
        seconds = time.time() - t0
        time.sleep(0.3)
        self.evaluate(s, '1')  # collects what arrived meanwhile
        problems = []
        for m in self.events:
            if m.get('sessionId') != s:
                continue
            p, kind = m.get('params', {}), m.get('method')
            if kind == 'Runtime.consoleAPICalled' and p.get('type') in ('error', 'assert'):
                problems.append('console.error: ' + ' '.join(str(a.get('value', a.get('description'))) for a in p['args']))
            elif kind == 'Runtime.exceptionThrown':
                problems.append('uncaught: ' + p['exceptionDetails'].get('exception', {}).get('description', p['exceptionDetails']['text']))
            elif kind == 'Log.entryAdded' and p['entry']['level'] == 'error':
                problems.append(f'log: {p["entry"]["text"]} {p["entry"].get("url", "")}')
            elif kind == 'Network.loadingFailed':
                problems.append(f'load failed: {p["errorText"]} ({p.get("type")})')
        return s, problems, seconds

    def evaluate(self, s, expr, timeout=120):
        r = self.call('Runtime.evaluate', {'expression': expr, 'awaitPromise': True, 'returnByValue': True},
                      session=s, timeout=timeout)
        if 'exceptionDetails' in r:
            raise RuntimeError(f'page script failed: {r["exceptionDetails"]}')
        return r['result'].get('value')

    def screenshot(self, s, path, max_height=9000):
        size = self.call('Page.getLayoutMetrics', session=s)['cssContentSize']
        h = min(int(size['height']) + 1, max_height)
        shot = self.call('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': True,
                                                    'clip': {'x': 0, 'y': 0, 'width': WIDTH, 'height': h, 'scale': 1}},
                         session=s)
        with open(path, 'wb') as f:
            f.write(base64.b64decode(shot['data']))
        print(f'screenshot: {path} ({WIDTH} x {h})')

    def close(self):
        try:
            self.call('Browser.close', timeout=10)
        except (RuntimeError, EOFError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)
        self.log.close()


DOM = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(s => ({id: s.id,
    title: (s.querySelector('title') || {}).textContent, series: s.querySelectorAll('g.series').length,
    width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height})),
  images: [...document.images].map(i => ({src: i.getAttribute('src'), complete: i.complete,
    nw: i.naturalWidth, nh: i.naturalHeight, w: i.getBoundingClientRect().width})),
  sections: [...document.querySelectorAll('main > section')].map(s => s.id),
  strips: document.querySelectorAll('li.strip').length,
  captions: [...document.querySelectorAll('figure.cell figcaption')].map(c => c.innerText)})"""

# For up to LIMIT cells with a picture: 8 x 8 block means of the tile cut from the sheet, and of the
# file in the tooltip drawn letterboxed the way the report draws it (null when it does not load).
TILES = """(async () => {
  const px = PX, n = 8;
  const load = src => new Promise(ok => { const i = new Image(); i.onload = () => ok(i); i.onerror = () => ok(null); i.src = src; });
  const blocks = (img, sx, sy, tile) => {
    const c = document.createElement('canvas'); c.width = c.height = px;
    const g = c.getContext('2d');
    g.fillStyle = 'rgb(40,40,40)'; g.fillRect(0, 0, px, px); g.imageSmoothingQuality = 'high';
    if (tile) g.drawImage(img, sx, sy, px, px, 0, 0, px, px);
    else {
      const w0 = img.naturalWidth, h0 = img.naturalHeight;
      const w = w0 >= h0 ? px : Math.max(1, Math.round(w0 * px / h0)), h = w0 >= h0 ? Math.max(1, Math.round(h0 * px / w0)) : px;
      g.drawImage(img, 0, 0, w0, h0, Math.floor((px - w) / 2), Math.floor((px - h) / 2), w, h);
    }
    const d = g.getImageData(0, 0, px, px).data, out = new Array(n * n * 3).fill(0);
    for (let y = 0; y < px; y++) for (let x = 0; x < px; x++) {
      const b = (Math.floor(y * n / px) * n + Math.floor(x * n / px)) * 3, p = (y * px + x) * 4;
      out[b] += d[p]; out[b + 1] += d[p + 1]; out[b + 2] += d[p + 2];
    }
    return out.map(v => v / ((px / n) * (px / n)));
  };
  const res = [];
  const cells = [...document.querySelectorAll('figure.cell')].filter(f => f.querySelector('img.thumb'));
  for (const f of cells.slice(0, LIMIT)) {
    const im = f.querySelector('img.thumb');
    const [ox, oy] = im.style.objectPosition.split(' ').map(v => -parseFloat(v));
    const sheet = await load(im.src);
    const path = f.getAttribute('title'), caption = f.querySelector('figcaption').innerText;
    const broken = /missing|readable|no image path/.test(caption);
    const orig = path && !broken ? await load('file://' + path) : null;
    res.push({row: f.closest('li').id, caption, path, tile: blocks(sheet, ox, oy, true),
              orig: orig ? blocks(orig, 0, 0, false) : null});
  }
  return JSON.stringify(res);
})()"""


def check_page(b, url, shot, expect_charts=(), min_images=0, height=900):
    s, problems, seconds = b.open(url, height)
    assert not problems, f'{url}: {problems}'
    dom = json.loads(b.evaluate(s, DOM))
    ids = [c['id'] for c in dom['charts']]
    assert sorted(ids) == sorted(expect_charts), f'{url}: charts {ids}, expected {sorted(expect_charts)}'
    for c in dom['charts']:
        assert c['title'] and c['width'] > 300 and c['height'] > 150, f'{url}: chart {c}'
    assert len(dom['images']) >= min_images, f'{url}: {len(dom["images"])} images'
    folder = os.path.dirname(url[len('file://'):])
    for im in dom['images']:
        w, h = jpeg_size(os.path.join(folder, im['src']))
        assert im['complete'] and (im['nw'], im['nh']) == (w, h), f'{url}: image not loaded as {w}x{h}: {im}'
    if shot:
        b.screenshot(s, shot)
    return s, dom, seconds


def check_tiles(b, s, px, limit):
    cells = json.loads(b.evaluate(s, TILES.replace('PX', str(px)).replace('LIMIT', str(limit))))
    own, other, grey = [], [], 0
    pics = [c for c in cells if c['orig'] is not None]
    for c in cells:
        t = np.array(c['tile'])
        if c['orig'] is None:  # a broken file: the grey placeholder (150 with darker diagonals)
            rgb = t.reshape(-1, 3)
            assert 120 < rgb.mean() < 160 and np.abs(rgb[:, 0] - rgb[:, 2]).max() < 8, f'not a placeholder: {c["caption"]}'
            grey += 1
            continue
        own.append(np.abs(t - np.array(c['orig'])).mean())
        far = [p for p in pics if p['row'] != c['row']]
        if far:
            other.append(min(np.abs(t - np.array(p['orig'])).mean() for p in far[:20]))
    assert own and max(own) < 10, f'a tile differs from its file by {max(own):.1f} levels on average'
    assert np.median(other) > 3 * np.median(own), f'tiles match other rows as well ({np.median(other):.1f} vs {np.median(own):.1f})'
    print(f'{len(own)} tiles match their files (mean block difference {np.mean(own):.2f}, max {max(own):.2f}; '
          f'nearest other row {np.median(other):.1f}); {grey} placeholders')
    return grey


d = workdir('report-browser')
screens = os.path.join(os.getcwd(), 'screens')
os.makedirs(screens, exist_ok=True)
b = Browser(os.path.join(d, 'profile'), os.path.join(d, 'chromium.log'))
try:
    # The checker catches what it must.
    bad = os.path.join(d, 'bad.html')
    with open(bad, 'w') as f:
        f.write('<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>'
                '<img src="nothere.jpg"><script>console.error("boom"); throw new Error("uncaught")</script></body></html>')
    _, problems, _ = b.open('file://' + bad)
    kinds = {p.split(':')[0] for p in problems}
    assert {'console.error', 'uncaught'} <= kinds and any('nothere.jpg' in p or 'ERR_FILE_NOT_FOUND' in p for p in problems), problems
    ok('the checker reports a missing image, console.error and an exception')

    # Pictures -> embeddings -> dedup -> report.
    imgs = os.path.join(d, 'imgs')
    subprocess.run([GEN_IMAGES, '-o', imgs, '--scenes', '24', '--hours', '3', '--size', '200', '--seed', '3'],
                   check=True, capture_output=True)
    paths = sorted(glob.glob(os.path.join(imgs, 'img-*.jpg')))
    with open(os.path.join(d, 'all.list'), 'w') as f:
        f.write(''.join(p + '\n' for p in paths))
    emb = os.path.join(d, 'emb.h5')
    run(2, 'embed', '--images', '@' + os.path.join(d, 'all.list'), '-o', emb, '-q')
    dedup = os.path.join(d, 'dedup.h5')
    run(2, 'dedup', '-i', emb, '--clusters', 8, '--reclusterings', 2, '--threshold', '0.97,0.95', '--recall-sample', 200,
        '-o', dedup, '-q')
    with h5py.File(dedup, 'r') as f:
        ids, rep = f['ids'][...], f['representative'][...]
    reps, counts = np.unique(rep[rep != ids], return_counts=True)
    top = int(reps[np.lexsort((reps, -counts))[0]])
    members = np.sort(ids[(rep == top) & (ids != top)])[:3].tolist()
    corrupt = os.path.join(d, 'corrupt.jpg')
    with open(paths[0], 'rb') as src, open(corrupt, 'wb') as dst:
        dst.write(src.read()[:200] + b'\x00' * 50)  # the header of a real JPEG, then nothing usable
    with h5py.File(emb, 'r') as f:
        e_ids, e_paths = f['ids'][...], [p.decode() for p in f['paths'][...]]
    where = {int(i): k for k, i in enumerate(e_ids)}
    e_paths[where[members[1]]] = os.path.join(d, 'gone.jpg')
    e_paths[where[members[2]]] = corrupt
    broken_paths = os.path.join(d, 'paths.h5')
    with h5py.File(broken_paths, 'w') as f:
        f['ids'] = e_ids
        f.create_dataset('paths', data=e_paths, dtype=h5py.string_dtype('utf-8'))
    rep_dedup = os.path.join(d, 'rep-dedup')
    run(1, 'report', dedup, '-o', rep_dedup, '--images', broken_paths, '-q')

    s, dom, sec = check_page(b, f'file://{rep_dedup}/index.html', os.path.join(screens, 'dedup-index.png'),
                             ('chart-similarity', 'chart-group-sizes', 'chart-cluster-sizes', 'chart-recall'), 10,
                             height=1400)
    assert dom['sections'][:4] == ['summary', 'charts', 'groups', 'pairs'], dom['sections']
    print(f'dedup index: loaded in {sec:.2f} s, {len(dom["images"])} thumbnails')
    s, dom, sec = check_page(b, f'file://{rep_dedup}/groups-1.html', os.path.join(screens, 'dedup-groups-1.png'),
                             (), 50)
    assert any('file missing' in c for c in dom['captions']) and any('not a readable JPEG' in c for c in dom['captions'])
    assert check_tiles(b, s, 128, 60) == 2
    for page in sorted(glob.glob(os.path.join(rep_dedup, '*-*.html'))):
        check_page(b, 'file://' + page, None)
    ok('dedup report in chromium')

    # Training pictures and generated ones (copies among them) -> audit -> report.
    imgs2 = os.path.join(d, 'imgs2')
    subprocess.run([GEN_IMAGES, '-o', imgs2, '--scenes', '12', '--hours', '1', '--size', '200', '--seed', '9'],
                   check=True, capture_output=True)
    others = sorted(glob.glob(os.path.join(imgs2, 'img-*.jpg')))
    lists = {'train': [p for k, p in enumerate(paths) if k % 8 < 4],
             'gen': [p for k, p in enumerate(paths) if k % 8 >= 6][:60] + others[1::8],
             'hold': others[0::8] + others[2::8]}
    embs = {}
    for name, lst in lists.items():
        with open(os.path.join(d, name + '.list'), 'w') as f:
            f.write(''.join(p + '\n' for p in lst))
        embs[name] = os.path.join(d, name + '.h5')
        run(2, 'embed', '--images', '@' + os.path.join(d, name + '.list'), '-o', embs[name], '-q')
    audit = os.path.join(d, 'audit.h5')
    run(2, 'audit', '--train', embs['train'], '--generated', embs['gen'], '--holdout', embs['hold'], '--threshold', 0.97,
        '-o', audit, '-q')
    rep_audit = os.path.join(d, 'rep-audit')
    run(2, 'report', audit, '-o', rep_audit, '--images', embs['train'], '--generated-images', embs['gen'], '-q')
    s, dom, sec = check_page(b, f'file://{rep_audit}/index.html', os.path.join(screens, 'audit-index.png'),
                             ('chart-nearest', 'chart-flagged-by-threshold'), 10, height=1400)
    assert dom['sections'][:4] == ['summary', 'charts', 'flagged', 'closest'], dom['sections']
    s, dom, sec = check_page(b, f'file://{rep_audit}/flagged-1.html', os.path.join(screens, 'audit-flagged-1.png'),
                             (), 20)
    check_tiles(b, s, 128, 66)
    for page in sorted(glob.glob(os.path.join(rep_audit, '*-*.html'))):
        check_page(b, 'file://' + page, None)
    ok('audit report in chromium')

    # 100,000 flagged samples: pages stay small and quick.
    m, k = 110000, 10
    rng = np.random.default_rng(5)
    s0 = np.where(np.arange(m) < 100000, rng.uniform(0.95, 1, m), rng.uniform(0.3, 0.9, m)).astype(np.float32)
    big = os.path.join(d, 'audit-100k.h5')
    with h5py.File(big, 'w') as f:
        f['ids'] = np.arange(m, dtype=np.int64)
        f['neighbors'] = rng.integers(0, 10 ** 6, (m, k)).astype(np.int64)
        f['similarity'] = np.repeat(s0[:, None], k, axis=1) - np.arange(k, dtype=np.float32) * 0.01
        f['flagged'] = (s0 >= np.float32(0.95)).astype(np.uint8)
        f['holdout/similarity'] = rng.uniform(0.2, 0.9, 3000).astype(np.float32)
        f.attrs['threshold'] = 0.95
    rep_big = os.path.join(d, 'rep-100k')
    run(1, 'report', big, '-o', rep_big, '-q')
    s, dom, sec = check_page(b, f'file://{rep_big}/index.html', None, ('chart-nearest', 'chart-flagged-by-threshold'))
    print(f'100,000 flagged: index loaded in {sec:.2f} s')
    s, dom, sec = check_page(b, f'file://{rep_big}/flagged-20.html', os.path.join(screens, 'audit-100k-flagged-20.png'))
    assert dom['strips'] == 50, dom['strips']
    print(f'100,000 flagged: page 20 of 20 loaded in {sec:.2f} s')
    ok('100,000 flagged samples in chromium')
finally:
    b.close()
