"""Inference speed of the shipped model on this CPU, next to the CPU's measured peak, in float32 and mixed_bfloat16.

    CIFAR_CNN_DATA=../shared/data python benchmarks/inference_speed.py

1. The CPU's peak: the best of 5 timed 4096x4096 matrix products (tf.matmul, all cores) in float32 and bfloat16,
   in FLOP/s (2 n^3 per product).
2. The shipped model (`pretrained()`), rebuilt under each precision policy, predicting the 10,000 test images in
   batches of 1,000: images/s (best of 3), the FLOP/s that implies (images/s x the model's FLOPs per image, counted as
   2 x multiply-adds of its conv and dense layers), that as a share of the peak, and the test accuracy under the
   policy (does bfloat16 lose accuracy?).
Appends one JSON line to benchmarks/logs/inference_speed.jsonl and prints it.
"""
import json, os, time
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np
import cifar_cnn.core   # before keras: the package asks for TensorFlow's oneDNN ops, read once when TensorFlow loads
import keras, tensorflow as tf
from cifar_cnn.data import load_cifar
from cifar_cnn.models import build_model, load_weights_npz, pretrained_dir, model_summary
from cifar_cnn.core import environment, matmul_peak

ROOT = Path(__file__).resolve().parents[1]

def main():
    data = load_cifar()
    card = json.loads((pretrained_dir()/'manifest.json').read_text())
    x = data.x_test.astype('float32')
    row = dict(environment=environment(), date=time.strftime('%Y-%m-%d %H:%M'), command='CIFAR_CNN_DATA=../shared/data python benchmarks/inference_speed.py')
    for policy, dt in (('float32', 'float32'), ('mixed_bfloat16', 'bfloat16')):
        peak = matmul_peak(dt)
        keras.mixed_precision.set_global_policy(policy)
        m = build_model(card['model'], card['num_classes'], **card.get('hparams', {}))
        load_weights_npz(m, pretrained_dir()/'weights.npz', card['weights_sha256'])
        fwd = tf.function(lambda b: m(b, training=False), input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32)])
        run = lambda: np.concatenate([tf.cast(fwd(x[i:i + 1000]), tf.float32).numpy() for i in range(0, len(x), 1000)])
        run()
        times = []
        for _ in range(3): t = time.perf_counter(); out = run(); times.append(time.perf_counter() - t)
        ips = len(x) / min(times)
        flops = model_summary(m)['flops']
        row[policy] = dict(matmul_peak_gflops=round(peak / 1e9, 1), images_per_sec=round(ips, 1), flops_per_image=flops,
                           model_gflops=round(ips * flops / 1e9, 1), share_of_peak=round(ips * flops / peak, 3),
                           test_accuracy=float((out.argmax(1) == data.y_test).mean()))
        keras.mixed_precision.set_global_policy('float32')
        print(policy, json.dumps(row[policy]), flush=True)
    with open(ROOT/'benchmarks'/'logs'/'inference_speed.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')

if __name__ == '__main__': main()
