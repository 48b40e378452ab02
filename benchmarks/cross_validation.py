"""k-fold cross-validation of a config through `cifar-cnn cv`, logged.

    python benchmarks/cross_validation.py --folds 5 -- --model seed001_gap --data sample --epochs 15 --batch-size 64 --lr 0.05

Runs `cifar-cnn cv` with the given train arguments into a folder under runs/benchmarks (resumable: the same command
again continues fold by fold), then appends one JSON line to benchmarks/logs/cross_validation.jsonl: each fold's
held-out and test accuracy, their mean and std, the seconds of training, and the host (CPU, vector-unit flags,
measured matmul peak). A row already in the log for the same arguments and folds is not run again.
"""
import argparse, json, os, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT/'benchmarks'/'logs'/'cross_validation.jsonl'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--folds', type=int, default=5)
    p.add_argument('--no-log', action='store_true', help="print, don't append to the log")
    p.add_argument('train_args', nargs=argparse.REMAINDER, help='-- then the cifar-cnn cv arguments (without --folds, --cv-dir)')
    a = p.parse_args()
    targs = [x for x in a.train_args if x != '--'] or ['--model', 'seed001_gap', '--data', 'sample', '--epochs', '15', '--batch-size', '64', '--lr', '0.05']
    key = dict(args=targs, folds=a.folds)
    logged = [json.loads(l) for l in LOG.read_text().splitlines()] if LOG.exists() else []
    if any({k: r.get(k) for k in key} == key for r in logged): print("in the log already:", key); return
    name = 'cv-' + '-'.join(x.lstrip('-') for x in targs)[:80].replace('/', '_')
    cv_dir = ROOT/'runs'/'benchmarks'/name
    exe = shutil.which('cifar-cnn', path=os.path.dirname(sys.executable)) or shutil.which('cifar-cnn')
    t0 = time.time()
    r = subprocess.run([exe, 'cv', *targs, '--folds', str(a.folds), '--cv-dir', str(cv_dir)], env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'},
                       capture_output=True, text=True)
    if r.returncode: raise SystemExit(f"cifar-cnn cv failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    print(r.stdout)
    table = json.loads((cv_dir/'cv.json').read_text())
    from cifar_cnn.core import host_info
    row = dict(**key, folds_table={k: v for k, v in table.items() if k.startswith('fold')}, mean=table['mean'], std=table['std'],
               wall_seconds=round(time.time() - t0, 1),
               command='python benchmarks/cross_validation.py --folds ' + str(a.folds) + ' -- ' + ' '.join(targs),
               date=time.strftime('%Y-%m-%d %H:%M:%S'), **host_info())
    print(f"{a.folds}-fold: held-out accuracy {row['mean']['val_accuracy']:.4f} ± {row['std']['val_accuracy']:.4f}, "
          f"test accuracy {row['mean']['test_accuracy']:.4f} ± {row['std']['test_accuracy']:.4f}")
    if not a.no_log:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        with LOG.open('a') as f: f.write(json.dumps(row) + '\n')

if __name__ == '__main__': main()
