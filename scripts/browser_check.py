"""Drive the service's web page in headless Chromium against a running service on this machine's loopback.

    python scripts/browser_check.py check URL IMAGE IMAGE [--shot SCREENSHOT.png]
    python scripts/browser_check.py xss URL NAME IMAGE
    python scripts/browser_check.py readme SCREENSHOT.png

`check` is the page test: several files through the file input (one of them a corrupt PNG that must fail alone),
several files through a real drop event (a `DataTransfer` holding `File`s, dispatched as dragenter/dragover/drop on
the drop zone), the model and version each card names (from `GET /models` where the service has it, else the name
from `GET /model`, and then a version chosen in the selector), the history after a reload, two history entries
compared side by side, the history's bound, its clear button and what happens when the browser's storage is full.
`xss` uploads IMAGE twice under the file name NAME (e.g. `<img src=x onerror=...>.png`), reloads, compares the two
entries and reports whether any script ran or any element was made from the names. `readme` starts the service
with the shipped model (`create_app()`), shows a few of the shipped sample's test images and the history, and
writes the README's screenshot.

Prints one JSON line (for `check`, `failures` lists what went wrong). Exit codes: 0 done, 1 the page failed, 2 bad
arguments (a URL that is not loopback), 3 skipped because Playwright or a Chromium binary is missing (the message
says which; `.ci/run` installs both). Every wait is bounded; requests to anything but loopback are aborted.
"""
import argparse, base64, ipaddress, json, os, shutil, sys, time, urllib.error, urllib.request
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
WAIT_MS = 60000                     # the longest any one wait in the page may take
CORRUPT = b'\x89PNG\r\n\x1a\n' + b'this is not the rest of a PNG file' * 4      # a PNG signature, then garbage

def find_chromium():
    for c in (os.environ.get('CHROMIUM'), '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'):
        if c and os.path.exists(c): return c
    return shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')

def is_loopback(url):
    "Whether `url` is a data:/blob: URL or names this machine's loopback interface."
    u = urlsplit(url)
    if u.scheme in ('data', 'blob', 'about'): return True
    if u.hostname == 'localhost': return True
    try: return ipaddress.ip_address(u.hostname or '').is_loopback
    except ValueError: return False

def get_json(url, path):
    "The status and JSON body of `GET url/path` (urllib, loopback only), `(status, None)` when the body is not JSON."
    try:
        with urllib.request.urlopen(url.rstrip('/') + '/' + path, timeout=30) as r: status, body = r.status, r.read()
    except urllib.error.HTTPError as e: status, body = e.code, e.read()
    try: return status, json.loads(body)
    except ValueError: return status, None

# ---- the page, as the tests read it
CARDS_JS = """() => [...document.querySelectorAll('#results .result')].map(c => ({name: c.dataset.name, state: c.dataset.state,
    top1: c.querySelector('.top1').textContent, bars: [...c.querySelectorAll('.bar')].map(b => b.dataset.label),
    overlay: c.querySelector('img.overlay').naturalWidth, preview: c.querySelector('img.preview').naturalWidth,
    who: c.querySelector('.who').textContent, model: c.dataset.model || null, version: c.dataset.version || null,
    error: c.querySelector('.error').textContent}))"""
HISTORY_JS = """() => [...document.querySelectorAll('#history li')].map(li => ({name: li.title, text: li.querySelector('.text').textContent,
    top1: li.querySelector('b').textContent, who: li.querySelector('.who').textContent, picked: li.querySelector('input').checked,
    images: [...li.querySelectorAll('img')].map(i => i.naturalWidth)}))"""
COMPARE_JS = """() => ({shown: !document.getElementById('compare').hidden, verdict: document.getElementById('verdict').textContent,
    sides: [...document.querySelectorAll('#pair .side')].map(s => ({name: s.querySelector('.name').textContent,
      top1: s.querySelector('.top1').textContent, bars: [...s.querySelectorAll('.bar')].map(b => b.dataset.label),
      overlay: s.querySelector('img.overlay').naturalWidth, who: s.querySelector('.who').textContent}))})"""
STORED_JS = """() => { const d = JSON.parse(localStorage.getItem('cifar_cnn.history') || '{"entries": []}');
    return {entries: d.entries.length, names: d.entries.map(e => e.name), chars: (localStorage.getItem('cifar_cnn.history') || '').length,
            overlays: [...new Set(d.entries.map(e => e.overlay.slice(0, 15)))]}; }"""
DROP_JS = """([files]) => {
    const dt = new DataTransfer();
    for (const [name, b64] of files) dt.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], name, {type: 'image/png'}));
    const zone = document.getElementById('drop');
    const fire = t => { const e = new DragEvent(t, {dataTransfer: dt, bubbles: true, cancelable: true}); zone.dispatchEvent(e); return e.defaultPrevented; };
    const enter = fire('dragenter'), over = fire('dragover'), highlighted = zone.classList.contains('over'), dropped = fire('drop');
    return {enter, over, highlighted, dropped, still_highlighted: zone.classList.contains('over'), files: dt.files.length}; }"""
SETTLED_JS = """([n, h]) => { const cs = [...document.querySelectorAll('#results .result')];
    return cs.length >= n && cs.every(c => c.dataset.state !== 'pending') && document.querySelectorAll('#history li').length >= h
      && [...document.querySelectorAll('img')].every(i => i.complete); }"""
FILL_STORAGE_JS = """([room]) => {   // fill localStorage so that a history of only `room` characters fits (the page still holds its own)
    localStorage.removeItem('cifar_cnn.history'); localStorage.removeItem('filler'); let lo = 0, hi = 1 << 20;
    for (; hi < 1 << 28; hi *= 2) try { localStorage.setItem('filler', 'x'.repeat(hi)); lo = hi; } catch (e) { break; }
    while (hi - lo > 1024) { const mid = (lo + hi) >> 1;
      try { localStorage.setItem('filler', 'x'.repeat(mid)); lo = mid; } catch (e) { hi = mid; } }
    localStorage.setItem('filler', 'x'.repeat(Math.max(0, lo - room))); return Math.max(0, lo - room); }"""

def open_page(p, url, exe, **ctx):
    "A new page on `url` in a fresh browser context whose requests to anything but loopback are aborted."
    b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
    c = b.new_context(**ctx)
    c.route('**/*', lambda route: route.continue_() if is_loopback(route.request.url) else route.abort())
    page = c.new_page(); page.set_default_timeout(WAIT_MS)
    errors = []; page.on('pageerror', lambda e: errors.append(str(e)))            # uncaught exceptions, and what the CSP refused:
    page.on('console', lambda m: errors.append(m.text) if m.type == 'error' and 'Content Security Policy' in m.text else None)
    page.goto(url); wait_meta(page)
    return b, page, errors

def wait_js(page, js, arg=None, timeout=WAIT_MS / 1000):
    "Poll the JavaScript function `js` (from here: the page's CSP forbids the eval that `wait_for_function` polls with) until it is truthy."
    t0 = time.time()
    while not (v := page.evaluate(js, arg)):
        if time.time() - t0 > timeout: raise TimeoutError(f'waited {timeout:g} s for {js[:120]!r}')
        time.sleep(0.05)
    return v

def wait_meta(page): wait_js(page, "() => document.getElementById('meta').textContent.startsWith('model ')")

def settle(page, cards, history):
    "Wait until at least `cards` result cards have their answer and the history has `history` entries, all images loaded."
    wait_js(page, SETTLED_JS, [cards, history])
    return {c['name']: c for c in page.evaluate(CARDS_JS)}

def png_file(name, data): return dict(name=name, mimeType='image/png', buffer=data)

# ---- check: the page test
class Check:
    "The steps of `check`; each records what the page showed in `seen` and what went wrong in `failures`."
    def __init__(self, page, url, images):
        self.page, self.url, self.images, self.seen, self.failures, self.posts = page, url, images, {}, [], []
        page.on('request', lambda r: self.posts.append(r.url) if r.method == 'POST' else None)

    def expect(self, ok, what):
        if not ok: self.failures.append(what)

    def good(self, card, name):
        "A card that has an answer: a top class, its bars, a loaded overlay and preview, and who answered."
        self.expect(card is not None and card['state'] == 'done', f'{name}: no answer ({card})')
        if card and card['state'] == 'done':
            self.expect(card['bars'] and card['top1'].startswith(card['bars'][0] + ' — '), f'{name}: top class and bars disagree ({card})')
            self.expect(card['overlay'] > 0 and card['preview'] > 0, f'{name}: the overlay or the preview did not load ({card})')
            self.expect(card['who'].startswith('answered by ') and not card['error'], f'{name}: who answered is not shown ({card})')

    def served(self):
        "(e) what the cards must name: the default model and version from GET /models, else GET /model's name."
        status, models = get_json(self.url, 'models')
        _, info = get_json(self.url, 'model')
        self.has_models = status == 200 and bool(models and models.get('models'))
        self.seen['models_route'] = status
        if self.has_models:
            m = next(m for m in models['models'] if m['name'] == models['default_model'])
            self.want = (m['name'], None if m.get('default_version') is None else str(m['default_version']))
            self.models = models
        else: self.want = (None, None)
        self.info_name = info['name']
        self.expect(self.page.is_hidden('#chooser') != self.has_models, f"the selector is {'hidden' if self.page.is_hidden('#chooser') else 'shown'} with /models answering {status}")

    def names_model(self, card, name):
        if self.has_models:
            self.expect((card.get('model'), card.get('version')) == self.want, f"{name}: answered by {card.get('model')} v{card.get('version')}, expected {self.want}")
        else: self.expect(card['who'] == 'answered by ' + self.info_name, f"{name}: {card['who']!r} does not name {self.info_name!r}")

    def upload(self):
        "(a), (f): three files through the input at once, the middle one corrupt: it fails alone, with the service's error."
        t0 = time.time()
        self.page.set_input_files('#file', [png_file('first.png', self.images[0]), png_file('broken.png', CORRUPT), png_file('second.png', self.images[1])])
        cards = settle(self.page, 3, 2)
        for n in ('first.png', 'second.png'): self.good(cards.get(n), n); self.names_model(cards.get(n) or {}, n)
        bad = cards.get('broken.png') or {}
        self.expect(bad.get('state') == 'error' and 'broken.png' in bad.get('error', '') and not bad.get('bars'), f'the corrupt file did not fail alone: {bad}')
        self.seen['upload'] = dict(cards=cards, seconds=round(time.time() - t0, 2))

    def drop(self):
        "(b): a real drop event carrying two files on the drop zone."
        files = [[f'dropped-{i}.png', base64.b64encode(im).decode()] for i, im in enumerate(self.images[:2], 1)]
        ev = self.page.evaluate(DROP_JS, [files])
        self.expect(ev['files'] == 2 and ev['enter'] and ev['over'] and ev['dropped'] and ev['highlighted'] and not ev['still_highlighted'],
                    f'the drop zone did not take the drop: {ev}')
        cards = settle(self.page, 5, 4)
        for n in ('dropped-1.png', 'dropped-2.png'): self.good(cards.get(n), n); self.names_model(cards.get(n) or {}, n)
        self.expect(cards.get('dropped-1.png', {}).get('top1') == cards.get('first.png', {}).get('top1'), 'the same image dropped and uploaded got different answers')
        self.seen['drop'] = dict(event=ev, top1=[cards.get(n, {}).get('top1') for n in ('dropped-1.png', 'dropped-2.png')])

    def choose(self):
        "(e): where the service has /models, pick a model and version in the selector: the request and the card name them."
        if not self.has_models: self.seen['chooser'] = 'hidden (the service has no GET /models)'; return
        ms, default = self.models['models'], self.models['default_model']
        pick = [(m, x['version']) for m in ms for x in m['versions'] if x['state'] == 'AVAILABLE']       # rather another model and version
        m, v = sorted(pick, key=lambda c: (c[0]['name'] == default, c[1] == c[0].get('default_version')))[0]
        self.page.select_option('#model', m['name'])
        opts = self.page.evaluate("() => [...document.querySelectorAll('#version option')].map(o => [o.value, o.disabled])")
        self.expect(opts[1:] == [[str(x['version']), x['state'] != 'AVAILABLE'] for x in m['versions']], f"{m['name']}'s versions offered as {opts}, served {m['versions']}")
        self.page.select_option('#version', str(v))
        n0 = len(self.posts)
        self.page.set_input_files('#file', [png_file('chosen.png', self.images[0])])
        card = settle(self.page, 6, 5).get('chosen.png')
        self.good(card, 'chosen.png')
        q = urlsplit(self.posts[n0]).query if len(self.posts) > n0 else ''
        self.expect(f"version={v}" in q and 'model=' in q, f'the request did not name the chosen model and version: {q!r}')
        self.expect(card and (card['model'], card['version']) == (m['name'], str(v)), f"chosen.png: answered by {card and (card['model'], card['version'])}, chose {m['name']} v{v}")
        self.seen['chooser'] = dict(model=m['name'], version=v, versions=opts, query=q, who=card and card['who'])

    def reload(self):
        "(c): after a reload the history is the same, with its images, and stored small."
        before = self.page.evaluate(HISTORY_JS)
        self.page.reload(); wait_meta(self.page)
        wait_js(self.page, "n => document.querySelectorAll('#history li').length >= n && [...document.querySelectorAll('#history img')].every(i => i.complete)", len(before))
        after, stored = self.page.evaluate(HISTORY_JS), self.page.evaluate(STORED_JS)
        self.expect([h['name'] for h in after] == [h['name'] for h in before] and [h['top1'] for h in after] == [h['top1'] for h in before],
                    f'the history changed on reload: {before} -> {after}')
        self.expect(all(all(w > 0 for w in h['images']) for h in after), f'history images did not load after the reload: {after}')
        self.expect('broken.png' not in [h['name'] for h in after], 'the corrupt file is in the history')
        self.expect(stored['overlays'] == ['data:image/jpeg'] and stored['chars'] < 30000 * max(1, stored['entries']), f'stored history is not small JPEGs: {stored}')
        self.seen['reload'] = dict(history=[h['name'] for h in after], stored_chars=stored['chars'])
        return after

    def compare(self, history, shot):
        "(d): tick two entries: the comparison shows both top classes, both overlays and who answered each."
        for n in ('second.png', 'first.png'): self.page.click(f'#history li[title="{n}"] input')
        wait_js(self.page, "() => document.querySelectorAll('#pair .side img.overlay').length == 2 && [...document.querySelectorAll('#pair img')].every(i => i.complete)")
        cmp = self.page.evaluate(COMPARE_JS)
        top = {h['name']: h['top1'] for h in history}
        self.expect(cmp['shown'] and [s['name'] for s in cmp['sides']] == ['second.png', 'first.png'], f'the comparison does not show the two entries: {cmp}')
        for s in cmp['sides']:
            self.expect(s['top1'].startswith(top.get(s['name'], '?') + ' — ') and s['bars'] and s['overlay'] > 0 and s['who'].startswith('answered by '), f'comparison side incomplete: {s}')
        if shot: self.page.screenshot(path=shot)
        self.page.click('#history li[title="dropped-1.png"] input')         # a third tick replaces the first
        third = self.page.evaluate(COMPARE_JS)
        self.expect([s['name'] for s in third['sides']] == ['first.png', 'dropped-1.png'], f'a third tick did not replace the first: {third}')
        self.page.click('#uncompare')
        self.expect(self.page.is_hidden('#compare'), 'closing the comparison did not hide it')
        self.seen['compare'] = cmp

    def bound(self):
        "The history keeps the newest 20, across a reload."
        before = [h['name'] for h in self.page.evaluate(HISTORY_JS)]
        extra = [png_file(f'extra-{i:02d}.png', self.images[i % 2]) for i in range(21 - len(before))]
        self.page.set_input_files('#file', extra)
        settle(self.page, len(extra), 20)
        wait_js(self.page, "() => document.querySelectorAll('#history li').length == 20 && JSON.parse(localStorage.getItem('cifar_cnn.history')).entries.length == 20")
        self.page.reload(); wait_meta(self.page)
        names = [h['name'] for h in self.page.evaluate(HISTORY_JS)]
        self.expect(len(names) == 20 and before[-1] not in names and names[-1] == before[-2] and set(f['name'] for f in extra) <= set(names),
                    f'the history is not the newest 20: {before} + {len(extra)} -> {names}')
        self.seen['bound'] = len(names)

    def full(self):
        "When the browser's storage is full, the oldest entries are dropped and the newest kept; then clear empties it."
        stored = self.page.evaluate(STORED_JS)
        self.page.evaluate(FILL_STORAGE_JS, [stored['chars'] // 4])       # room for about a quarter of the history
        self.page.set_input_files('#file', [png_file('when-full.png', self.images[0])])
        wait_js(self.page, "() => document.getElementById('error').textContent.includes('storage is full')")
        kept, shown = self.page.evaluate(STORED_JS), self.page.evaluate(HISTORY_JS)
        self.expect(0 < kept['entries'] < 20 and kept['names'][0] == 'when-full.png' and kept['entries'] == len(shown),
                    f'a full storage did not keep the newest entries: stored {kept}, shown {len(shown)}')
        self.page.evaluate("localStorage.removeItem('filler')"); self.page.click('#clear')
        self.page.reload(); wait_meta(self.page)
        left = self.page.evaluate(HISTORY_JS)
        self.expect(not left and self.page.evaluate("localStorage.getItem('cifar_cnn.history')") is None, f'clear left {len(left)} entries')
        self.seen['full'] = dict(kept=kept['entries'], cleared=not left)

def check(url, images, shot=None):
    "The page test; returns `(seen, failures)`."
    from playwright.sync_api import sync_playwright
    t0 = time.time()
    with sync_playwright() as p:
        b, page, errors = open_page(p, url, find_chromium(), viewport={'width': 1000, 'height': 760})
        try:
            c = Check(page, url, images)
            c.served(); c.upload(); c.drop(); c.choose()
            history = c.reload(); c.compare(history, shot); c.bound(); c.full()
        except Exception as e: c.failures.append(f'{type(e).__name__}: {str(e).splitlines()[0]}')
        finally: b.close()
    c.expect(not errors, f'script errors in the page: {errors}')
    return dict(c.seen, seconds=round(time.time() - t0, 1)), c.failures

def xss(url, name, image):
    "Upload `image` twice as `name`, reload, compare the two entries; report what ran and what the names became."
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b, page, errors = open_page(p, url, find_chromium())
        try:
            page.set_input_files('#file', [png_file(name, image), png_file(name, image)])
            settle(page, 2, 2); page.wait_for_load_state('networkidle')
            card = page.evaluate(CARDS_JS)[0]
            bars = page.evaluate("[...document.querySelector('#results .result').querySelectorAll('.bar .label')].map(e => e.textContent)")
            made = lambda: page.evaluate("document.querySelectorAll('#results .info img, #history li .text img, #pair .info img, #meta img, #chooser img').length")
            ran = lambda: page.evaluate("window.__xss === undefined ? null : window.__xss")
            images, before = made(), ran()
            page.reload(); wait_meta(page); page.wait_for_selector('#history li')
            for i in (1, 2): page.click(f'#history li:nth-child({i}) input')     # the list is redrawn after each tick
            page.wait_for_selector('#pair .side'); page.wait_for_load_state('networkidle')
            seen = dict(xss=before if before is not None else ran(), images=images + made(), history=page.query_selector('#history li').text_content(),
                        top1=card['top1'], bars=bars, compare=[s['top1'] for s in page.evaluate(COMPARE_JS)['sides']], errors=errors)
        finally: b.close()
    return seen

def readme(shot):
    "The README's screenshot: the shipped model, five of the shipped sample's test images, and the history."
    import numpy as np, cv2
    from cifar_cnn.app import create_app, start_server, ServeConfig
    from cifar_cnn.data import load_sample
    from playwright.sync_api import sync_playwright
    s = load_sample()
    pick = [int(np.flatnonzero(s.y_test == s.classes.index(c))[0]) for c in ('cat', 'ship', 'frog', 'horse', 'truck')]
    png = lambda i: cv2.imencode('.png', s.x_test[i][..., ::-1])[1].tobytes()
    app = create_app(config=ServeConfig(model='pretrained')); server, url = start_server(app); app.state.serving.loader.join()
    try:
        with sync_playwright() as p:
            b, page, _ = open_page(p, url, find_chromium(), viewport={'width': 880, 'height': 600})
            page.set_input_files('#file', [png_file(f'{s.classes[s.y_test[i]]}.png', png(i)) for i in pick[3:]]); settle(page, 2, 2)
            page.reload(); wait_meta(page)                # the first two stay in the history only
            page.set_input_files('#file', [png_file(f'{s.classes[s.y_test[i]]}.png', png(i)) for i in pick[:3]]); settle(page, 3, 5)
            page.screenshot(path=shot, full_page=True); b.close()
    finally: server.should_exit = True
    return dict(shot=str(shot), bytes=Path(shot).stat().st_size, url_host=urlsplit(url).hostname)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('check'); c.add_argument('url'); c.add_argument('images', nargs=2); c.add_argument('--shot')
    x = sub.add_parser('xss'); x.add_argument('url'); x.add_argument('name'); x.add_argument('image')
    r = sub.add_parser('readme'); r.add_argument('shot')
    a = ap.parse_args(argv)
    if getattr(a, 'url', None) and not is_loopback(a.url): print(f'{a.url} is not on this machine\'s loopback: the page test only drives a local service.'); return 2
    try: import playwright.sync_api          # noqa: F401
    except ImportError:
        print("Playwright is not installed (pip install playwright): the browser test of the web page was not run."); return 3
    if not find_chromium():
        print("No Chromium found (apt-get install chromium, or set $CHROMIUM): the browser test of the web page was not run."); return 3
    if a.cmd == 'check':
        seen, failures = check(a.url, [Path(i).read_bytes() for i in a.images], a.shot)
        print(json.dumps(dict(seen, failures=failures))); return 1 if failures else 0
    if a.cmd == 'xss': print(json.dumps(xss(a.url, a.name, Path(a.image).read_bytes()))); return 0
    print(json.dumps(readme(a.shot))); return 0

if __name__ == '__main__':
    sys.exit(main())
