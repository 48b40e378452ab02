"""Drive the service's web page in headless Chromium: upload an image, wait for the answer, report what the page shows.

    python scripts/browser_check.py URL IMAGE SCREENSHOT.png

Prints one JSON line: the top-1 label shown, the number of confidence bars, whether the Grad-CAM overlay image
loaded, the history length and any error text. Exit codes: 0 done, 1 the page failed, 3 skipped because Playwright
or a Chromium binary is missing (the message says which; `.ci/run` installs both).
"""
import json, os, shutil, sys

CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

def find_chromium():
    for c in (os.environ.get('CHROMIUM'), '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'):
        if c and os.path.exists(c): return c
    return shutil.which('chromium') or shutil.which('chromium-browser') or shutil.which('google-chrome')

def main(url, image, screenshot):
    try: from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is not installed (pip install playwright): the browser test of the web page was not run."); return 3
    exe = find_chromium()
    if not exe:
        print("No Chromium found (apt-get install chromium, or set $CHROMIUM): the browser test of the web page was not run."); return 3
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = b.new_page(viewport={'width': 1100, 'height': 640})
        page.goto(url)
        page.wait_for_function("document.getElementById('meta').textContent.startsWith('model ')", timeout=30000)
        page.set_input_files('#file', image)
        page.wait_for_selector('#history li', timeout=60000)
        page.wait_for_function("document.getElementById('overlay').complete && document.getElementById('overlay').naturalWidth > 0", timeout=30000)
        seen = page.evaluate("""() => ({
            top1: document.getElementById('top1').textContent,
            top1_label: document.getElementById('top1').textContent.split(' — ')[0],
            bars: document.querySelectorAll('#bars .bar').length,
            bar_labels: [...document.querySelectorAll('#bars .bar')].map(b => b.dataset.label),
            overlay_loaded: document.getElementById('overlay').naturalWidth > 0,
            preview_loaded: document.getElementById('preview').naturalWidth > 0,
            history: document.querySelectorAll('#history li').length,
            error: document.getElementById('error').textContent,
            meta: document.getElementById('meta').textContent})""")
        page.screenshot(path=screenshot)
        b.close()
    print(json.dumps(seen))
    return 0 if seen['overlay_loaded'] and seen['bars'] and not seen['error'] else 1

if __name__ == '__main__':
    if len(sys.argv) != 4: sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
