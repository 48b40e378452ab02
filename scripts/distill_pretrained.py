"""Fine-tune a trained net with knowledge distillation from a teacher ensemble evaluated with test-time augmentation.

    CIFAR_CNN_DATA=../shared/data python scripts/distill_pretrained.py --out runs/bench/kd-a07-e10 \\
        --teachers pretrained,runs/bench/fast-s2/model.keras,runs/bench/fast_optimizermuon_airbench_epochs16_muon_lr0.1-s0/model.keras

The student starts from `--init` (default: the shipped model) and trains `--epochs` more epochs on the same 49,000
training images (`val_frac` 0.02, split seed 0: the split the shipped model was trained on) with the `accurate`
preset's optimiser, augmentation and lookahead, at `--lr-frac` of its peak learning rate (warmup, then linear decay to
0). Each image's target is `alpha` x the teachers' mean flip-TTA probabilities for that image + (1 - alpha) x its
label smoothed by the preset's 0.2. What the teachers see at test time (a mirror) thus goes into the student's
single forward pass: the student is one net, evaluated without TTA.

Writes a run directory that `scripts/ship_pretrained.py` ships: config.json (the TrainConfig whose schedule,
optimiser and augmentation the fine-tune used), distill.json (init, teachers, their checksums and accuracies, alpha),
history.csv, model.keras, metrics.json. The teachers' probabilities are cached next to the run directory; a stopped
run resumes from its last finished epoch; a finished one is only re-evaluated.

In the library the same is `train(TrainConfig.preset('accurate', init_from=..., teachers=[...], distill=0.7, ...))`
(`cifar_cnn.train`: `init_from`, `teachers`, `distill`), which this script predates; it is kept as what made the
shipped model (it splits with seed 0 and shuffles with `--seed`, where `train` uses the config's `seed` for both).
"""
import argparse, hashlib, json, os, sys, time
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np

def sha256(path):
    "A file's (or a pretrained folder's weights') sha256."
    p = Path(path); p = p/'weights.npz' if p.is_dir() else p
    return hashlib.sha256(p.read_bytes()).hexdigest()

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out', required=True, help='run directory to write (resumed if it exists)')
    p.add_argument('--init', default='pretrained', help="'pretrained' (the shipped model) or a pretrained folder made by ship_pretrained.py")
    p.add_argument('--teachers', default='pretrained', help="comma-separated: 'pretrained', pretrained folders or .keras files")
    p.add_argument('--alpha', type=float, default=0.7, help="the teachers' share of each target")
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--lr-frac', type=float, default=0.25, help="peak learning rate as a fraction of the accurate preset's")
    p.add_argument('--warmup', type=float, default=0.1, help='fraction of the steps spent warming up')
    p.add_argument('--seed', type=int, default=1, help='seeds shuffling and augmentation')
    a = p.parse_args()
    if not 0 <= a.alpha <= 1: p.error(f"--alpha must be in [0, 1], got {a.alpha}")

    import keras, tensorflow as tf
    from cifar_cnn.data import load_cifar, train_val_split, augment_layers
    from cifar_cnn.models import pretrained_dir, model_summary
    from cifar_cnn.train import TrainConfig, make_optimizer, Lookahead, EpochLog, atomic_save_model, atomic_write, environment, _precision, load_trained as load
    from cifar_cnn.evaluate import predict
    where = lambda t: pretrained_dir() if t == 'pretrained' else Path(t)

    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(a.seed)
    d = load_cifar('cifar10')
    if len(d.x_train) != 50000 or len(d.x_test) != 10000: raise SystemExit(f"Needs the full CIFAR-10, got {len(d.x_train)}/{len(d.x_test)} images from {d.source}.")
    xtr, ytr, xval, yval = train_val_split(d.x_train, d.y_train, 0.02, seed=0)
    teachers = a.teachers.split(',')
    info = dict(init=a.init, init_sha256=sha256(where(a.init)), teachers=[dict(model=t, sha256=sha256(where(t))) for t in teachers],
                teacher_tta='flip', alpha=a.alpha, lr_frac=a.lr_frac, split='train_val_split(val_frac=0.02, seed=0)',
                command='CIFAR_CNN_DATA=../shared/data python scripts/distill_pretrained.py ' + ' '.join(sys.argv[1:]))
    cache = out.parent/f"teachers_{hashlib.sha256(' '.join(t['sha256'] for t in info['teachers']).encode()).hexdigest()[:12]}_flip.npz"
    t0 = time.time()
    if cache.exists():
        z = np.load(cache); soft, tval, ttest, accs = z['train'], z['val'], z['test'], json.loads(str(z['accs']))
    else:
        ps, accs = [], []
        for t in teachers:
            ps.append([predict(load(t), x, tta='flip') for x in (xtr, xval, d.x_test)])
            accs.append(dict(model=t, val=float((ps[-1][1].argmax(1) == yval).mean()), test=float((ps[-1][2].argmax(1) == d.y_test).mean())))
            print(accs[-1], flush=True)
        soft, tval, ttest = [np.mean([q[i] for q in ps], 0).astype(np.float32) for i in range(3)]
        tmp = cache.with_name(cache.stem + '.tmp.npz'); np.savez(tmp, train=soft, val=tval, test=ttest, accs=json.dumps(accs)); os.replace(tmp, cache)
    info.update(teacher_accuracy_flip=accs, ensemble_accuracy_flip=dict(train=float((soft.argmax(1) == ytr).mean()),
                val=float((tval.argmax(1) == yval).mean()), test=float((ttest.argmax(1) == d.y_test).mean())))
    print(f"teacher ensemble (flip TTA): {info['ensemble_accuracy_flip']} ({time.time() - t0:.0f}s)", flush=True)

    cfg = TrainConfig.preset('accurate', epochs=a.epochs, warmup=a.warmup, seed=a.seed, name=out.name, out_dir=str(out.parent))
    cfg = cfg.replace(lr=cfg.lr * a.lr_frac)
    onehot = np.eye(10, dtype=np.float32)[ytr] * (1 - cfg.label_smoothing) + cfg.label_smoothing / 10
    target = (a.alpha * soft + (1 - a.alpha) * onehot).astype(np.float32)
    pipe = keras.layers.Pipeline(augment_layers('airbench96', a.seed))
    ds = tf.data.Dataset.from_tensor_slices((xtr, target)).shuffle(len(xtr), seed=a.seed, reshuffle_each_iteration=True)
    ds = ds.batch(cfg.batch_size, drop_remainder=True).map(lambda x, y: (pipe(tf.cast(x, tf.float32), training=True), y), num_parallel_calls=1).prefetch(2)
    opts = tf.data.Options(); opts.autotune.enabled = False; ds = ds.with_options(opts)
    val_ds = tf.data.Dataset.from_tensor_slices((xval.astype(np.float32), np.eye(10, dtype=np.float32)[yval])).batch(500)
    spe = len(xtr) // cfg.batch_size
    policy = _precision(cfg.mixed_precision)
    keras.mixed_precision.set_global_policy(policy)
    cfg.save(out/'config.json'); atomic_write(out/'distill.json', json.dumps(info, indent=1))
    m = load(a.init)
    info['init_test_accuracy'] = float((predict(m, d.x_test).argmax(1) == d.y_test).mean())   # in the training precision
    atomic_write(out/'distill.json', json.dumps(info, indent=1))
    if (out/'model.keras').exists():
        print(f"{out} is trained: evaluating it only", flush=True); m = keras.models.load_model(out/'model.keras')
    else:
        m.compile(optimizer=make_optimizer(cfg, spe), loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=['accuracy'])
        cbs = [Lookahead(cfg.epochs * spe), EpochLog(cfg.epochs), keras.callbacks.CSVLogger(str(out/'history.csv'), append=True),
               keras.callbacks.BackupAndRestore(str(out/'backup'))]
        m.fit(ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=cbs, verbose=0)
        atomic_save_model(m, out/'model.keras')
    import pandas as pd
    h = pd.read_csv(out/'history.csv')
    acc = {str(t): float((predict(m, d.x_test, tta=t).argmax(1) == d.y_test).mean()) for t in (None, 'flip', 'flip_translate')}
    last = h.iloc[-1]
    atomic_write(out/'best.json', json.dumps(dict(epoch=int(last['epoch']), val_accuracy=float(last['val_accuracy']))))
    metrics = dict(test_accuracy=acc['None'], test_accuracy_flip=acc['flip'], test_accuracy_flip_translate=acc['flip_translate'],
                   val_accuracy=float((predict(m, xval).argmax(1) == yval).mean()), best_epoch=int(last['epoch']) + 1,
                   best_val_accuracy=float(last['val_accuracy']), epochs=len(h), train_seconds=round(float(h['seconds'].sum()), 1),
                   images_per_sec=round(spe * cfg.batch_size / float(h['seconds'].iloc[1:].mean()), 1),
                   n_train=len(xtr), n_val=len(xval), n_test=len(d.x_test), data_source=d.source, data_kind=d.kind, precision=policy,
                   **{k: v for k, v in model_summary(m).items() if k in ('params', 'flops')}, environment=environment(),
                   distill=dict(init=a.init, init_test_accuracy=info.get('init_test_accuracy'), teachers=teachers, alpha=a.alpha))
    atomic_write(out/'metrics.json', json.dumps(metrics, indent=1))
    print(json.dumps({k: metrics[k] for k in ('test_accuracy', 'test_accuracy_flip', 'test_accuracy_flip_translate', 'val_accuracy', 'train_seconds')}), flush=True)

if __name__ == '__main__': main()
