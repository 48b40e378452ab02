"""Check what can be checked of the docs site without Quarto (which cannot be installed on our machines).

    python scripts/check_docs.py [--no-proc]

1. nbdev's processing of the notebooks for the docs (`nbdev.serve.proc_nbs`, what `nbdev_docs` runs before handing
   the result to Quarto) runs without error and produces every page in `_proc/`.
2. Every exported function and class, and every public method a class defines (not a framework hook it overrides),
   has a docstring. Docments coverage (parameters with a `# comment`) is reported.
3. Every internal link in the notebooks' markdown and in README.md points at something that exists: a page of the
   site (`data.html`, ...), a notebook, or a file of the repository.
4. Every notebook is under 2 MB.
Exits 1 when any check fails, saying which and where.
"""
import importlib, inspect, json, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)')

def page_of(nb:Path) -> str: return re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'

def check_proc(errors):
    import shutil
    from nbdev.serve import proc_nbs
    cache = ROOT/'_proc'
    shutil.rmtree(cache, ignore_errors=True)
    proc_nbs(str(NBS), n_workers=0)
    for nb in sorted(NBS.glob('*.ipynb')):
        out = cache/nb.relative_to(NBS)
        if not out.exists(): errors.append(f"proc: nbdev's docs processing wrote no page for {nb.name}")
        else:
            cells = json.loads(out.read_text())['cells']
            if not cells: errors.append(f"proc: the processed {nb.name} is empty")
    print(f"proc: nbdev processed {len(list(NBS.glob('*.ipynb')))} notebooks into _proc/")

def check_docstrings(errors):
    from fastcore.docments import docments
    n_obj = n_par = n_doc = 0
    for py in sorted((ROOT/'cifar_cnn').glob('*.py')):
        if py.stem.startswith('_'): continue
        mod = importlib.import_module(f'cifar_cnn.{py.stem}')
        for name in getattr(mod, '__all__', []):
            obj = getattr(mod, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)): continue
            n_obj += 1
            if not (obj.__doc__ or '').strip(): errors.append(f"docstring: cifar_cnn.{py.stem}.{name} has none")
            if inspect.isfunction(obj):
                params = [p for p in inspect.signature(obj).parameters if p not in ('self', 'cls') and not p.startswith('*')]
                try: d = docments(obj)
                except Exception: d = {}
                n_par += len(params); n_doc += sum(1 for p in params if d.get(p))
            if inspect.isclass(obj):
                bases = [b for b in obj.__mro__[1:]]
                for m, f in vars(obj).items():
                    if m.startswith('_') or not inspect.isfunction(f) or any(m in vars(b) for b in bases): continue
                    if not (f.__doc__ or '').strip(): errors.append(f"docstring: cifar_cnn.{py.stem}.{name}.{m} has none")
    print(f"docstrings: {n_obj} exported functions and classes checked; docments on {n_doc} of {n_par} parameters of exported functions")

def check_links(errors):
    pages = {page_of(nb) for nb in NBS.glob('*.ipynb')}
    n = 0
    def ok(target, base:Path):
        t = target.split('#')[0].split('?')[0]
        if not t or re.match(r'^[a-z]+:', t): return True
        if t in pages or (base/t).exists(): return True
        return False
    for nb in sorted(NBS.glob('*.ipynb')):
        for i, c in enumerate(json.loads(nb.read_text())['cells']):
            if c['cell_type'] != 'markdown': continue
            for m in LINK.finditer(''.join(c['source'])):
                t = m.group(1) or m.group(2); n += 1
                if not ok(t, NBS): errors.append(f"link: {nb.name} cell {i} links to {t!r}, which does not exist")
    for m in LINK.finditer((ROOT/'README.md').read_text()):
        t = m.group(1) or m.group(2); n += 1
        if not ok(t, ROOT): errors.append(f"link: README.md links to {t!r}, which does not exist")
    print(f"links: {n} checked")

def check_sizes(errors):
    for nb in sorted(NBS.glob('*.ipynb')):
        mb = nb.stat().st_size / 2 ** 20
        if mb >= 2: errors.append(f"size: {nb.name} is {mb:.2f} MB; keep notebooks under 2 MB (smaller figures, no long logs)")
    print(f"sizes: largest notebook {max(nb.stat().st_size for nb in NBS.glob('*.ipynb')) / 2 ** 20:.2f} MB")

def main():
    errors = []
    if '--no-proc' not in sys.argv: check_proc(errors)
    check_docstrings(errors); check_links(errors); check_sizes(errors)
    for e in errors: print('FAIL', e)
    print('docs checks: ' + ('OK' if not errors else f'{len(errors)} problem(s)'))
    sys.exit(1 if errors else 0)

if __name__ == '__main__': main()
