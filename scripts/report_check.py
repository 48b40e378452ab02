"""Open a pipeline run's report.html in headless Chromium, check that every image loaded, and take a screenshot.

    python scripts/report_check.py RUN_DIR/report.html SCREENSHOT.png

Prints one JSON line (images on the page, how many failed to load, links, title). Exit codes: 0 all images loaded,
1 some did not, 3 skipped because Playwright or a Chromium binary is missing (the message says which).
"""
import json, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from browser_check import find_chromium, CHROMIUM_ARGS

def main(report, screenshot):
    try: from playwright.sync_api import sync_playwright
    except ImportError: print("Playwright is not installed (pip install playwright): the report was not opened in a browser."); return 3
    exe = find_chromium()
    if not exe: print("No Chromium found (apt-get install chromium, or set $CHROMIUM): the report was not opened in a browser."); return 3
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS + ['--allow-file-access-from-files'])
        page = b.new_page(viewport={'width': 1100, 'height': 900})
        page.goto(Path(report).resolve().as_uri())
        page.wait_for_load_state('load')
        seen = page.evaluate("""() => ({title: document.title, images: document.images.length,
            broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).length,
            links: document.querySelectorAll('a').length})""")
        page.screenshot(path=screenshot, full_page=False)
        b.close()
    print(json.dumps(seen))
    return 0 if seen['images'] and not seen['broken'] else 1

if __name__ == '__main__':
    if len(sys.argv) != 3: sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
