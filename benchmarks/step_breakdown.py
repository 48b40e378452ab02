"""One training step of a preset, taken apart: what oneDNN runs (primitive kind, implementation, ms per step), what is
left of the step outside oneDNN (BatchNorm statistics, GELU, the optimiser's update, Keras and tf.function overhead),
the net's FLOPs against the host's matmul peak; on this host as it is, or with oneDNN capped at an instruction set.

    CIFAR_CNN_DATA=../shared/data python benchmarks/step_breakdown.py --isa AVX2 --policy float32
    CIFAR_CNN_DATA=../shared/data python benchmarks/step_breakdown.py --isa default --policy mixed_bfloat16

`--onednn-opts on|off` sets TF_ENABLE_ONEDNN_OPTS=1 or 0 (TensorFlow's oneDNN ops for conv, matmul and BatchNorm; TensorFlow turns them on by
itself only where the CPU has AVX-512 VNNI, bf16 or AMX; `default` leaves it to the package, which asks for them). `--isa AVX2` sets ONEDNN_MAX_CPU_ISA=AVX2: oneDNN then dispatches the kernels it runs on a CPU whose best vector unit is
AVX2 (no AVX-512, no AMX), which is how a run on an AVX-512 host stands in for an AVX2-only one. It is a stand-in, not
that host: TensorFlow's own Eigen kernels are built for AVX2 either way, but clock, caches and memory bandwidth stay
this host's. Each measurement runs in a fresh child process (the cap is read when oneDNN starts):
- `time`: images/s of the compiled train step on one batch held in memory, the matmul peak (same cap, same dtype);
- `profile`: the same steps with ONEDNN_VERBOSE=profile_exec, summed per primitive (kind, implementation, direction).
  TensorFlow runs independent ops at once (a conv's backward-data beside its backward-weights), so the primitives'
  summed time can exceed the step's: `onednn_overlap` is that sum over the profiled step time. What is outside
  oneDNN (BatchNorm, GELU, the optimiser's update, Keras' overhead) is not timed separately.
One JSON line per run is appended to benchmarks/logs/step_breakdown.jsonl.
"""
import argparse, collections, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
from _provenance import code_commit
MARK = '@@step_breakdown'

def child(a):
    "Build the preset's model and optimiser as `train` does, then time (or profile) `a.steps` steps on one batch."
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    from cifar_cnn.core import matmul_peak, environment     # first: it asks for TensorFlow's oneDNN ops unless the env says
    import keras, numpy as np, tensorflow as tf
    from cifar_cnn.models import model_summary
    from cifar_cnn.train import TrainConfig, build_for_training, compile_for_training
    over = {k: json.loads(v) for k, v in (s.split('=', 1) for s in a.set)}
    cfg = TrainConfig.preset(a.preset, mixed_precision='off' if a.policy == 'float32' else a.policy, **over)
    bs = cfg.batch_size
    keras.mixed_precision.set_global_policy(a.policy); keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (bs, 32, 32, 3), dtype=np.uint8)
    y = keras.utils.to_categorical(rng.integers(0, 10, bs), 10).astype('float32')
    opts = tf.data.Options(); opts.autotune.enabled = False
    one = tf.data.Dataset.from_tensors((x, y)).repeat().with_options(opts)
    d = dict(num_classes=10, x_train=x, steps_per_epoch=50000 // bs, one_hot=True)
    m = compile_for_training(build_for_training(cfg, d), cfg, d)
    m.fit(one, steps_per_epoch=3, epochs=1, verbose=0)                  # trace, compile, first-touch
    out = dict(batch=bs, params=m.count_params(), forward_flops_per_image=model_summary(m)['flops'] if a.mode == 'time' else None)
    print(MARK, 'begin', flush=True)
    t = time.perf_counter(); m.fit(one, steps_per_epoch=a.steps, epochs=1, verbose=0); secs = time.perf_counter() - t
    print(MARK, 'end', flush=True)
    out['step_ms'] = 1000 * secs / a.steps
    if a.mode == 'time':
        out['environment'] = environment()    # the child's: what it ran (oneDNN ops included), not the parent's
        out['matmul_gflops'] = round(matmul_peak('bfloat16' if 'bfloat16' in a.policy else 'float32') / 1e9, 1)
    print(MARK, 'result', json.dumps(out), flush=True)

def parse(lines, steps):
    "ms per step of each oneDNN primitive `(kind, implementation, direction)` executed between the markers."
    agg, on = collections.defaultdict(float), False
    for l in lines:
        if l.startswith(MARK): on = l.split()[1] == 'begin' if l.split()[1] in ('begin', 'end') else on; continue
        if not on or not l.startswith('onednn_verbose') or ',exec,' not in l: continue
        p = l.strip().split(',')
        i = p.index('exec')
        try: agg[(p[i + 2], p[i + 3], p[i + 4])] += float(p[-1])
        except (ValueError, IndexError): pass
    return {k: v / steps for k, v in agg.items()}

def run_child(a, mode, isa):
    env = {**os.environ, 'PYTHONUNBUFFERED': '1'}
    if isa != 'default': env['ONEDNN_MAX_CPU_ISA'] = isa
    if mode == 'profile': env['ONEDNN_VERBOSE'] = 'profile_exec'
    if a.onednn_opts != 'default': env['TF_ENABLE_ONEDNN_OPTS'] = '1' if a.onednn_opts == 'on' else '0'
    cmd = [sys.executable, __file__, '--child', mode, '--preset', a.preset, '--policy', a.policy, '--steps', str(a.steps)] + sum((['--set', s] for s in a.set), [])
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = r.stdout.splitlines()
    res = [json.loads(l.split(' ', 2)[2]) for l in lines if l.startswith(MARK + ' result')]
    if r.returncode or not res: sys.exit(f"the {mode} child failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    return res[0], lines

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--preset', default='fast'); p.add_argument('--policy', default='float32')
    p.add_argument('--isa', default='default', help="oneDNN's ISA cap (ONEDNN_MAX_CPU_ISA), e.g. AVX2; 'default': none")
    p.add_argument('--onednn-opts', default='default', choices=['default', 'on', 'off'],
                   help="TF_ENABLE_ONEDNN_OPTS for the children: TensorFlow's oneDNN conv/matmul/BatchNorm ops, which TensorFlow turns on by itself only on CPUs with AVX-512 VNNI, bf16 or AMX; 'default': as the package sets it (on, unless the environment says otherwise). The row's environment (its `onednn_ops` included) is the timed child's")
    p.add_argument('--steps', type=int, default=5); p.add_argument('--set', action='append', default=[], metavar='FIELD=JSON')
    p.add_argument('--child', default=None, help=argparse.SUPPRESS)
    a = p.parse_args()
    commit = code_commit(ROOT)     # read at start: the code that runs, not what HEAD is when a row is written
    if a.child: a.mode = a.child; return child(a)
    timed, _ = run_child(a, 'time', a.isa)
    prof, lines = run_child(a, 'profile', a.isa)
    per = parse(lines, a.steps)
    kinds = collections.defaultdict(float)
    for (kind, impl, prop), ms in per.items(): kinds[f'{kind} {prop}'] += ms
    onednn = sum(per.values())
    ips = 1000 * timed['batch'] / timed['step_ms']
    achieved = 3 * timed['forward_flops_per_image'] * ips / 1e9          # training ≈ forward + 2× backward
    row = dict(train_preset=a.preset, train_overrides={k: json.loads(v) for k, v in (o.split('=', 1) for o in a.set)}, policy=a.policy, isa=a.isa, onednn_opts=a.onednn_opts, batch=timed['batch'], params=timed['params'],
               forward_mflops_per_image=round(timed['forward_flops_per_image'] / 1e6, 1), step_ms=round(timed['step_ms'], 1),
               images_per_sec=round(ips, 1), train_gflops=round(achieved, 1), matmul_gflops=timed['matmul_gflops'],
               share_of_peak=round(achieved / timed['matmul_gflops'], 3),
               profiled_step_ms=round(prof['step_ms'], 1), onednn_ms=round(onednn, 1), onednn_overlap=round(onednn / prof['step_ms'], 2),
               by_kind={k: round(v, 1) for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])},
               top_primitives=[dict(kind=k, impl=i, prop=pr, ms=round(v, 2)) for (k, i, pr), v in sorted(per.items(), key=lambda kv: -kv[1])[:12]],
               environment=timed['environment'], steps=a.steps,
               commit=commit,
               command='CIFAR_CNN_DATA=../shared/data python benchmarks/step_breakdown.py' + (f' --isa {a.isa}' if a.isa != 'default' else '')
                       + (f' --onednn-opts {a.onednn_opts}' if a.onednn_opts != 'default' else '') + (f' --steps {a.steps}' if a.steps != 5 else '')
                       + f' --policy {a.policy}' + (f' --preset {a.preset}' if a.preset != 'fast' else '') + ''.join(f" --set '{s}'" for s in a.set))
    print(json.dumps(row, indent=1), flush=True)
    with open(ROOT/'benchmarks'/'logs'/'step_breakdown.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')

if __name__ == '__main__': main()
