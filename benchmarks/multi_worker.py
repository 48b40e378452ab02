"""Two CPU workers against one process: the same `cifar-cnn train` config and seed, trained both ways, one after the other.

    python benchmarks/multi_worker.py --seeds 0,1,2 -- --preset airbench94 --data sample --batch-size 250 --epochs 10

For each seed it runs the command once as a single process and once as a two-worker cluster on 127.0.0.1 (free
ports, `--cluster`/`--worker-index`, TensorFlow's MultiWorkerMirroredStrategy), and appends one JSON line per run to
benchmarks/logs/multi_worker.jsonl: test accuracy, training seconds (the run's own), wall seconds (process start to
exit, both workers), images/s, the host's CPU, its vector-unit flags and measured matmul peak. On one 2-core machine
the two workers share the cores, so this measures correctness (accuracy within seed noise) and the overhead of the
collective all-reduce, not a speed-up. Rows already in the log for the same arguments, seed and mode are skipped.
"""
import argparse, json, os, shutil, socket, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT/'benchmarks'/'logs'/'multi_worker.jsonl'

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def run(args, out, workers):
    "Train `cifar-cnn train *args` into `out` with 1 process or `workers` workers; the chief's metrics and the wall time."
    exe = shutil.which('cifar-cnn', path=os.path.dirname(sys.executable)) or shutil.which('cifar-cnn')
    cmd = [exe, 'train', *args, '--out-dir', str(out)]
    env = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'}
    t0 = time.time()
    if workers == 1: procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)]
    else:
        cluster = ','.join(f'127.0.0.1:{free_port()}' for _ in range(workers))
        procs = [subprocess.Popen(cmd + ['--cluster', cluster, '--worker-index', str(i)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env) for i in range(workers)]
    outs = [p.communicate(timeout=3600) for p in procs]
    wall = time.time() - t0
    for p, (o, e) in zip(procs, outs):
        if p.returncode: raise SystemExit(f"a worker failed ({p.returncode}):\n{o[-2000:]}\n{e[-2000:]}")
    run_dir = Path(outs[0][0].split('run directory: ')[1].split('\n')[0])
    return json.loads((run_dir/'metrics.json').read_text()), wall

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--seeds', default='0'); p.add_argument('--workers', type=int, default=2)
    p.add_argument('--no-log', action='store_true', help="print, don't append to the log")
    p.add_argument('train_args', nargs=argparse.REMAINDER, help='-- then the cifar-cnn train arguments (without --seed and --out-dir)')
    a = p.parse_args()
    targs = [x for x in a.train_args if x != '--'] or ['--preset', 'airbench94', '--data', 'sample', '--batch-size', '250', '--epochs', '10']
    from cifar_cnn.core import host_info
    host = host_info()
    logged = [json.loads(l) for l in LOG.read_text().splitlines()] if LOG.exists() else []
    rows = []
    for seed in [int(s) for s in a.seeds.split(',')]:
        for workers in (1, a.workers):
            key = dict(args=targs, seed=seed, workers=workers)
            old = [r for r in logged if {k: r.get(k) for k in key} == key]
            if old: rows.append(old[-1]); print(f"seed {seed}, {workers} worker(s): in the log"); continue
            with tempfile.TemporaryDirectory() as out:
                m, wall = run(targs + ['--seed', str(seed)], Path(out), workers)
            r = dict(**key, test_accuracy=m['test_accuracy'], train_seconds=m['train_seconds'], wall_seconds=round(wall, 1),
                     images_per_sec=m['images_per_sec'], epochs=m['epochs'], precision=m['precision'],
                     command='python benchmarks/multi_worker.py --seeds ' + str(seed) + ' -- ' + ' '.join(targs),
                     date=time.strftime('%Y-%m-%d %H:%M:%S'), **host)
            print(f"seed {seed}, {workers} worker(s): test accuracy {r['test_accuracy']:.4f}, {r['train_seconds']:.0f}s of training, "
                  f"{wall:.0f}s wall, {r['images_per_sec']:.0f} images/s", flush=True)
            if not a.no_log:
                LOG.parent.mkdir(parents=True, exist_ok=True)
                with LOG.open('a') as f: f.write(json.dumps(r) + '\n')
            rows.append(r)
    for w in (1, a.workers):
        acc = np.array([r['test_accuracy'] for r in rows if r['workers'] == w]); t = np.array([r['train_seconds'] for r in rows if r['workers'] == w])
        print(f"{w} worker(s): test accuracy {acc.mean():.4f} ± {acc.std(ddof=1) if len(acc) > 1 else 0:.4f} over {len(acc)} seed(s), "
              f"training {t.mean():.0f}s")

if __name__ == '__main__': main()
