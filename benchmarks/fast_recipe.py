"""The fast recipe, measured: train a preset N times with different seeds on the full CIFAR-10 and test each run.

    CIFAR_CNN_DATA=../shared/data python benchmarks/fast_recipe.py --preset fast --seeds 0,1,2

For each seed: `train(TrainConfig.preset(PRESET, seed=SEED))` on the full training set (minus the preset's small
validation split), then accuracy on the 10,000 test images without test-time augmentation, with `flip`, and with
`flip_translate` (airbench's TTA). One JSON line per run is appended to benchmarks/logs/<preset>.jsonl as soon as it
finishes (with wall time, images/s, the environment and the host's measured matmul peak: machines that report the same
CPU name have differed 1.5x in speed, so a run's time means little without it); seeds already there with the same config are skipped, and an
interrupted run resumes from its last epoch (run directories under runs/bench/, git-ignored). The summary (mean ± std
over the runs in the log that trained the preset as it is defined now) is printed and written to benchmarks/<tag>.md.
"""
import argparse, json, os, shlex, time
from pathlib import Path
import numpy as np
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import cifar_cnn.core   # before keras: the package asks for TensorFlow's oneDNN ops, read once when TensorFlow loads
import keras
from cifar_cnn.train import TrainConfig, train, recipe_diff
from cifar_cnn.data import load_cifar
from cifar_cnn.evaluate import predict
from cifar_cnn.core import matmul_peak

ROOT = Path(__file__).resolve().parents[1]
from _provenance import code_commit

def summary(rows, preset):
    acc = {k: np.array([r[k] for r in rows]) for k in ('test_accuracy', 'tta_flip', 'tta_flip_translate', 'train_seconds')}
    ms = lambda a, f=100: f"{a.mean() * f:.2f} ± {a.std(ddof=1) * f:.2f}" if len(a) > 1 else f"{a.mean() * f:.2f}"
    cmd = rows[0]['command'].replace(f"--seeds {rows[0]['seed']}", '--seeds ' + ','.join(str(r['seed']) for r in rows))
    lines = [f"# `{preset}` preset: {len(rows)} run(s) on the full CIFAR-10 (`../shared/data`, JPEG-decoded copy)", "",
             f"Command: `{cmd}`; "
             f"log: `benchmarks/logs/{preset}.jsonl`. {rows[0]['environment']['cpu_count']} cores, "
             f"TensorFlow {rows[0]['environment']['tensorflow']}, devices {rows[0]['environment']['devices']}.", "",
             "| seed | epochs | machine (its matmul peak, fp32 / bf16 GFLOP/s) | train time (s) | images/s | test acc | TTA flip | TTA flip+translate |",
             "|---:|---:|---|---:|---:|---:|---:|---:|"]
    peak = lambda r: ' / '.join(f"{v:.0f}" for v in r['host_matmul_gflops'].values()) if 'host_matmul_gflops' in r else 'not measured'
    lines += [f"| {r['seed']} | {r['epochs']} | {r['environment']['cpu']} ({peak(r)}) | {r['train_seconds']:.0f} | {r['images_per_sec']:.0f} | {r['test_accuracy']:.4f} | "
              f"{r['tta_flip']:.4f} | {r['tta_flip_translate']:.4f} |" for r in rows]
    lines += ["", f"Mean ± std (%): test {ms(acc['test_accuracy'])}, TTA flip {ms(acc['tta_flip'])}, "
                  f"TTA flip+translate {ms(acc['tta_flip_translate'])}; training time {ms(acc['train_seconds'], 1)} s."]
    return '\n'.join(lines) + '\n'

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='fast'); p.add_argument('--seeds', default='0')
    p.add_argument('--set', action='append', default=[], metavar='FIELD=JSON', help='override a TrainConfig field (recorded in the log)')
    p.add_argument('--tag', default=None, help='name of the log and summary (default: the preset and the overrides)')
    a = p.parse_args()
    commit = code_commit(ROOT)     # read at start: the code that runs, not what HEAD is when a row is written
    over = {k: json.loads(v) for k, v in (s.split('=', 1) for s in a.set)}
    tag = a.tag or a.preset + ''.join(f'_{k}{v}' for k, v in over.items()).replace(' ', '')
    log = ROOT/'benchmarks'/'logs'/f'{tag}.jsonl'
    logged = [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
    spec = TrainConfig.preset(a.preset, **over)
    rows = [r for r in logged if not recipe_diff(spec, r['config'])]   # runs of the preset as defined now; earlier specs stay in the log
    if len(rows) < len(logged): print(f"{log.name} also holds {len(logged) - len(rows)} run(s) of an earlier spec: the summary leaves them out", flush=True)
    data = load_cifar()
    for seed in map(int, a.seeds.split(',')):
        if any(r['seed'] == seed for r in rows): print(f"seed {seed}: already in {log.name}", flush=True); continue
        cfg = TrainConfig.preset(a.preset, seed=seed, name=f'{tag}-s{seed}', out_dir=str(ROOT/'runs'/'bench'), **over)
        peak = {dt: round(matmul_peak(dt) / 1e9, 1) for dt in ('float32', 'bfloat16')}   # ~10 s; before training, on an idle CPU
        t0 = time.time()
        run = train(cfg, data=data, run_dir=ROOT/'runs'/'bench'/cfg.name)
        met = json.loads((run/'metrics.json').read_text())
        model = keras.models.load_model(run/'model.keras')
        tta = {f'tta_{t}': float(np.mean(predict(model, data.x_test, t).argmax(1) == data.y_test)) for t in ('flip', 'flip_translate')}
        row = dict(preset=a.preset, overrides=over, seed=seed, **{k: met[k] for k in ('test_accuracy', 'epochs', 'train_seconds', 'images_per_sec',
                   'n_train', 'n_test', 'params', 'flops', 'environment')}, **tta, wall_seconds=round(time.time() - t0, 1), host_matmul_gflops=peak, config=cfg.to_dict(),
                   commit=commit,
                   command=f"CIFAR_CNN_DATA=../shared/data python benchmarks/fast_recipe.py --preset {a.preset} --seeds {seed}"
                           + ''.join(" --set " + shlex.quote(f"{k}={json.dumps(v)}") for k, v in over.items()) + (f" --tag {a.tag}" if a.tag else ''))
        print(json.dumps({k: row[k] for k in ('seed', 'test_accuracy', 'tta_flip', 'tta_flip_translate', 'train_seconds')}), flush=True)
        with open(log, 'a') as f: f.write(json.dumps(row) + '\n')
        rows.append(row)
    if not rows: print("no run of this spec in the log yet"); return
    md = ROOT/'benchmarks'/f'{tag}.md'
    md.write_text(summary(rows, tag)); print(md.read_text())

if __name__ == '__main__': main()
