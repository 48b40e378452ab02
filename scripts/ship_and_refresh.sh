#!/usr/bin/env bash
# Ship a finished full-data run as the package's pretrained model, then re-measure and re-render everything the docs
# say about the shipped model, so no number in README/docs describes the previous one:
#
#     scripts/ship_and_refresh.sh runs/bench/<run>
#
# 1. scripts/ship_pretrained.py RUN: float16 weights, config, history, evaluation (with and without TTA) and model card
#    into cifar_cnn/assets/pretrained/ (refuses runs not trained on the full CIFAR-10, or weights over 10 MB);
# 2. the benchmarks that measure the shipped model: exports (export_accuracy.py), inference speed next to the CPU's
#    peak (inference_speed.py), web-service latency (serve_latency.py); each appends to its log under benchmarks/logs/;
# 3. the notebooks that show the shipped model, executed in place (02_models, 07_serve, 08_app, 09_export, 11_cli),
#    the results page (it reads the logs of step 2) and index, then nbdev_clean, nbdev_export and README.md from index.ipynb.
# Needs the full CIFAR-10 ($CIFAR_CNN_DATA, default ../shared/data) and the dev install in .venv. Takes about 15-20
# minutes on 2 CPU cores; nothing else should run meanwhile (the speed benchmarks would measure the contention).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] && [ -f "$1/metrics.json" ] || { echo "usage: $0 RUN_DIR (a finished run: RUN_DIR/metrics.json must exist)"; exit 2; }
export CIFAR_CNN_DATA=${CIFAR_CNN_DATA:-../shared/data} TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg
py=.venv/bin/python
step() { echo "== $(date +%H:%M:%S) $*"; }
step "ship $1"; $py scripts/ship_pretrained.py "$1"
step "export accuracy"; $py benchmarks/export_accuracy.py
step "inference speed"; $py benchmarks/inference_speed.py
step "serve latency"; $py benchmarks/serve_latency.py
for nb in 02_models 07_serve 08_app 09_export 11_cli results index; do
  [ -f "nbs/$nb.ipynb" ] || { echo "no nbs/$nb.ipynb: update this list (scripts/ship_and_refresh.sh)"; exit 1; }
  step "execute nbs/$nb.ipynb"; (cd nbs && ../.venv/bin/exec_nb "$nb.ipynb" --dest "$nb.ipynb" --exc_stop)
done
step "clean, export, README"; .venv/bin/nbdev_clean; .venv/bin/nbdev_export; $py scripts/readme.py
step "done: review git diff, then commit"
