"""What the benchmark scripts record about the code they ran."""
import subprocess
from pathlib import Path

def code_commit(root:Path):
    "The commit `root` runs from, '-dirty' if tracked files other than the logs differ from it; None outside git."
    git = lambda *a: subprocess.run(['git', *a], cwd=root, capture_output=True, text=True).stdout.strip()
    rev = git('rev-parse', '--short', 'HEAD')
    return rev + ('-dirty' if git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)benchmarks/logs', ':(exclude)benchmarks/*.md') else '') if rev else None
