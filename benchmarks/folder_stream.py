"""An image folder streamed at 224x224: the input pipeline against the training step, and peak memory, logged.

    python benchmarks/folder_stream.py --images 10000 --size 224 --model mobilenetv2

1. Writes a folder of real photos (kept under runs/benchmarks/photos-<images>, reused when it is complete): the shipped
   sample's images (its train and test images, cycled to --images files), each upsampled to a random size between 64 and
   256 pixels and written as PNG or JPEG in one folder per class, every tenth one grayscale, RGBA or 16-bit
   (`cifar_cnn.data.write_photo_folder`).
2. Measures, each in a fresh process:
   - pipeline: `load_folder` (the scan decodes every file once), then one pass of the training pipeline (`make_dataset`:
     decode, resize to --size, the 'seeds' augmentation) over all the training files: images/s, and the peak RSS.
   - train: `train()` of --model (random weights, so nothing is downloaded) on the whole folder at --size, for --steps
     steps of --batch-size images (`subset`): the training step's images/s (median step time, the first 3 steps left
     out), and the peak RSS of the process, which also scanned the 10,000 files, streamed the validation split and holds
     the decoded test split for the final evaluation.
3. Appends one JSON line to benchmarks/logs/folder_stream.jsonl, with the host (CPU, vector-unit flags, matmul peak).
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT/'benchmarks'/'logs'/'folder_stream.jsonl'

def make_folder(n:int, root:Path) -> Path:
    "The photo folder of `n` images, written once (a `.done` file marks it complete)."
    if (root/'.done').exists(): return root
    import numpy as np, shutil
    from cifar_cnn.data import load_sample, write_photo_folder, CifarData
    s = load_sample()
    x, y = np.concatenate([s.x_train, s.x_test]), np.concatenate([s.y_train, s.y_test])
    idx = np.arange(n) % len(y)
    shutil.rmtree(root, ignore_errors=True)
    write_photo_folder(CifarData(x[idx], y[idx], s.x_test[:10], s.y_test[:10], s.classes, 'cifar10', 'sample, cycled', 'arrays'), root, seed=0)
    (root/'.done').write_text(str(n))
    return root

def peak_rss_mb() -> float: return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def measure_pipeline(folder:str, size:int, batch:int) -> dict:
    "Scan and split the folder, then time one pass of the training pipeline."
    from cifar_cnn.data import load_folder, make_dataset
    t0 = time.time(); data = load_folder(folder, image_size=size); scan_s = time.time() - t0
    ds = make_dataset(data.x_train, data.y_train, batch, shuffle=True, augment='seeds', num_classes=data.num_classes, image_size=size)
    n, t0 = 0, time.time()
    for xb, _ in ds: n += len(xb)
    return dict(files=sum(len(v) for v in data.files.values()) + len(data.skipped), skipped=len(data.skipped), scan_seconds=round(scan_s, 1),
                pipeline_images=n, pipeline_images_per_sec=round(n / (time.time() - t0), 1), pipeline_peak_rss_mb=round(peak_rss_mb(), 1))

def measure_train(folder:str, size:int, batch:int, steps:int, model:str) -> dict:
    "`train()` on the folder for `steps` steps, timing each step."
    import keras, numpy as np
    from cifar_cnn.train import TrainConfig, train
    class Steps(keras.callbacks.Callback):
        def on_train_batch_begin(self, b, logs=None): self.t = time.perf_counter()
        def on_train_batch_end(self, b, logs=None): times.append(time.perf_counter() - self.t)
    times = []
    cfg = TrainConfig(name='folder-stream', data=folder, image_size=size, model=model, hparams=dict(weights=None), epochs=1, batch_size=batch,
                      subset=steps * batch, lr=0.01, augment='seeds', out_dir=str(ROOT/'runs'/'benchmarks'))
    t0 = time.time(); run = train(cfg, callbacks=[Steps()], overwrite=True, quiet=True)
    m = json.loads((run/'metrics.json').read_text())
    step = float(np.median(times[3:]))
    return dict(train_steps=len(times), step_seconds_median=round(step, 4), step_images_per_sec=round(batch / step, 1),
                train_wall_seconds=round(time.time() - t0, 1), n_train=m['n_train'], n_val=m['n_val'], n_test=m['n_test'],
                train_peak_rss_mb=round(peak_rss_mb(), 1), run_dir=str(run.relative_to(ROOT)))

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--images', type=int, default=10000); p.add_argument('--size', type=int, default=224)
    p.add_argument('--model', default='mobilenetv2'); p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--steps', type=int, default=20); p.add_argument('--no-log', action='store_true', help="print, don't append to the log")
    p.add_argument('--part', choices=['pipeline', 'train'], help=argparse.SUPPRESS)
    a = p.parse_args()
    folder = str(ROOT/'runs'/'benchmarks'/f'photos-{a.images}')
    if a.part == 'pipeline': print(json.dumps(measure_pipeline(folder, a.size, a.batch_size))); return
    if a.part == 'train': print(json.dumps(measure_train(folder, a.size, a.batch_size, a.steps, a.model))); return
    t0 = time.time(); make_folder(a.images, Path(folder)); write_s = time.time() - t0
    row = dict(images=a.images, size=a.size, model=a.model, batch_size=a.batch_size, steps=a.steps, write_seconds=round(write_s, 1))
    for part in ('pipeline', 'train'):
        r = subprocess.run([sys.executable, __file__, '--part', part, '--images', str(a.images), '--size', str(a.size), '--model', a.model,
                            '--batch-size', str(a.batch_size), '--steps', str(a.steps)], capture_output=True, text=True,
                           env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '2'})
        if r.returncode: raise SystemExit(f"{part} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        row.update(json.loads(r.stdout.strip().splitlines()[-1])); print(part, json.dumps(row), flush=True)
    row['pipeline_over_step'] = round(row['pipeline_images_per_sec'] / row['step_images_per_sec'], 1)
    from cifar_cnn.core import host_info
    row.update(command=f'python benchmarks/folder_stream.py --images {a.images} --size {a.size} --model {a.model} --batch-size {a.batch_size} --steps {a.steps}',
               date=time.strftime('%Y-%m-%d %H:%M:%S'), **host_info())
    print(f"{a.images} images at {a.size}x{a.size}: pipeline {row['pipeline_images_per_sec']} images/s (peak RSS {row['pipeline_peak_rss_mb']:.0f} MB), "
          f"{a.model} training step {row['step_images_per_sec']} images/s (peak RSS {row['train_peak_rss_mb']:.0f} MB): "
          f"the pipeline is {row['pipeline_over_step']}x the step")
    if not a.no_log:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        with LOG.open('a') as f: f.write(json.dumps(row) + '\n')

if __name__ == '__main__': main()
