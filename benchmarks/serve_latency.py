"""Latency and throughput of the web service and of the Predictor, with the shipped model, on this machine.

    python benchmarks/serve_latency.py [--requests 300] [--concurrency 16] [--code DIR] [--label NAME] [-- SERVE ARGS]

1. `cifar-cnn serve` is started in its own process on a free loopback port (the real uvicorn server). `--code DIR`
   runs the server from another checkout (its `cifar_cnn` first on PYTHONPATH), so that two versions of the service
   are measured side by side, one after the other, on one host. Arguments after `--` go to `cifar-cnn serve`
   (e.g. `-- --batch-size 32 --batch-wait-ms 3`).
2. A load generator (threads with keep-alive HTTP connections, in this process, on the same cores as the server)
   POSTs one 32x32 PNG test image per request to /predict: first one request at a time (single-image latency
   p50/p90/p99), then `--concurrency` clients at once (throughput and latency under load), then /predict/batch with
   32 images per request, then (where the server has it) TF Serving's REST route `/v1/models/<name>:predict` with
   `{"instances": [{"b64": ...}]}` at the same concurrency.
3. Where the server has `/metrics`: the distribution of the model calls' batch sizes during the concurrent phase.
4. The Predictor in-process: batched images/s over 10,000 images (no HTTP).
Every phase is bounded (`--timeout` seconds per request). Appends one JSON line to benchmarks/logs/serve_latency.jsonl
and prints it.
"""
import argparse, base64, http.client, json, os, shutil, signal, socket, subprocess, sys, threading, time, uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

def multipart(field, name, data): return multipart_many(field, [(name, data)])

def multipart_many(field, items):
    b = uuid.uuid4().hex
    body = b''.join((f'--{b}\r\nContent-Disposition: form-data; name="{field}"; filename="{n}"\r\nContent-Type: image/png\r\n\r\n').encode() + d + b'\r\n' for n, d in items)
    return f'multipart/form-data; boundary={b}', body + f'--{b}--\r\n'.encode()

class Client(threading.local):
    "One keep-alive connection per thread."
    def __init__(self, port, timeout): self.port, self.timeout, self.conn = port, timeout, None
    def request(self, method, path, ctype=None, body=None):
        for retry in (False, True):
            if self.conn is None: self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=self.timeout)
            t = time.perf_counter()
            try:
                self.conn.request(method, path, body, {'Content-Type': ctype} if ctype else {})
                r = self.conn.getresponse(); data = r.read()
                return r.status, time.perf_counter() - t, data
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close(); self.conn = None   # uvicorn closes a keep-alive connection idle for 5 s: reconnect once, as browsers do
                if retry: raise
    def post(self, path, ctype, body): return self.request('POST', path, ctype, body)

def pct(lat, q): return round(float(np.percentile(np.array(lat) * 1000, q)), 2)

def load(cl, n, concurrency, make):
    "`n` requests from `concurrency` threads, `make(i)` -> (path, ctype, body); (wall s, results)."
    t = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex: res = list(ex.map(lambda i: cl.post(*make(i)), range(n)))
    return time.perf_counter() - t, res

def summary(n, wall, res, concurrency):
    lat = [r[1] for r in res]
    return dict(concurrency=concurrency, requests=n, errors=sum(r[0] != 200 for r in res), requests_per_sec=round(n / wall, 1),
                p50_ms=pct(lat, 50), p90_ms=pct(lat, 90), p99_ms=pct(lat, 99))

def batch_histogram(cl):
    "The cumulative buckets of the service's batch-size histogram from /metrics, or None when it has none."
    st, _, text = cl.request('GET', '/metrics')
    if st != 200: return None
    from prometheus_client.parser import text_string_to_metric_families
    for fam in text_string_to_metric_families(text.decode()):
        if fam.type == 'histogram' and 'batch_size' in fam.name:
            b = {}
            for s in fam.samples:
                if s.name.endswith('_bucket'): b[s.labels['le']] = b.get(s.labels['le'], 0) + s.value
                elif s.name.endswith('_sum'): b['sum'] = b.get('sum', 0) + s.value
                elif s.name.endswith('_count'): b['count'] = b.get('count', 0) + s.value
            return fam.name, b
    return None

def batch_distribution(before, after):
    "Model calls per batch-size bucket between two scrapes, and the mean batch size."
    if not before or not after: return None
    name, a = after; b = before[1]
    d = {k: a[k] - b.get(k, 0) for k in a}
    les = sorted((k for k in d if k not in ('sum', 'count')), key=lambda k: float(k))
    calls, prev = {}, 0
    for k in les: calls[f'<={k}'] = int(d[k] - prev); prev = d[k]
    return dict(metric=name, model_calls=int(d.get('count', 0)), mean_batch=round(d['sum'] / d['count'], 2) if d.get('count') else None,
                calls_by_size={k: v for k, v in calls.items() if v})

def start_server(a, extra):
    with socket.socket() as so: so.bind(('127.0.0.1', 0)); port = so.getsockname()[1]
    exe = shutil.which('cifar-cnn', path=os.path.dirname(sys.executable)) or 'cifar-cnn'
    env = dict(os.environ)
    if a.code: env['PYTHONPATH'] = str(Path(a.code).resolve()) + os.pathsep + env.get('PYTHONPATH', '')
    srv = subprocess.Popen([exe, 'serve', '--port', str(port), '--log-level', 'warning', *extra], env=env)
    t0 = time.time()
    while True:
        try:
            c = http.client.HTTPConnection('127.0.0.1', port, timeout=2); c.request('GET', '/ready')
            if c.getresponse().status == 200: return srv, port
        except OSError: pass
        if srv.poll() is not None: raise SystemExit(f'the server exited with {srv.returncode}')
        if time.time() - t0 > 240: srv.kill(); raise SystemExit('the server was not ready within 240 s')
        time.sleep(0.5)

def main():
    argv = sys.argv[1:]
    extra = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--requests', type=int, default=300); p.add_argument('--concurrency', type=int, default=16)
    p.add_argument('--code', help='serve from this checkout (for a side-by-side comparison)')
    p.add_argument('--label', default='main', help='what is measured (e.g. a commit), logged with the row')
    p.add_argument('--timeout', type=float, default=60, help='seconds per request at most')
    p.add_argument('--no-log', action='store_true', help='print the row, do not append it to the log')
    a = p.parse_args(argv)
    import cv2
    from cifar_cnn.data import load_sample
    from cifar_cnn.serve import Predictor
    from cifar_cnn.core import host_info
    host = host_info()          # the CPU's flags and its measured matmul peaks, before the server starts
    s = load_sample()
    pngs = [cv2.imencode('.png', im[..., ::-1])[1].tobytes() for im in s.x_test[:64]]
    tfs = [json.dumps({'instances': [{'b64': base64.b64encode(b).decode()}]}).encode() for b in pngs]
    srv, port = start_server(a, extra)
    t_all = time.time()
    try:
        cl = Client(port, a.timeout)
        name = 'default'
        st, _, body = cl.request('GET', '/models')
        if st == 200: name = json.loads(body)['default_model']
        for i in range(20): cl.post('/predict', *multipart('file', 'w.png', pngs[i % 64]))   # warm-up
        single = [cl.post('/predict', *multipart('file', f'{i}.png', pngs[i % 64])) for i in range(a.requests)]
        lat = [r[1] for r in single]
        one = lambda i: ('/predict', *multipart('file', f'{i}.png', pngs[i % 64]))
        load(cl, 4 * a.concurrency, a.concurrency, one)                                      # warm-up under load
        h0 = batch_histogram(cl)
        n_load = a.requests * 3
        wall, res = load(cl, n_load, a.concurrency, one)
        batches = batch_distribution(h0, batch_histogram(cl))
        nb = max(a.requests // 10, 10)
        items = [(f'{i}.png', pngs[i % 64]) for i in range(32)]
        t = time.perf_counter()
        rb = [cl.post('/predict/batch', *multipart_many('files', items)) for _ in range(nb)]
        wall_b = time.perf_counter() - t
        tf_row = None
        path = f'/v1/models/{name}:predict'
        if cl.post(path, 'application/json', tfs[0])[0] == 200:
            tfone = lambda i: (path, 'application/json', tfs[i % 64])
            load(cl, 4 * a.concurrency, a.concurrency, tfone)
            w, r = load(cl, n_load, a.concurrency, tfone)
            tf_row = dict(route='/v1/models/<name>:predict', body='{"instances": [{"b64": PNG}]}', **summary(n_load, w, r, a.concurrency))
    finally:
        srv.send_signal(signal.SIGINT)
        try: srv.wait(30)
        except subprocess.TimeoutExpired: srv.kill()
    pr = Predictor('pretrained')
    x = np.concatenate([s.x_test] * 10)
    pr.probabilities(x[:1000])
    t = time.perf_counter(); pr.probabilities(x); pred_s = time.perf_counter() - t
    cmd = ' '.join(['python benchmarks/serve_latency.py', *argv] + (['--', *extra] if extra else []))
    row = dict(label=a.label, serve_args=extra,
               single=dict(requests=a.requests, errors=sum(r[0] != 200 for r in single), p50_ms=pct(lat, 50), p90_ms=pct(lat, 90),
                           p99_ms=pct(lat, 99), requests_per_sec=round(len(lat) / sum(lat), 1)),
               concurrent=summary(n_load, wall, res, a.concurrency), batch_sizes=batches,
               batch32=dict(requests=nb, errors=sum(r[0] != 200 for r in rb), images_per_sec=round(32 * nb / wall_b, 1),
                            p50_ms=pct([r[1] for r in rb], 50)),
               tfserving=tf_row, predictor_images_per_sec=round(len(x) / pred_s, 1), model='pretrained',
               load_generator='threads with keep-alive connections in the benchmark process, on the same cores as the server',
               **host, command=cmd, date=time.strftime('%Y-%m-%d %H:%M'))
    print(json.dumps(row, indent=1))
    errs = row['single']['errors'] + row['concurrent']['errors'] + row['batch32']['errors'] + (tf_row['errors'] if tf_row else 0)
    if errs: raise SystemExit(f'{errs} requests failed: not logged')
    if not a.no_log:
        with open(ROOT/'benchmarks'/'logs'/'serve_latency.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')

if __name__ == '__main__': main()
