"""Interrupted training, tried for real: `cifar-cnn train` killed at several points, resumed with the same command.

    python benchmarks/reliability.py [--epochs 4] [--subset 2000] [--model airbench]

For each case it starts `cifar-cnn train` on the shipped sample in its own process, interrupts it (SIGKILL in the
middle of an epoch, SIGKILL 150 ms after an epoch's history row is written, SIGKILL after the last epoch, Ctrl-C,
SIGTERM, a kill followed by a truncated newest backup file), runs the same command again, and checks:
resumed (the second run exits 0 and the run directory holds every epoch once and its metrics), the final model
loads (`cifar-cnn predict --model RUN` in a fresh process, which loads the compiled model.keras), and whether the
test accuracy equals the uninterrupted run's. Prints a table and appends it to benchmarks/logs/reliability.md
(and one JSON line per case to reliability.jsonl).
"""
import argparse, json, os, shutil, signal, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT/'benchmarks'/'logs'
EXE = [sys.executable, '-m', 'cifar_cnn']
ENV = {**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2', 'MPLBACKEND': 'Agg'}


def rows(run: Path) -> int:
    "History rows written so far."
    f = run/'history.csv'
    return max(0, len(f.read_text().splitlines()) - 1) if f.exists() else 0


def start(args: list, run: Path|None, log):
    "`cifar-cnn train ARGS` into `run` (None: the default timestamped directory under --out-dir)."
    extra = [] if run is None else ['--run-dir', str(run)]
    return subprocess.Popen(EXE + ['train', *args, *extra], stdout=log, stderr=subprocess.STDOUT, env=ENV, cwd=ROOT)


def wait_rows(p, run: Path, n: int, timeout=600):
    t0 = time.time()
    while rows(run) < n:
        if p.poll() is not None: raise RuntimeError(f"training ended (exit {p.returncode}) before {n} epochs were written")
        if time.time() - t0 > timeout: raise TimeoutError(f"no {n} epochs within {timeout} s")
        time.sleep(0.01)


def interrupt(case: str, args: list, run: Path, epochs: int, epoch_s: float, out: Path) -> dict:
    "Start, interrupt as `case` says, then run the same command again; what happened."
    with open(out/f'{case}.log', 'w') as log:
        if case == 'sigint':      # started without --run-dir, and resumed by the same command without it
            before = set(run.parent.glob('reliability-*'))
            p = start(args, None, log)
            while not (new := set(run.parent.glob('reliability-*')) - before):
                if p.poll() is not None: raise RuntimeError('training ended before creating its run directory')
                time.sleep(0.01)
            run = new.pop()
        else: p = start(args, run, log)
        if case == 'sigkill_mid_epoch': wait_rows(p, run, 1); time.sleep(0.5 * epoch_s); p.kill()
        elif case == 'sigkill_150ms_after_row': wait_rows(p, run, 2); time.sleep(0.15); p.kill()
        elif case == 'sigkill_after_last_epoch': wait_rows(p, run, epochs); time.sleep(0.15); p.kill()
        elif case in ('sigint', 'sigterm'): wait_rows(p, run, 1); time.sleep(0.4 * epoch_s); p.send_signal(signal.SIGINT if case == 'sigint' else signal.SIGTERM)
        elif case == 'truncated_backup':
            wait_rows(p, run, 2); time.sleep(0.15); p.kill(); p.wait()
            newest = sorted((run/'backup').glob('epoch-*.weights.h5'))[-1]
            newest.write_bytes(newest.read_bytes()[:newest.stat().st_size // 2])     # as a kill inside the write would leave it
        p.wait(120)
        first_exit = p.returncode
    first = (out/f'{case}.log').read_text()
    stopped_rows = rows(run)
    t0 = time.time()
    # the same command again; Ctrl-C's run is resumed without --run-dir (found as the interrupted run of this config)
    again = EXE + ['train', *args] + ([] if case == 'sigint' else ['--run-dir', str(run)])
    r = subprocess.run(again, capture_output=True, text=True, env=ENV, cwd=ROOT)
    resume_s = time.time() - t0
    (out/f'{case}.resume.log').write_text(r.stdout + r.stderr)
    hist = [int(l.split(',')[0]) for l in (run/'history.csv').read_text().splitlines()[1:]] if (run/'history.csv').exists() else []
    metrics = json.loads((run/'metrics.json').read_text()) if (run/'metrics.json').exists() else None
    resumed = r.returncode == 0 and metrics is not None and sorted(set(hist)) == list(range(epochs)) and 'resuming' in r.stdout
    return dict(case=case, run=str(run), first_exit=first_exit, epochs_at_stop=stopped_rows, traceback_on_stop='Traceback' in first,
                stop_message=[l for l in first.splitlines() if 'stopped' in l or 'resume' in l][-1:],
                resumed=resumed, resume_exit=r.returncode, resume_seconds=round(resume_s, 1),
                fell_back='unreadable' in r.stdout, test_accuracy=metrics and metrics['test_accuracy'])


def loads(run: Path, image: Path) -> bool:
    "The run's model loads (compiled) and predicts in a fresh process, through the library's loader."
    r = subprocess.run(EXE + ['predict', str(image), '--model', str(run)], capture_output=True, text=True, env=ENV, cwd=ROOT)
    return r.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', default='airbench'); ap.add_argument('--epochs', type=int, default=4)
    ap.add_argument('--subset', type=int, default=2000); ap.add_argument('--batch-size', type=int, default=128)
    a = ap.parse_args()
    args = ['--data', 'sample', '--model', a.model, '--epochs', str(a.epochs), '--subset', str(a.subset),
            '--batch-size', str(a.batch_size), '--seed', '0', '--name', 'reliability']
    work = Path(tempfile.mkdtemp(prefix='reliability-'))
    args += ['--out-dir', str(work/'runs')]
    import cv2, numpy as np
    sys.path.insert(0, str(ROOT))
    from cifar_cnn.data import load_sample
    image = work/'test0.png'; cv2.imwrite(str(image), load_sample().x_test[0][..., ::-1])
    t0 = time.time()
    ref = work/'runs'/'reference'
    r = subprocess.run(EXE + ['train', *args, '--run-dir', str(ref)], capture_output=True, text=True, env=ENV, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    ref_m = json.loads((ref/'metrics.json').read_text())
    epoch_s = ref_m['train_seconds'] / a.epochs
    results = [dict(case='uninterrupted', first_exit=0, epochs_at_stop=a.epochs, resumed=None, loads=loads(ref, image),
                    test_accuracy=ref_m['test_accuracy'], seconds=round(time.time() - t0, 1))]
    for case in ('sigkill_mid_epoch', 'sigkill_150ms_after_row', 'sigkill_after_last_epoch', 'sigint', 'sigterm', 'truncated_backup'):
        run = work/'runs'/case
        res = interrupt(case, args, run, a.epochs, epoch_s, work)
        res['loads'] = loads(Path(res['run']), image)
        res['same_accuracy'] = res['test_accuracy'] == ref_m['test_accuracy']
        res['accuracy_diff'] = None if res['test_accuracy'] is None else round(res['test_accuracy'] - ref_m['test_accuracy'], 4)
        results.append(res); print(json.dumps(res), flush=True)
    yn = lambda v: '—' if v is None else 'yes' if v else 'no'
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), 'unknown CPU')
    flags = next((l.split(':', 1)[1].split() for l in open('/proc/cpuinfo') if l.startswith('flags')), [])
    isa = ', '.join(f for f in ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16') if f in flags)
    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')} · `python benchmarks/reliability.py --model {a.model} --epochs {a.epochs} --subset {a.subset} --batch-size {a.batch_size}`",
             f"host: {cpu} ({isa}), {os.cpu_count()} cores; uninterrupted run: test accuracy {ref_m['test_accuracy']:.4f}, {epoch_s:.1f} s/epoch\n",
             "| case | epochs written when stopped | traceback on stop | resumed | final model loads | test accuracy | equal to uninterrupted |",
             "|---|---:|---|---|---|---:|---|"]
    for x in results:
        lines.append(f"| {x['case']}{' (fell back to the previous backup)' if x.get('fell_back') else ''} | {x['epochs_at_stop']} | "
                     f"{yn(x.get('traceback_on_stop'))} | {yn(x['resumed'])} | {yn(x['loads'])} | "
                     f"{x['test_accuracy'] if x['test_accuracy'] is None else format(x['test_accuracy'], '.4f')} | "
                     f"{'—' if x['case'] == 'uninterrupted' else yn(x['same_accuracy'])} |")
    table = '\n'.join(lines)
    print(table)
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS/'reliability.md', 'a') as f: f.write(table + '\n')
    with open(LOGS/'reliability.jsonl', 'a') as f:
        for x in results: f.write(json.dumps({**x, 'date': time.strftime('%Y-%m-%d %H:%M'), 'args': args[:-2]}) + '\n')
    shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
