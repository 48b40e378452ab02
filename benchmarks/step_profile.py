"""Where airbench94's recipe's training time goes on this machine: the input pipeline alone, the training step alone, and both.

    CIFAR_CNN_DATA=../shared/data python benchmarks/step_profile.py [--steps 12] [--batches 512,1024] [--optimizers sgd_airbench,muon_airbench]

For each batch size, precision policy (float32, mixed_bfloat16) and optimiser (the airbench94 preset's by default):
- input: images/s of the training `tf.data` pipeline alone (shuffle, batch, the airbench augmentation on the device
  graph, one-hot), iterated without a model;
- step: images/s of `model.fit` on one batch held in memory (no input pipeline): the compiled train step by itself;
- fit: images/s of `model.fit` on the real pipeline, as `train()` runs it (with the lookahead callback).
If `fit` is close to `step`, the input pipeline is hidden behind the step (prefetch overlaps them) and the step itself
is the limit. Appends one JSON line per configuration to benchmarks/logs/step_profile.jsonl.
"""
import argparse, json, os, time
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import cifar_cnn.core   # before keras: the package asks for TensorFlow's oneDNN ops, read once when TensorFlow loads
import keras, tensorflow as tf
from cifar_cnn.data import load_cifar, make_dataset
from cifar_cnn.core import host_info
from cifar_cnn.train import TrainConfig, Lookahead, build_for_training, compile_for_training

ROOT = Path(__file__).resolve().parents[1]

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=12); p.add_argument('--batches', default='512,1024')
    p.add_argument('--policies', default='float32,mixed_bfloat16')
    p.add_argument('--optimizers', default='sgd_airbench', help="TrainConfig optimizers to time, e.g. 'sgd_airbench,muon_airbench'")
    p.add_argument('--hparams', default='{}', help='JSON hyperparameters of the airbench net, e.g. \'{"widths": [128, 256, 320], "residual": true}\'')
    a = p.parse_args()
    host = host_info()          # the CPU's flags and its measured matmul peaks, first, on an idle CPU
    hp = json.loads(a.hparams)
    data = load_cifar()
    x, y = data.x_train[:49000], data.y_train[:49000]
    for policy in a.policies.split(','):
        for bs in map(int, a.batches.split(',')):
            ds = make_dataset(x, y, bs, shuffle=True, augment='airbench', num_classes=10, one_hot=True, drop_remainder=True).repeat()
            it = iter(ds); next(it)
            t = time.perf_counter()
            for _ in range(a.steps): xb, yb = next(it)
            _ = xb.numpy()
            inp = a.steps * bs / (time.perf_counter() - t)
            opts = tf.data.Options(); opts.autotune.enabled = False   # as make_dataset: autotune stalls this CPU (rows before 2026-11-26 lack it)
            one = tf.data.Dataset.from_tensors((xb, yb)).repeat().with_options(opts)
            for opt in a.optimizers.split(','):
                keras.mixed_precision.set_global_policy(policy); keras.utils.set_random_seed(0)
                cfg = TrainConfig.preset('airbench94', batch_size=bs, optimizer=opt)
                cfg = cfg.replace(hparams=hp)
                d = dict(num_classes=10, x_train=x, steps_per_epoch=len(x) // bs, one_hot=True)   # what the recipe's steps read of training_data's output
                m = compile_for_training(build_for_training(cfg, d), cfg, d)                     # the model, optimiser and loss `train` uses
                m.fit(one, steps_per_epoch=3, epochs=1, verbose=0)
                t = time.perf_counter(); m.fit(one, steps_per_epoch=a.steps, epochs=1, verbose=0); step = a.steps * bs / (time.perf_counter() - t)
                m.fit(ds, steps_per_epoch=2, epochs=1, verbose=0)
                t = time.perf_counter(); m.fit(ds, steps_per_epoch=a.steps, epochs=1, verbose=0, callbacks=[Lookahead(10 * len(x) // bs)])
                fit = a.steps * bs / (time.perf_counter() - t)
                keras.mixed_precision.set_global_policy('float32')
                row = dict(policy=policy, batch=bs, optimizer=opt, hparams=hp, params=m.count_params(), input_images_per_sec=round(inp, 1), step_images_per_sec=round(step, 1), fit_images_per_sec=round(fit, 1),
                           steps=a.steps, **host, command='CIFAR_CNN_DATA=../shared/data python benchmarks/step_profile.py' + (f" --hparams '{a.hparams}'" if hp else '') + (f' --optimizers {opt}' if opt != 'sgd_airbench' else ''))
                print(json.dumps({k: row[k] for k in ('hparams', 'params', 'optimizer', 'policy', 'batch', 'input_images_per_sec', 'step_images_per_sec', 'fit_images_per_sec')}), flush=True)
                with open(ROOT/'benchmarks'/'logs'/'step_profile.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')

if __name__ == '__main__': main()
