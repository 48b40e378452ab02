#!/usr/bin/env bash
# The fast preset on a GPU, in one sitting: images/s with and without XLA and mixed precision (2 epochs of each of the
# four settings), then the preset as it ships ('auto': float16 and XLA on a GPU) on the full CIFAR-10, with its time and
# test accuracy, the GPU's name (in each log row's environment) and airbench94's published figure beside it.
#
#   CIFAR_CNN_DATA=../shared/data bash benchmarks/gpu.sh [SEEDS]      # SEEDS default 0; e.g. 0,1,2
#
# Rows go to benchmarks/logs/fast_*.jsonl through benchmarks/fast_recipe.py (resumable; seeds already logged are skipped).
# Without a GPU it stops at once (exit 3): on CPU the preset is benchmarks/fast_recipe.py's job.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
seeds=${1:-0}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
gpu=$("$py" -c "import tensorflow as tf; g = tf.config.list_physical_devices('GPU'); print(tf.config.experimental.get_device_details(g[0]).get('device_name', g[0].name) if g else '')")
if [ -z "$gpu" ]; then
  echo "gpu.sh: TensorFlow sees no GPU on this machine: run it where one is (pip install 'tensorflow[and-cuda]'), or use benchmarks/fast_recipe.py on CPU." >&2
  exit 3
fi
echo "== GPU: $gpu"
for xla in on off; do
  for mp in '"mixed_float16"' '"off"'; do
    echo "== speed: jit_compile=$xla mixed_precision=$mp, 2 epochs"
    "$py" benchmarks/fast_recipe.py --preset fast --seeds 0 --set jit_compile="\"$xla\"" --set mixed_precision="$mp" --set epochs=2 | tail -n 3
  done
done
echo "== the fast preset as it ships (auto: float16 and XLA), seeds $seeds"
"$py" benchmarks/fast_recipe.py --preset fast --seeds "$seeds" | tail -n 4
echo "== for comparison: airbench94 (PyTorch) reaches 94.0% in 2.6-3.3 s on an A100 (published; its own test set, full CIFAR-10)"
