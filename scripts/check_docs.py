"""Check what can be checked of the docs site without Quarto (which cannot be installed on our machines).

    python scripts/check_docs.py [--no-proc] [--no-style]

1. nbdev's processing of the notebooks for the docs (`nbdev.serve.proc_nbs`, what `nbdev_docs` runs before handing
   the result to Quarto) runs without error and produces every page in `_proc/`; nbdev's generated sidebar lists
   every notebook (results and contributing included).
2. Every exported function and class, and every public method a class defines (not a framework hook it overrides),
   has a docstring. Docments coverage (parameters with a `# comment`) is reported.
3. Every internal link in the notebooks' markdown and in README.md points at something that exists: a page of the
   site (`data.html`, ...), a notebook, or a file of the repository.
4. Every notebook is under 2 MB.
5. Notebook style, over every `#| export` cell of nbs/*.ipynb together (lines: non-blank, not `#|` directives):
   median <= 12 lines, 90th percentile <= 30, none over 60, >= 80% followed by a visible code cell (not hidden, not
   export) before the next export cell; and no visible code cell mixes imports with other code (imports go in the
   top cells). The same measurement as the project's nbstyle tool. `--no-style` skips it (local use only).
6. No import cycle among cifar_cnn's modules, counting imports inside functions too (later stages import earlier
   ones, never the reverse).
Exits 1 when any check fails, saying which and where.
"""
import ast, importlib, inspect, io, json, re, statistics, sys
from contextlib import redirect_stdout
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
    try: proc_nbs(str(NBS), n_workers=0)
    except Exception as e:   # nbdev runs a notebook's import cells (and any cell that mixes imports with code) to render show_doc
        return errors.append(f"proc: nbdev's docs processing failed: {str(e).splitlines()[0]} (cause: {e.__cause__!r}); "
                             "nbdev runs every cell holding an import to render the docs, so a cell that mixes imports with code must run on its own")
    for nb in sorted(NBS.glob('*.ipynb')):
        out = cache/nb.relative_to(NBS)
        if not out.exists(): errors.append(f"proc: nbdev's docs processing wrote no page for {nb.name}")
        else:
            cells = json.loads(out.read_text())['cells']
            if not cells: errors.append(f"proc: the processed {nb.name} is empty")
    print(f"proc: nbdev processed {len(list(NBS.glob('*.ipynb')))} notebooks into _proc/")
    from nbdev.quarto import nbdev_sidebar
    with redirect_stdout(io.StringIO()) as f: nbdev_sidebar.__wrapped__(path=str(NBS), printit=True, force=True)
    missing = [nb.name for nb in sorted(NBS.glob('*.ipynb')) if nb.name not in f.getvalue()]
    for m in missing: errors.append(f"sidebar: nbdev's generated sidebar leaves out {m}")
    print(f"sidebar: nbdev's generated sidebar lists {len(list(NBS.glob('*.ipynb'))) - len(missing)} of {len(list(NBS.glob('*.ipynb')))} notebooks")

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

# Style: the same measurement as the project's nbstyle tool (CI has no ../shared, so its logic lives here).
EXPORT = re.compile(r'^#\s*\|\s*export(i|s)?\b')
HIDE = re.compile(r'^#\s*\|\s*hide\b')
TARGETS = dict(median=12, p90=30, max=60, followed=0.8)

def cell_src(c) -> str: return ''.join(c['source']) if isinstance(c['source'], list) else c['source']
def _head(c) -> list: return [l.strip() for l in cell_src(c).splitlines()[:5]]
def is_export(c) -> bool: return c['cell_type'] == 'code' and any(EXPORT.match(l) for l in _head(c))
def is_visible(c) -> bool:
    "A code cell a reader sees run: not empty, not export, not `#| hide`."
    return c['cell_type'] == 'code' and bool(cell_src(c).strip()) and not is_export(c) and not any(HIDE.match(l) for l in _head(c))
def code_lines(c) -> list: return [l for l in cell_src(c).splitlines() if l.strip() and not l.strip().startswith('#|')]

def percentile(xs, p):
    "Linear-interpolated percentile, as nbstyle computes it."
    xs = sorted(xs); k = (len(xs) - 1) * p; f = int(k); c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)

def export_cells(nbs=NBS) -> list:
    "One dict per export cell of `nbs/*.ipynb`: notebook, cell index, lines, its first code line, followed by a visible cell."
    out = []
    for nb in sorted(Path(nbs).glob('*.ipynb')):
        cells = json.loads(nb.read_text())['cells']
        for i, c in enumerate(cells):
            if not is_export(c): continue
            j, followed = i + 1, False
            while j < len(cells) and not is_export(cells[j]):
                if is_visible(cells[j]): followed = True; break
                j += 1
            lines = code_lines(c)
            out.append(dict(nb=nb.name, cell=i, lines=len(lines), first=(lines[0].strip()[:60] if lines else ''), followed=followed))
    return out

def _mixes_imports(code:str) -> bool:
    "Whether cell code holds import statements and other statements too (IPython magics and shell lines left out)."
    try: tree = ast.parse('\n'.join(l for l in code.splitlines() if not l.lstrip().startswith(('%', '!'))))
    except SyntaxError: return False
    imp = lambda n: isinstance(n, (ast.Import, ast.ImportFrom))
    return any(imp(n) for n in ast.walk(tree)) and not all(imp(n) for n in tree.body)

def mixed_import_cells(nbs=NBS) -> list:
    "`(notebook, cell index)` of visible code cells that mix imports with other code."
    return [(nb.name, i) for nb in sorted(Path(nbs).glob('*.ipynb')) for i, c in enumerate(json.loads(nb.read_text())['cells'])
            if is_visible(c) and _mixes_imports(cell_src(c))]

def check_style(errors, nbs=NBS):
    cells = export_cells(nbs)
    if not cells: return print(f"style: no export cells in {nbs}")
    lens = [c['lines'] for c in cells]
    med, p90, over, share = statistics.median(lens), percentile(lens, .9), [c for c in cells if c['lines'] > TARGETS['max']], sum(c['followed'] for c in cells) / len(cells)
    name = lambda c: f"{c['nb']} cell {c['cell']} ({c['lines']} lines: {c['first']})"
    worst = sorted(cells, key=lambda c: -c['lines'])
    print(f"style: {len(cells)} export cells in {len({c['nb'] for c in cells})} notebooks; lines per export cell median {med:g} "
          f"(target <= {TARGETS['median']}), p90 {p90:.0f} (<= {TARGETS['p90']}), max {max(lens)}; over {TARGETS['max']} lines: {len(over)} (0); "
          f"followed by a visible example/test: {share:.0%} (>= {TARGETS['followed']:.0%})")
    for nb in sorted({c['nb'] for c in cells}):
        cs = [c for c in cells if c['nb'] == nb]
        print(f"  {nb}: {len(cs)} export cells, median {statistics.median([c['lines'] for c in cs]):g}, max {max(c['lines'] for c in cs)}, "
              f"followed {sum(c['followed'] for c in cs) / len(cs):.0%}")
    if med > TARGETS['median']: errors.append(f"style: median export cell is {med:g} lines (target <= {TARGETS['median']}); largest: " + '; '.join(map(name, worst[:5])))
    if p90 > TARGETS['p90']: errors.append(f"style: 90th percentile of export cells is {p90:.0f} lines (target <= {TARGETS['p90']}); split these first: " + '; '.join(map(name, worst[:5])))
    for c in over: errors.append(f"style: export cell over {TARGETS['max']} lines: {name(c)}")
    if share < TARGETS['followed']:
        bare = [c for c in cells if not c['followed']]
        errors.append(f"style: {share:.0%} of export cells are followed by a visible example or test (target >= {TARGETS['followed']:.0%}); "
                      f"{len(bare)} are not, e.g. " + '; '.join(map(name, bare[:8])))
    for nb, i in mixed_import_cells(nbs): errors.append(f"style: {nb} cell {i} mixes imports with code: move the imports to the top cells")

# Imports: the same graph as the project's importcycles tool (top-level and function-local imports).
def import_graph(pkg=ROOT/'cifar_cnn') -> dict:
    "`{module: {modules of the package it imports}}`, from every import statement (inside functions too)."
    pkg = Path(pkg); name = pkg.name
    mods = {p.stem: p for p in pkg.glob('*.py') if p.stem not in ('__init__', '_modidx')}
    g = {m: set() for m in mods}
    for m, p in mods.items():
        for n in ast.walk(ast.parse(p.read_text())):
            if isinstance(n, ast.ImportFrom):
                if n.level == 1 and n.module: tgts = [n.module.split('.')[0]]
                elif n.module and n.module.startswith(name + '.'): tgts = [n.module.split('.')[1]]
                elif n.level == 1 and not n.module: tgts = [a.name for a in n.names]
                elif n.module == name: tgts = [a.name for a in n.names]   # from cifar_cnn import train
                else: continue
            elif isinstance(n, ast.Import): tgts = [a.name.split('.')[1] for a in n.names if a.name.startswith(name + '.')]
            else: continue
            g[m] |= {t for t in tgts if t in mods and t != m}
    return g

def import_cycles(g:dict) -> list:
    "Every cycle of the graph (up to 8 modules long), each as a list of modules starting at its smallest name."
    cycles = set()
    def dfs(start, node, path):
        for nx in g[node]:
            if nx == start: i = path.index(min(path)); cycles.add(tuple(path[i:] + path[:i]))
            elif nx not in path and len(path) < 8: dfs(start, nx, path + [nx])
    for m in g: dfs(m, m, [m])
    return [list(c) for c in sorted(cycles)]

def check_imports(errors, pkg=ROOT/'cifar_cnn'):
    g = import_graph(pkg); cycles = import_cycles(g)
    for c in cycles: errors.append(f"imports: cycle {' -> '.join(c + c[:1])} (later stages import earlier ones, never the reverse; imports inside functions count)")
    print(f"imports: {len(g)} modules of {Path(pkg).name}, {sum(map(len, g.values()))} import edges, {len(cycles)} cycles")

def main():
    errors = []
    if '--no-proc' not in sys.argv: check_proc(errors)
    check_docstrings(errors); check_links(errors); check_sizes(errors)
    if '--no-style' not in sys.argv: check_style(errors)
    check_imports(errors)
    for e in errors: print('FAIL', e)
    print('docs checks: ' + ('OK' if not errors else f'{len(errors)} problem(s)'))
    sys.exit(1 if errors else 0)

if __name__ == '__main__': main()
