"""The first honest table of the registry's architectures: each trained with one recipe for a fixed short budget.

    CIFAR_CNN_DATA=../shared/data python benchmarks/seed_models.py [--epochs 3] [--models a,b,...]

Every model gets the same recipe (SGD + Nesterov, warmup-then-linear LR peaking at 0.08, batch 256, weight decay
5e-4, label smoothing 0.1, flip + 2 px translate) and the same budget (`--epochs`) on the full CIFAR-10 training
set minus a 5,000-image stratified validation split; accuracy is measured on the 10,000 test images. Results go to
benchmarks/logs/seed_models_<E>ep.jsonl (one line per model, appended as each finishes; models already there are
skipped, so an interrupted benchmark resumes) and the table to benchmarks/seed_models_<E>ep.md. Run directories
go to runs/bench/ (git-ignored); a run that was interrupted resumes from its last epoch.
"""
import argparse, json, os, time
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
from cifar_cnn.train import TrainConfig, train
from cifar_cnn.data import load_cifar

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = 'seed004_baseline,seed001_gap,seed004_benchmark,seed002_cnn,resnet20,airbench'

def table(rows):
    head = "| model | params | FLOPs/image | train images/s | epochs | train time (s) | best val acc | test acc |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
    return head + ''.join(f"| {r['model']} | {r['params']:,} | {r['flops'] / 1e6:.1f} M | {r['images_per_sec']:.0f} | {r['epochs']} | "
                          f"{r['train_seconds']:.0f} | {r['best_val_accuracy']:.4f} | {r['test_accuracy']:.4f} |\n" for r in rows)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--epochs', type=int, default=3); p.add_argument('--models', default=DEFAULT)
    a = p.parse_args()
    log = ROOT/'benchmarks'/'logs'/f'seed_models_{a.epochs}ep.jsonl'
    done = {json.loads(l)['model']: json.loads(l) for l in log.read_text().splitlines()} if log.exists() else {}
    data = load_cifar()
    print(f"data: {data}", flush=True)
    for m in a.models.split(','):
        if m in done: print(f"{m}: already measured, skipping", flush=True); continue
        cfg = TrainConfig(name=f'bench{a.epochs}-{m}', model=m, epochs=a.epochs, batch_size=256, lr=0.08, optimizer='sgd',
                          schedule='warmup_linear', warmup=0.2, weight_decay=5e-4, label_smoothing=0.1, augment='basic',
                          val_frac=0.1, seed=0, out_dir=str(ROOT/'runs'/'bench'))
        t0 = time.time()
        run = train(cfg, data=data, run_dir=ROOT/'runs'/'bench'/cfg.name)
        met = json.loads((run/'metrics.json').read_text())
        row = dict(model=m, wall_seconds=round(time.time() - t0, 1), **met, config=cfg.to_dict(),
                   command=f"CIFAR_CNN_DATA=../shared/data python benchmarks/seed_models.py --epochs {a.epochs} --models {m}")
        with open(log, 'a') as f: f.write(json.dumps(row) + '\n')
        done[m] = row
    rows = [done[m] for m in a.models.split(',') if m in done]
    md = ROOT/'benchmarks'/f'seed_models_{a.epochs}ep.md'
    md.write_text(f"# The registry's architectures after {a.epochs} epochs (one recipe for all)\n\nCommand: "
                  f"`CIFAR_CNN_DATA=../shared/data python benchmarks/seed_models.py --epochs {a.epochs}`; log: "
                  f"`benchmarks/logs/{log.name}`. Data: full CIFAR-10 of `../shared/data` (JPEG-decoded copy), 45,000 train / "
                  f"5,000 validation / 10,000 test. Machine: {rows[0]['environment']['cpu']}, {rows[0]['environment']['cpu_count']} cores, "
                  f"TensorFlow {rows[0]['environment']['tensorflow']} (CPU).\n\n" + table(rows))
    print(md.read_text())

if __name__ == '__main__': main()
