"""Latency and throughput of the web service and of the Predictor, with the shipped model, on this machine.

    python benchmarks/serve_latency.py [--requests 300] [--concurrency 8]

1. `cifar-cnn serve` is started in its own process on a free loopback port (the real uvicorn server).
2. A load generator (threads with keep-alive HTTP connections, in this process) POSTs one 32x32 PNG test image per
   request to /predict: first one request at a time (single-image latency p50/p90/p99), then `--concurrency`
   requests at a time (throughput and latency under load), then /predict/batch with 32 images per request.
3. The Predictor in-process: batched images/s over 10,000 images (no HTTP).
The load generator shares the CPU with the server (loopback on one machine), so the throughput is a lower bound.
Appends one JSON line to benchmarks/logs/serve_latency.jsonl and prints it.
"""
import argparse, http.client, json, os, shutil, signal, socket, subprocess, sys, threading, time, uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

def multipart(field, name, data): return multipart_many(field, [(name, data)])

def multipart_many(field, items):
    b = uuid.uuid4().hex
    body = b''.join((f'--{b}\r\nContent-Disposition: form-data; name="{field}"; filename="{n}"\r\nContent-Type: image/png\r\n\r\n').encode() + d + b'\r\n' for n, d in items)
    return b, body + f'--{b}--\r\n'.encode()

class Client(threading.local):
    def __init__(self, port): self.port = port; self.conn = None
    def post(self, path, boundary, body):
        for retry in (False, True):
            if self.conn is None: self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=60)
            t = time.perf_counter()
            try:
                self.conn.request('POST', path, body, {'Content-Type': f'multipart/form-data; boundary={boundary}'})
                r = self.conn.getresponse(); data = r.read()
                return r.status, time.perf_counter() - t, data
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close(); self.conn = None   # uvicorn closes a keep-alive connection idle for 5 s: reconnect once, as browsers do
                if retry: raise

def pct(lat, q): return round(float(np.percentile(np.array(lat) * 1000, q)), 2)

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--requests', type=int, default=300); p.add_argument('--concurrency', type=int, default=8)
    a = p.parse_args()
    import cv2
    from cifar_cnn.data import load_sample
    from cifar_cnn.serve import Predictor
    from cifar_cnn.core import environment
    s = load_sample()
    pngs = [cv2.imencode('.png', im[..., ::-1])[1].tobytes() for im in s.x_test[:64]]
    with socket.socket() as so: so.bind(('127.0.0.1', 0)); port = so.getsockname()[1]
    exe = shutil.which('cifar-cnn', path=os.path.dirname(sys.executable)) or 'cifar-cnn'
    srv = subprocess.Popen([exe, 'serve', '--port', str(port), '--log-level', 'warning'])
    try:
        for _ in range(240):
            try: c = http.client.HTTPConnection('127.0.0.1', port, timeout=2); c.request('GET', '/health'); c.getresponse().read(); break
            except OSError: time.sleep(0.5)
        cl = Client(port)
        for i in range(20): cl.post('/predict', *multipart('file', 'w.png', pngs[i % 64]))   # warm-up
        lat, bad = [], 0
        for i in range(a.requests):
            st, dt, _ = cl.post('/predict', *multipart('file', f'{i}.png', pngs[i % 64])); lat.append(dt); bad += st != 200
        def one(i):
            return cl.post('/predict', *multipart('file', f'{i}.png', pngs[i % 64]))
        n_load = a.requests * 3
        t = time.perf_counter()
        with ThreadPoolExecutor(a.concurrency) as ex: res = list(ex.map(one, range(n_load)))
        wall = time.perf_counter() - t
        lat_c = [r[1] for r in res]; bad_c = sum(r[0] != 200 for r in res)
        nb = max(a.requests // 10, 10)
        items = [(f'{i}.png', pngs[i % 64]) for i in range(32)]
        t = time.perf_counter()
        rb = [cl.post('/predict/batch', *multipart_many('files', items)) for _ in range(nb)]
        wall_b = time.perf_counter() - t
    finally:
        srv.send_signal(signal.SIGINT); srv.wait(30)
    pr = Predictor('pretrained')
    x = np.concatenate([s.x_test] * 10)
    pr.probabilities(x[:1000])
    t = time.perf_counter(); pr.probabilities(x); pred_s = time.perf_counter() - t
    row = dict(single=dict(requests=a.requests, errors=bad, p50_ms=pct(lat, 50), p90_ms=pct(lat, 90), p99_ms=pct(lat, 99),
                           requests_per_sec=round(len(lat) / sum(lat), 1)),
               concurrent=dict(concurrency=a.concurrency, requests=n_load, errors=bad_c, requests_per_sec=round(n_load / wall, 1),
                               p50_ms=pct(lat_c, 50), p99_ms=pct(lat_c, 99)),
               batch32=dict(requests=nb, errors=sum(r[0] != 200 for r in rb), images_per_sec=round(32 * nb / wall_b, 1),
                            p50_ms=pct([r[1] for r in rb], 50)),
               predictor_images_per_sec=round(len(x) / pred_s, 1), model='pretrained', environment=environment(),
               command='python benchmarks/serve_latency.py' + (f' --requests {a.requests}' if a.requests != 300 else '')
                       + (f' --concurrency {a.concurrency}' if a.concurrency != 8 else ''), date=time.strftime('%Y-%m-%d %H:%M'))
    print(json.dumps(row, indent=1))
    if bad or bad_c or row['batch32']['errors']: raise SystemExit('some requests failed: not logged')
    with open(ROOT/'benchmarks'/'logs'/'serve_latency.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')

if __name__ == '__main__': main()
