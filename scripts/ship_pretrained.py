"""Make the pretrained model shipped inside the package from a finished run directory.

    CIFAR_CNN_DATA=../shared/data python scripts/ship_pretrained.py runs/bench/<run>

Writes cifar_cnn/assets/pretrained/: weights.npz (big kernels float16, the rest float32), the run's config.json,
metrics.json and history.csv, eval.json and eval_flip_translate.json (the shipped weights evaluated on the full test
set, without and with airbench's TTA), manifest.json (checksum, class names, accuracies, provenance) and MODEL.md
(the model card). It refuses a run that was not trained on the full CIFAR-10, and states the accuracy that the
shipped float16 weights reach, not the run's float32 one (both are in the manifest). A run that holds distill.json
(the shipped model's: it was made by the distillation script that git history keeps, see DISTILL_SCRIPT) ships with
that file too, and its card names the model it was fine-tuned from, the teachers, and the `cifar-cnn train --init-from
... --teacher ... --distill ...` command that repeats its recipe. `--card-only` re-renders MODEL.md from what a shipped
folder holds (no re-evaluation).
"""
import argparse, datetime, json, os, shutil, subprocess, sys, time
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import keras
from cifar_cnn import __version__
from cifar_cnn.data import load_cifar
from cifar_cnn.models import save_weights_npz, pretrained, pretrained_dir, model_summary
from cifar_cnn.evaluate import evaluate, EvalReport
from cifar_cnn.core import environment
from cifar_cnn.train import closest_preset

MAX_BYTES = 10_000_000   # the package ships at most 10 MB of weights
DISTILL_SCRIPT = ('scripts/distill_pretrained.py', '3e70a33')   # what made the shipped model, deleted since: the last commit that changed it

def preset_call(cfg):
    "`(preset, overrides, call)`: the preset that trained `cfg` with at most 3 fields changed and the call that reproduces it, or Nones."
    preset, over = closest_preset(cfg)
    if len(over) > 3: return None, None, None
    args = ''.join(f", {k}={v!r}" for k, v in {'seed': cfg['seed'], **over}.items())
    return preset, over, f"TrainConfig.preset('{preset}'{args})"

def git_commit():
    "The repository's HEAD commit (presets change over time: the card names the commit whose preset trained the model), or None."
    try: return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError): return None

def _teacher_source(t:str) -> str:
    "Where a teacher of `distill.json` came from: a `runs/bench/<log>-s<seed>` run of benchmarks/fast_recipe.py, or as given."
    import re
    r = re.match(r'runs/bench/(.+)-s(\d+)/model\.keras$', t)
    return f"`{t}`: seed {r[2]} of `benchmarks/logs/{r[1]}.jsonl` (`benchmarks/fast_recipe.py`)" if r else f"`{t}`"

def distill_provenance(m:dict, c:dict, dist:dict) -> str:
    "The card's section on a distilled model: the script that made it (in git history) and the `cifar-cnn train` command that repeats its recipe."
    script, commit = DISTILL_SCRIPT
    prev, init = '/tmp/prev/cifar_cnn/assets/pretrained', m['distill']['init_sha256']
    teachers = [prev if t['sha256'] == init else t['model'] for t in dist['teachers']]
    cmd = (f"CIFAR_CNN_DATA=../shared/data cifar-cnn train --preset accurate --init-from {prev} " + ' '.join(f'--teacher {t}' for t in teachers) +
           f" --distill {dist['alpha']} --label-smoothing {c['label_smoothing']} --lr {c['lr']} --warmup {c['warmup']} --epochs {c['epochs']}"
           f" --seed 0 --run-dir runs/bench/{c['name']}")
    return f"""
## Provenance, and how to repeat it

It was made by `{script}`, a script written before `train` could distil (`TrainConfig.init_from`, `teachers`, `distill`);
it has been deleted since and lives in git history (last changed in commit `{commit}`: `git show {commit}:{script}`).
The same recipe through the library, from the model it was fine-tuned from (also one of the teachers):

```sh
mkdir -p /tmp/prev && git archive {(m['preset_commit'] or 'HEAD')[:7]} cifar_cnn/assets/pretrained | tar -x -C /tmp/prev
{cmd}
CIFAR_CNN_DATA=../shared/data python scripts/ship_pretrained.py runs/bench/{c['name']}
```

`--lr` is {dist['lr_frac']} × the `accurate` preset's learning rate; the other teachers: {'; '.join(_teacher_source(t) for t in teachers if t != prev)}.
This repeats the recipe, not the exact weights: the CLI lacks two things the script did. It held out the validation
images with seed 0 but shuffled and augmented with seed {c['seed']} (`TrainConfig.seed` seeds both: `--seed 0` keeps the
same 1,000 validation images), and it flipped each image at random where the `accurate` preset alternates flips
(`--alt-flip` can only turn alternation on: to turn it off, save the preset with `cifar-cnn train --preset accurate
--print-config > accurate.json`, set `"alt_flip": false` in it, and pass `--config accurate.json` instead of `--preset accurate`).
`benchmarks/logs/distill_library_kd-a07-e10.log` holds a run of this recipe through `cifar-cnn train` (with `--lr 0.2935`); the results page compares it with the script's run.
"""

def model_card(folder):
    "MODEL.md for a shipped folder, from what it holds (manifest, config, metrics, distill.json, eval.json, eval_flip_translate.json)."
    folder = Path(folder)
    rd = lambda f: json.loads((folder/f).read_text())
    m, c, met = rd('manifest.json'), rd('config.json'), rd('metrics.json')
    dist = rd('distill.json') if (folder/'distill.json').exists() else None
    rep, rep_tta = EvalReport.load(folder/'eval.json'), EvalReport.load(folder/'eval_flip_translate.json')
    changes = ' with ' + ', '.join(f'{k}={v!r}' for k, v in m['preset_overrides'].items()) if m['preset_overrides'] else ''
    trained_by = (f"the `{m['preset']}` recipe{changes} as defined at commit `{(m['preset_commit'] or 'unknown')[:7]}` "
                  f"(`{m['preset_call']}` there; `config.json` holds every field)" if m['preset'] else "the config in `config.json`")
    if dist:
        k = m['distill']
        trained_by = (f"fine-tuning `{k['init']}` (the model shipped before, weights sha256 `{k['init_sha256'][:12]}…`, "
                      f"{k['init_test_accuracy']:.4f} without TTA, {k['init_train_seconds'] / 60:.0f} minutes of training; its card is in git history) for "
                      f"{c['epochs']} more epochs with knowledge distillation: "
                      f"each training image's target was {k['alpha']} × the mean flip-TTA probabilities of {len(k['teachers'])} teachers "
                      f"({', '.join('`' + (k['init'] if t['sha256'] == k['init_sha256'] else t['model']) + '`' for t in k['teachers'])}; "
                      f"together {k['ensemble_accuracy_flip']['test']:.4f} on the test set; `distill.json` has their checksums) "
                      f"+ {1 - k['alpha']:.1f} × its label smoothed by {c['label_smoothing']}, with the `accurate` preset's optimiser and augmentation at "
                      f"{dist['lr_frac']} of its learning rate (`config.json`, `distill.json` hold every field; how to repeat it: below). Fine-tuned")
    return f"""# Pretrained model: {m['name']}

The `{c['model']}` net ({json.dumps(c.get('hparams') or {})}; {m['params']:,} parameters, {m['flops'] / 1e6:.0f} MFLOPs per image) trained by
{trained_by} on
{met['n_train']:,} images of the full CIFAR-10 ({met['n_val']:,} held out for validation), in {met['train_seconds'] / 60:.1f} minutes on
{met['environment']['cpu']} ({met['environment']['cpu_count']} cores, TensorFlow {met['environment']['tensorflow']}).

| | test accuracy (10,000 images) |
|---|---:|
| shipped weights (float16 kernels), no TTA | {rep.accuracy:.4f} |
| shipped weights, TTA flip + 1-px translate | {rep_tta.accuracy:.4f} |
| the run's own model.keras (float32 weights, bfloat16 compute as trained), no TTA | {m['run_model_test_accuracy']:.4f} |

Test data: `{m['data_source']}` — the JPEG-decoded copy of CIFAR-10 described in `../shared/data/README.md`, which costs
some accuracy against the original lossless images. Top-5 {rep.top5_accuracy:.4f}, macro F1 {rep.f1_macro:.4f},
ECE {rep.ece:.4f}, log loss {rep.log_loss:.4f}.

Made by `{m['command']}`; re-measured by `{m['check_command']}`.
Weights: `weights.npz`, sha256 `{m['weights_sha256']}` ({m['weights_bytes'] / 1e6:.1f} MB). Load it with
`cifar_cnn.models.pretrained()` (offline; checksum verified).
""" + (distill_provenance(m, c, dist) if dist else '')

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('run_dir', nargs='?'); p.add_argument('--out', default=None, help='output folder (default: the package assets)')
    p.add_argument('--card-only', action='store_true', help="only re-render MODEL.md of the shipped folder (--out) from what it holds")
    a = p.parse_args()
    if a.card_only:
        d = Path(a.out) if a.out else pretrained_dir(); (d/'MODEL.md').write_text(model_card(d)); return print(f"wrote {d/'MODEL.md'}")
    if not a.run_dir: p.error("give the run directory to ship (or --card-only)")
    run, out = Path(a.run_dir), Path(a.out) if a.out else pretrained_dir()
    cfg, met = json.loads((run/'config.json').read_text()), json.loads((run/'metrics.json').read_text())
    if met['data_kind'] == 'sample' or met['n_train'] + met['n_val'] < 50000:
        sys.exit(f"{run} was trained on {met['n_train'] + met['n_val']} images ({met['data_kind']}): ship only full-data runs.")
    data = load_cifar(cfg['dataset'])
    if len(data.x_test) != 10000: sys.exit(f"Evaluation needs the full test set, got {len(data.x_test)} images from {data.source}.")
    tmp = out.with_name(out.name + '.tmp'); shutil.rmtree(tmp, ignore_errors=True); tmp.mkdir(parents=True)
    model = keras.models.load_model(run/'model.keras')
    sha = save_weights_npz(model, tmp/'weights.npz')
    if (size := (tmp/'weights.npz').stat().st_size) > MAX_BYTES:
        shutil.rmtree(tmp); sys.exit(f"{run}: its weights take {size / 1e6:.1f} MB, more than the {MAX_BYTES / 1e6:.0f} MB the package may ship.")
    for f in ('config.json', 'metrics.json', 'history.csv', 'distill.json'):
        if (run/f).exists(): shutil.copy(run/f, tmp/f)
    # a distilled run (distill.json): fine-tuned from a shipped model (its card says how that one was trained)
    dist = json.loads((run/'distill.json').read_text()) if (run/'distill.json').exists() else None
    init = json.loads(((pretrained_dir() if dist['init'] == 'pretrained' else Path(dist['init']))/'manifest.json').read_text()) if dist else None
    if init and init['weights_sha256'] != dist['init_sha256']:
        sys.exit(f"{run} was fine-tuned from weights {dist['init_sha256'][:12]}, but {dist['init']} now holds {init['weights_sha256'][:12]}: "
                 "point distill.json's init at the folder of the model it started from.")
    name = f"{init['name']}-kd{cfg['epochs']}ep" if dist else f"{cfg['model']}-{cfg['dataset']}-{cfg['epochs']}ep-seed{cfg['seed']}"
    manifest = dict(name=name, num_classes=data.num_classes, classes=data.classes,
                    weights_sha256=sha, model=cfg['model'], hparams=cfg.get('hparams', {}), preset_commit=git_commit())
    manifest['preset'], manifest['preset_overrides'], manifest['preset_call'] = (None, None, None) if dist else preset_call(cfg)
    if dist: manifest['distill'] = dict(init=init['name'], init_sha256=dist['init_sha256'], init_test_accuracy=init['test_accuracy'],
                                        init_train_seconds=init['train_seconds'], init_card=init.get('command'), alpha=dist['alpha'],
                                        teachers=dist['teachers'], ensemble_accuracy_flip=dist['ensemble_accuracy_flip'])
    (tmp/'manifest.json').write_text(json.dumps(manifest, indent=1))
    shipped = pretrained(tmp)
    t0 = time.time()
    rep = evaluate(shipped, data.x_test, data.y_test, data.classes)
    rep_tta = evaluate(shipped, data.x_test, data.y_test, data.classes, tta='flip_translate')
    orig = float((keras.ops.convert_to_numpy(model.predict(data.x_test.astype('float32'), batch_size=500, verbose=0)).argmax(1) == data.y_test).mean())
    rep.save(tmp, 'eval'); rep_tta.save(tmp, 'eval_flip_translate')
    manifest.update(test_accuracy=rep.accuracy, test_accuracy_tta=rep_tta.accuracy, tta='flip_translate', run_model_test_accuracy=orig,
                    n_test=len(data.y_test), data_source=data.source, data_sha256=data.checksums(), source_run=run.name,
                    params=model_summary(shipped)['params'], flops=model_summary(shipped)['flops'],
                    weights_bytes=(tmp/'weights.npz').stat().st_size, train_seconds=met['train_seconds'], epochs=met['epochs'],
                    train_environment=met['environment'], shipped=datetime.date.today().isoformat(), library_version=__version__,
                    evaluated_with=environment(), evaluation_seconds=round(time.time() - t0, 1),
                    command=(dist['command'] + ' && ' if dist else '') + f"CIFAR_CNN_DATA=../shared/data python scripts/ship_pretrained.py {a.run_dir}",
                    check_command="CIFAR_CNN_DATA=../shared/data cifar-cnn evaluate pretrained --tta flip_translate")
    (tmp/'manifest.json').write_text(json.dumps(manifest, indent=1))
    (tmp/'MODEL.md').write_text(model_card(tmp))
    if out.exists(): shutil.rmtree(out)
    os.replace(tmp, out)
    print(json.dumps({k: manifest[k] for k in ('name', 'test_accuracy', 'test_accuracy_tta', 'run_model_test_accuracy', 'weights_bytes')}, indent=1))

if __name__ == '__main__': main()
