"""Size and accuracy of each export of the shipped model against the Keras model, on the full CIFAR-10 test set.

    CIFAR_CNN_DATA=../shared/data python benchmarks/export_accuracy.py

Exports `cifar_cnn.models.pretrained()` as a SavedModel, float TFLite and int8 TFLite (calibrated on 500 training
images drawn with seed 0), runs each export the way its users would (`tf.saved_model.load`, the TFLite interpreter)
on the 10,000 test images, and compares with the Keras model: accuracy, share of identical top-1 predictions, size on
disk, images/s. Appends one JSON line to benchmarks/logs/export_accuracy.jsonl and writes benchmarks/export_accuracy.md.
"""
import json, os, tempfile, time
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
from cifar_cnn.data import load_cifar
from cifar_cnn.models import pretrained, pretrained_dir
from cifar_cnn.serve import Predictor
from cifar_cnn.export import export_model, evaluate_export, EXPORT_FILES, calibration_sample
from cifar_cnn.core import host_info

ROOT = Path(__file__).resolve().parents[1]

def main():
    data = load_cifar()
    model = pretrained()
    pr = Predictor(model)
    t = time.perf_counter(); ref = pr.probabilities(data.x_test); ks = time.perf_counter() - t
    rows = [dict(format='keras (weights.npz)', size_bytes=(pretrained_dir()/'weights.npz').stat().st_size,
                 accuracy=float((ref.argmax(1) == data.y_test).mean()), agree_with_keras=1.0, images_per_sec=round(len(ref) / ks, 1))]
    cal = calibration_sample(data.x_train, 500, seed=0)
    out = Path(tempfile.mkdtemp())
    for fmt, name in EXPORT_FILES.items():
        t = time.perf_counter(); path = export_model(model, out/name, fmt, calibration=cal); secs = time.perf_counter() - t
        e = evaluate_export(path, data.x_test, data.y_test, reference=ref)
        rows.append(dict(format=fmt, size_bytes=e['size_bytes'], accuracy=e['accuracy'], images_per_sec=e['images_per_sec'],
                         agree_with_keras=e['agree_with_reference'], export_seconds=round(secs, 1)))
        print(json.dumps(rows[-1]), flush=True)
    rec = dict(rows=rows, n_test=len(data.y_test), data_source=data.source, **host_info(), date=time.strftime('%Y-%m-%d %H:%M'),
               command='CIFAR_CNN_DATA=../shared/data python benchmarks/export_accuracy.py')
    with open(ROOT/'benchmarks'/'logs'/'export_accuracy.jsonl', 'a') as f: f.write(json.dumps(rec) + '\n')
    md = ["# Exports of the shipped model", "", f"Command: `{rec['command']}`; log: `benchmarks/logs/export_accuracy.jsonl`; "
          f"{rec['n_test']:,} test images of `{data.source}`; {rec['environment']['cpu']}, {rec['environment']['cpu_count']} cores, "
          f"TensorFlow {rec['environment']['tensorflow']}.", "",
          "| format | size (MB) | test accuracy | same top-1 as Keras | images/s |", "|---|---:|---:|---:|---:|"]
    md += [f"| {r['format']} | {r['size_bytes'] / 1e6:.2f} | {r['accuracy']:.4f} | {r['agree_with_keras']:.2%} | {r['images_per_sec']:.0f} |" for r in rows]
    md += ["", "TFLite runs one image per call through its signature runner (batch 1), the others in batches of 500."]
    (ROOT/'benchmarks'/'export_accuracy.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))

if __name__ == '__main__': main()
