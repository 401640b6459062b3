"""Reading a `memaudit report` folder back in tests: the strips, cells and charts of a page (stdlib HTML
parser), the size of a JPEG (its SOF marker), and the checks every report folder must pass (self-contained:
no scripts, nothing fetched from elsewhere, every local file it names exists)."""
import os
import re
import struct
from html.parser import HTMLParser


class Page(HTMLParser):
    """Collects charts (svg id -> {title, series, markers}), strips (li.strip: id, head text, cells),
    every src/href, and whether a <script>, <link> or <iframe> appears."""

    def __init__(self, path):
        super().__init__(convert_charrefs=True)
        self.charts, self.strips, self.refs, self.sections = {}, [], [], []
        self.forbidden, self.text = [], []
        self._svg = self._strip = self._cell = None
        self._in = []
        with open(path, encoding='utf-8') as f:
            self.html = f.read()
        self.feed(self.html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get('class', '').split()
        self._in.append(tag)
        if tag in ('script', 'link', 'iframe', 'object', 'embed', 'base'):
            self.forbidden.append(tag)
        for key in ('src', 'href'):
            if key in a:
                self.refs.append(a[key])
        if tag == 'section' and 'id' in a:
            self.sections.append(a['id'])
        if tag == 'svg':
            self._svg = {'id': a.get('id'), 'title': '', 'series': [], 'markers': 0, 'rects': 0, 'label': a.get('aria-labelledby')}
            self.charts[a.get('id')] = self._svg
        elif self._svg is not None:
            if tag == 'g' and 'series' in cls:
                self._svg['series'].append({'kind': cls[1], 'name': a.get('aria-label'), 'shapes': 0, 'tips': []})
            elif tag == 'g' and 'marker' in cls:
                self._svg['markers'] += 1
            elif tag in ('rect', 'path', 'polyline', 'circle') and self._svg['series'] and 'g' in self._in[:-1]:
                self._svg['series'][-1]['shapes'] += 1
        if tag == 'li' and 'strip' in cls:
            self._strip = {'id': a.get('id'), 'head': '', 'cells': [], 'more': ''}
            self.strips.append(self._strip)
        elif self._strip is not None and tag == 'figure':
            self._cell = {'classes': cls, 'title': a.get('title'), 'img': None, 'caption': ''}
            self._strip['cells'].append(self._cell)
        elif self._cell is not None and tag == 'img':
            self._cell['img'] = a
        elif tag == 'br' and self._cell is not None:
            self._cell['caption'] += '\n'

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass
        if tag == 'svg':
            self._svg = None
        elif tag == 'li' and self._strip is not None:
            self._strip = None
        elif tag == 'figure':
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        top = self._in[-1] if self._in else ''
        if self._svg is not None and top == 'title':
            if self._svg['series'] and ('rect' in self._in or 'circle' in self._in):
                self._svg['series'][-1]['tips'].append(data)
            elif not self._svg['title']:
                self._svg['title'] = data
        if self._strip is not None:
            if self._cell is not None:
                if 'figcaption' in self._in or top in ('span',):
                    self._cell['caption'] += data
            elif 'div' in self._in and not self._strip['cells'] and top in ('div', 'b'):
                self._strip['head'] += data
            elif top == 'span':
                self._strip['more'] += data

    def plain_text(self):
        return ' '.join(' '.join(self.text).split())


def jpeg_size(path):
    """(width, height) from the first SOF marker."""
    with open(path, 'rb') as f:
        data = f.read()
    assert data[:2] == b'\xff\xd8', f'{path} is not a JPEG'
    i = 2
    while i < len(data):
        assert data[i] == 0xFF, f'{path}: bad marker at {i}'
        marker = data[i + 1]
        seglen = struct.unpack('>H', data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack('>HH', data[i + 5:i + 9])
            return w, h
        i += 2 + seglen
    raise AssertionError(f'{path}: no SOF marker')


def check_folder(folder):
    """Every page is self-contained and names only files of the folder; returns {name: Page}."""
    pages = {}
    for name in sorted(os.listdir(folder)):
        assert re.fullmatch(r'(index|(groups|pairs|against|flagged|closest)-\d+)\.(html|jpg)', name), f'{folder}: stray file {name}'
        if not name.endswith('.html'):
            continue
        p = Page(os.path.join(folder, name))
        assert not p.forbidden, f'{name}: has {p.forbidden}'
        for ref in p.refs:
            assert not re.match(r'[a-z]+:', ref) and not ref.startswith('/'), f'{name}: refers outside the folder: {ref}'
            assert os.path.exists(os.path.join(folder, ref)), f'{name}: {ref} does not exist'
        assert '<meta name="generator" content="memaudit report' in p.html
        pages[name] = p
    assert 'index.html' in pages, f'{folder}: no index.html'
    return pages
