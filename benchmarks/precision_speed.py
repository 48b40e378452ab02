"""Training and inference speed of the airbench net on this machine in float32 vs mixed_bfloat16.

    CIFAR_CNN_DATA=../shared/data python benchmarks/precision_speed.py [--steps 20] [--batch 1024]

Times `--steps` training steps (after 3 warm-up steps) of the `airbench94` preset's model and optimiser at the preset's
batch size, and batched inference over 10,000 images, under each precision policy. Appends one JSON line per policy
to benchmarks/logs/precision_speed.jsonl.
"""
import argparse, json, os, time
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import cifar_cnn.core   # before keras: the package asks for TensorFlow's oneDNN ops, read once when TensorFlow loads
import keras
from cifar_cnn.data import load_cifar, make_dataset
from cifar_cnn.models import model_summary
from cifar_cnn.core import host_info
from cifar_cnn.train import TrainConfig, build_for_training, compile_for_training

ROOT = Path(__file__).resolve().parents[1]

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--steps', type=int, default=20); p.add_argument('--batch', type=int, default=1024)
    a = p.parse_args()
    host = host_info()          # the CPU's flags and its measured matmul peaks, first, on an idle CPU
    data = load_cifar()
    cfg = TrainConfig.preset('airbench94', batch_size=a.batch)
    for policy in ('float32', 'mixed_bfloat16'):
        keras.mixed_precision.set_global_policy(policy)
        keras.utils.set_random_seed(0)
        d = dict(num_classes=10, x_train=data.x_train, steps_per_epoch=48, one_hot=True)   # what the recipe's steps read of training_data's output
        m = compile_for_training(build_for_training(cfg, d), cfg, d)                     # the model, optimiser and loss `train` uses
        ds = make_dataset(data.x_train, data.y_train, a.batch, shuffle=True, augment='airbench', num_classes=10, one_hot=True, drop_remainder=True).repeat()
        m.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)
        t = time.perf_counter(); m.fit(ds, steps_per_epoch=a.steps, epochs=1, verbose=0); train_s = time.perf_counter() - t
        x = data.x_test.astype('float32')
        m.predict(x[:1000], batch_size=1000, verbose=0)
        t = time.perf_counter(); m.predict(x, batch_size=1000, verbose=0); inf_s = time.perf_counter() - t
        row = dict(policy=policy, batch=a.batch, train_images_per_sec=round(a.steps * a.batch / train_s, 1),
                   inference_images_per_sec=round(len(x) / inf_s, 1), flops_per_image=model_summary(m)['flops'], **host)
        print(json.dumps({k: row[k] for k in ('policy', 'train_images_per_sec', 'inference_images_per_sec')}), flush=True)
        with open(ROOT/'benchmarks'/'logs'/'precision_speed.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')
    keras.mixed_precision.set_global_policy('float32')

if __name__ == '__main__': main()
