#!/usr/bin/env python3
"""Build the Docker image and run it: the container check of issue 21, run by .ci/run. Python's standard library only.

  python3 scripts/docker_check.py [--base IMAGE] [--timeout SECONDS] [--no-log]

1. A Docker daemon: the one that runs, else `dockerd` started here when this user can (root); else it prints
   `SKIPPED: <why>` and exits 0, so that machines without Docker do not fail CI.
2. The base image: `cifar-cnn-base:bookworm`, made from Debian packages (debootstrap a bookworm root with python3,
   python3-venv and passwd, then `docker import`; kept once made) because Docker Hub may be out of reach. `--base
   python:3.11-slim` builds on the Dockerfile's default instead (Docker pulls it).
3. The image, built with `--network host`: pip in the build installs from a wheelhouse that this machine's pip
   downloads (with its own index, mirror and certificate settings) and that this script serves on 127.0.0.1 only.
4. The container, run with `--network host` and `cifar-cnn serve --host 127.0.0.1 --port <free port>`: it must become
   healthy (the Dockerfile's HEALTHCHECK on /ready), run as a non-root user, answer a PNG of a test image of the
   shipped sample with 200 and its top-5 classes, and a corrupt PNG with 400 `{error, detail}`; then it is removed,
   on failure too, and a dockerd started here is stopped.
5. One JSON line appended to benchmarks/logs/docker.jsonl: image sizes, build times, time from `docker run` to ready
   and to healthy, the base image, date, host CPU (also when a step fails, with `ok: false` and the step).
Exit status: 0 passed or skipped, 1 failed.
"""
import argparse, base64, contextlib, functools, http.server, json, os, platform, re, shlex, shutil, signal, socket
import subprocess, sys, tempfile, threading, time, urllib.error, urllib.request, uuid
from configparser import ConfigParser
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT/'benchmarks'/'logs'/'docker.jsonl'
DEFAULT_BASE = 'cifar-cnn-base:bookworm'
CACHE = Path(os.environ.get('CIFAR_CNN_DOCKER_CACHE', '/var/tmp/cifar-cnn-docker'))   # dockerd's log, the wheelhouse
WHEEL_PORT = int(os.environ.get('CIFAR_CNN_DOCKER_WHEEL_PORT', '18761'))  # fixed when free: the build args stay the same, so Docker's layer cache holds
T0 = time.time()

class Skip(Exception): "This machine cannot run the check (no Docker daemon, or none can be started): not a failure."
class Fail(Exception): "The check ran and something is wrong."

def say(*a): print(f"[docker_check {time.time() - T0:6.1f}s]", *a, flush=True)

class Deadline:
    "The check's time budget: every command gets at most what is left of it."
    def __init__(self, seconds:float): self.end = time.time() + seconds
    def left(self, cap:float) -> float:
        t = min(cap, self.end - time.time())
        if t <= 1: raise Fail("out of time: the check's --timeout is spent")
        return t

def run(cmd, deadline:Deadline, cap:float=120, check=True, **kw) -> subprocess.CompletedProcess:
    "Run `cmd` (a list) within the deadline; its output captured as text; `Fail` naming it when it fails."
    kw.setdefault('stdout', subprocess.PIPE); kw.setdefault('stderr', subprocess.PIPE)
    try: r = subprocess.run(cmd, timeout=deadline.left(cap), text=kw.pop('text', True), **kw)
    except subprocess.TimeoutExpired: raise Fail(f"timed out: {shlex.join(map(str, cmd))}") from None
    if check and r.returncode:
        raise Fail(f"{shlex.join(map(str, cmd))} exited {r.returncode}: {(r.stderr or r.stdout or '')[-2000:].strip()}")
    return r

def docker(*a, deadline:Deadline, cap:float=120, check=True, **kw) -> str:
    return run(['docker', *a], deadline, cap, check, **kw).stdout.strip()

def free_port(preferred:int=0) -> int:
    "`preferred` when it is free on 127.0.0.1, else a free port."
    for p in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            try: s.bind(('127.0.0.1', p)); return s.getsockname()[1]
            except OSError: continue

# --- 1. the daemon -------------------------------------------------------------------------------------------------
def _daemon_up(deadline, wait:float) -> bool:
    t = time.time() + wait
    while time.time() < t:
        try:
            if subprocess.run(['docker', 'info'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=deadline.left(30)).returncode == 0: return True
        except subprocess.TimeoutExpired: pass
        time.sleep(1)
    return False

DAEMON_FLAGS = ([], ['--iptables=false', '--bridge=none'], ['--iptables=false', '--bridge=none', '--storage-driver=vfs'])

def start_daemon(deadline:Deadline, facts:dict):
    "A reachable Docker daemon: the one running, else one started here (returned, to stop at the end); else `Skip`."
    if not shutil.which('docker'): raise Skip("no docker command (Debian: apt-get install docker.io)")
    if _daemon_up(deadline, 1): facts['daemon'] = 'running'; return None
    if not shutil.which('dockerd'): raise Skip("no Docker daemon runs and dockerd is not installed (Debian: apt-get install docker.io)")
    if os.geteuid() != 0:
        if Path('/var/run/docker.sock').exists(): raise Skip("the Docker daemon does not answer this user (not in the docker group?)")
        raise Skip("no Docker daemon runs, and starting one needs root")
    CACHE.mkdir(parents=True, exist_ok=True)
    for flags in DAEMON_FLAGS:        # as installed; then without iptables and a bridge (everything here uses --network host); then without overlayfs
        say('starting dockerd', *flags)
        with open(CACHE/'dockerd.log', 'ab') as log:
            p = subprocess.Popen(['dockerd', *flags], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        if _daemon_up(deadline, 40) and p.poll() is None:
            facts['daemon'] = ' '.join(['started: dockerd', *flags]); return p
        stop_daemon(p)
    tail = (CACHE/'dockerd.log').read_text(errors='replace').strip().splitlines()[-3:]
    raise Skip(f"dockerd would not start here (see {CACHE/'dockerd.log'}): {' | '.join(tail)}")

def stop_daemon(p):
    if p is None or p.poll() is not None: return
    p.terminate()
    try: p.wait(30)
    except subprocess.TimeoutExpired: p.kill(); p.wait(10)

# --- 2. the base image ---------------------------------------------------------------------------------------------
def debian_mirror() -> str:
    "The Debian mirror apt uses here, else deb.debian.org."
    for f in [Path('/etc/apt/sources.list'), *sorted(Path('/etc/apt/sources.list.d').glob('*'))]:
        try: t = f.read_text(errors='replace')
        except OSError: continue
        for line in t.splitlines():
            if line.lstrip().startswith('#'): continue
            if m := re.search(r'(https?://\S+/debian)/?(\s|$)', line): return m.group(1)
    return 'http://deb.debian.org/debian'

def make_base(base:str, deadline:Deadline, facts:dict):
    "The debootstrap base image, unless Docker has it already (or it is another image, which `docker build` pulls)."
    if run(['docker', 'image', 'inspect', base], deadline, 60, check=False).returncode == 0:
        say(f'base image {base}: made before'); facts['base_build_s'] = None; return
    if base != DEFAULT_BASE: say(f'base image {base}: docker build pulls it'); facts['base_build_s'] = None; return
    if not shutil.which('debootstrap'): raise Skip(f"the base image {base} is missing and debootstrap is not installed (Debian: apt-get install debootstrap)")
    if os.geteuid() != 0: raise Skip(f"the base image {base} is missing, and debootstrap needs root")
    t0, mirror = time.time(), debian_mirror()
    with tempfile.TemporaryDirectory(prefix='cifar-cnn-base-', dir='/var/tmp') as d:
        root = Path(d)/'root'
        say(f'debootstrap bookworm from {mirror} (minbase + python3, python3-venv, passwd)')
        run(['debootstrap', '--variant=minbase', '--include=python3,python3-venv,passwd', 'bookworm', str(root), mirror], deadline, 1200)
        for sub in ('var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/man', 'usr/share/info'):
            for p in (root/sub).glob('*'):
                if p.is_file(): p.unlink()
                elif p.is_dir() and not p.is_symlink(): shutil.rmtree(p)
        for p in (root/'usr/share/doc').rglob('*'):                    # the copyright files stay
            if p.is_file() and p.name != 'copyright': p.unlink()
        say(f'docker import -> {base}')
        tar = subprocess.Popen(['tar', '-C', str(root), '-c', '.'], stdout=subprocess.PIPE)
        run(['docker', 'import', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
             '--change', 'ENV LANG=C.UTF-8', '--change', 'CMD ["bash"]', '-', base], deadline, 600, stdin=tar.stdout)
        tar.stdout.close(); tar.wait()
    facts['base_build_s'] = round(time.time() - t0, 1)

# --- 3. the wheelhouse and the build -------------------------------------------------------------------------------
def requirements() -> list:
    "What the Dockerfile's deps stage installs: settings.ini's requirements and serve extra, tensorflow -> tensorflow-cpu."
    c = ConfigParser(delimiters=['=']); c.read(ROOT/'settings.ini', encoding='utf-8'); d = c['DEFAULT']
    rs = shlex.split(d.get('requirements', '')) + shlex.split(d.get('pip_requirements', '')) + d.get('serve_requirements', '').split()
    cpu = lambda r: 'tensorflow-cpu' + r[len('tensorflow'):] if re.split('[^A-Za-z0-9_.-]', r, maxsplit=1)[0].lower() == 'tensorflow' else r
    return [cpu(r) for r in rs]

def _pyver(cmd, deadline) -> str: return run([*cmd, '-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], deadline, 120).stdout.strip()

def wheelhouse(base:str, deadline:Deadline, facts:dict) -> Path:
    "The image's requirements, downloaded by this machine's pip for the base image's Python."
    t0, wh = time.time(), CACHE/'wheels'
    wh.mkdir(parents=True, exist_ok=True)
    host = [str(ROOT/'.venv/bin/python')] if (ROOT/'.venv/bin/python').exists() else [sys.executable]
    if run([*host, '-m', 'pip', '--version'], deadline, 60, check=False).returncode: host = [sys.executable]
    img = _pyver(['docker', 'run', '--rm', '--network', 'none', base, 'python3'], deadline)
    extra = [] if _pyver(host, deadline) == img else ['--python-version', img, '--only-binary=:all:']
    want = f'# Python {img}\n' + '\n'.join(requirements()) + '\n'
    req, done = CACHE/'requirements.txt', wh/'.complete'       # `done`: the requirements the wheelhouse last got in full
    if done.exists() and done.read_text() == want:
        say(f'wheelhouse {wh}: complete for these requirements'); facts['wheelhouse_s'] = None; return wh
    req.write_text(want); done.unlink(missing_ok=True)
    say(f'wheelhouse for Python {img}: pip download into {wh}')
    run([*host, '-m', 'pip', 'download', '-q', '--disable-pip-version-check', '-d', str(wh), '-r', str(req), *extra], deadline, 1500)
    done.write_text(want)
    facts['wheelhouse_s'] = round(time.time() - t0, 1)
    return wh

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

@contextlib.contextmanager
def serve_dir(d:Path, port:int):
    "Serve `d` over HTTP on 127.0.0.1:`port` (in a thread) while the block runs."
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), functools.partial(_Quiet, directory=str(d)))
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    try: yield f'http://127.0.0.1:{port}/'
    finally: srv.shutdown(); srv.server_close()

def build(image:str, base:str, links:str, deadline:Deadline, facts:dict):
    "docker build, printing its steps (the classic builder's or BuildKit's); the full output goes to the cache folder's build.log."
    t0, log = time.time(), CACHE/'build.log'
    cmd = ['docker', 'build', '--network', 'host', '--build-arg', f'BASE_IMAGE={base}', '--build-arg', 'PIP_NO_INDEX=1',
           '--build-arg', f'PIP_FIND_LINKS={links}', '-t', image, str(ROOT)]
    say('$', shlex.join(cmd))
    cached, steps, seen = 0, 0, set()
    with open(log, 'w') as f:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors='replace')
        killer = threading.Timer(deadline.left(2400), p.kill); killer.start()
        try:
            for line in p.stdout:
                f.write(line)
                if line.startswith('Step ') or (re.match(r'#\d+ \[', line) and line.split(' ', 1)[0] not in seen):
                    steps += 1; seen.add(line.split(' ', 1)[0]); say('  ', line.strip()[:150])
                if 'Using cache' in line or re.match(r'#\d+ CACHED', line): cached += 1
            rc = p.wait()
        finally: killer.cancel()
    if rc: raise Fail(f"docker build exited {rc} (full output: {log}):\n" + ''.join(log.read_text(errors='replace').splitlines(True)[-30:]))
    facts.update(app_build_s=round(time.time() - t0, 1), app_build_cached_steps=f'{cached}/{steps}')

# --- 4. run and probe ----------------------------------------------------------------------------------------------
def request(method:str, url:str, body:bytes|None=None, headers:dict|None=None, timeout:float=60):
    "(status, parsed JSON or text) of one request; 4xx/5xx are answers, not exceptions."
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r: status, raw = r.status, r.read()
    except urllib.error.HTTPError as e: status, raw = e.code, e.read()
    try: return status, json.loads(raw)
    except ValueError: return status, raw[:300].decode(errors='replace')

def multipart(field:str, filename:str, data:bytes, content_type:str) -> tuple:
    "A multipart/form-data body with one file, and its headers."
    b = uuid.uuid4().hex
    body = (f'--{b}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f'Content-Type: {content_type}\r\n\r\n').encode() + data + f'\r\n--{b}--\r\n'.encode()
    return body, {'Content-Type': f'multipart/form-data; boundary={b}'}

def wait_healthy(cid:str, url:str, deadline:Deadline, facts:dict, t_run:float, cap:float=300):
    "Poll until Docker reports the container healthy; note when /ready first answered 200 and when it became healthy."
    end = time.time() + deadline.left(cap)
    while time.time() < end:
        state, health = (docker('inspect', '-f', '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}', cid,
                                deadline=deadline).split() + ['', ''])[:2]
        if 'run_to_ready_s' not in facts:
            with contextlib.suppress(OSError):
                if request('GET', url + 'ready', timeout=2)[0] == 200: facts['run_to_ready_s'] = round(time.time() - t_run, 1)
        if state != 'running': raise Fail(f"the container stopped ({state}) before it was healthy")
        if health == 'healthy': facts['run_to_healthy_s'] = round(time.time() - t_run, 1); return
        if health == 'unhealthy': raise Fail("Docker reports the container unhealthy")
        time.sleep(0.5)
    raise Fail(f"the container was not healthy within {cap:.0f} s")

SAMPLE_PNG = ("import base64, json, cv2; from cifar_cnn.data import load_sample; d = load_sample(); "
              "ok, b = cv2.imencode('.png', cv2.cvtColor(d.x_test[0], cv2.COLOR_RGB2BGR)); "
              "print(json.dumps(dict(label=d.classes[int(d.y_test[0])], png=base64.b64encode(b.tobytes()).decode())))")

def probe(cid:str, url:str, deadline:Deadline, facts:dict):
    "The container's user, /health, a real image to /predict (200, top-5) and a corrupt one (400 `{error, detail}`)."
    uid = docker('exec', cid, 'id', '-u', deadline=deadline)
    if uid == '0': raise Fail("the container runs as root")
    st, h = request('GET', url + 'health')
    if st != 200 or not isinstance(h, dict) or h.get('status') != 'ok': raise Fail(f"GET /health answered {st}: {h}")
    s = json.loads(docker('exec', cid, 'python3', '-c', SAMPLE_PNG, deadline=deadline))
    t0 = time.perf_counter()
    st, r = request('POST', url + 'predict', *multipart('file', 'test0.png', base64.b64decode(s['png']), 'image/png'))
    ms = round((time.perf_counter() - t0) * 1000, 1)
    preds = r.get('predictions') if isinstance(r, dict) else None
    if st != 200 or not preds: raise Fail(f"POST /predict with a PNG of a test image answered {st}: {r}")
    ps = [p['probability'] for p in preds]
    if len(preds) != 5 or any(not 0 <= p <= 1 for p in ps) or ps != sorted(ps, reverse=True) or sum(ps) > 1 + 1e-3 or not all(p.get('label') for p in preds):
        raise Fail(f"POST /predict answered 200 but not 5 classes with probabilities, best first: {r}")
    say(f"POST /predict test0.png (a {s['label']}): 200, top-1 {preds[0]['label']} {ps[0]:.3f}, {ms} ms")
    facts['predict'] = dict(status=st, true_label=s['label'], top1=preds[0]['label'], p=round(ps[0], 4), request_ms=ms,
                            **{k: r[k] for k in ('model', 'version') if k in r})
    bad = b'\x89PNG\r\n\x1a\n' + b'\x00\x00\x00\x0dIHDR' + b'not an image at all' * 20
    st, r = request('POST', url + 'predict', *multipart('file', 'corrupt.png', bad, 'image/png'))
    if st != 400 or not isinstance(r, dict) or not (isinstance(r.get('error'), str) and isinstance(r.get('detail'), str) and r['detail']):
        raise Fail(f"POST /predict with a corrupt PNG answered {st} {r}, not 400 {{error, detail}}")
    say(f"POST /predict corrupt.png: 400 {r}")
    facts['corrupt'] = dict(status=st, error=r['error'])
    if docker('inspect', '-f', '{{.State.Status}}', cid, deadline=deadline) != 'running': raise Fail("the container stopped after the requests")

def run_container(image:str, deadline:Deadline, facts:dict, cleanup:list):
    "docker run the image on a free loopback port; wait for healthy; probe it. The container is removed by `cleanup`."
    port, name = free_port(), f'cifar-cnn-check-{os.getpid()}'
    cmd = ['docker', 'run', '-d', '--name', name, '--network', 'host', image, 'cifar-cnn', 'serve', '--host', '127.0.0.1', '--port', str(port)]
    say('$', shlex.join(cmd))
    cleanup.append(lambda: subprocess.run(['docker', 'rm', '-f', name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60))
    t_run = time.time()
    cid = run(cmd, deadline, 120).stdout.strip()
    url = f'http://127.0.0.1:{port}/'
    try:
        wait_healthy(cid, url, deadline, facts, t_run)
        say(f"healthy {facts['run_to_healthy_s']} s after docker run (GET /ready answered 200 after {facts.get('run_to_ready_s')} s)")
        probe(cid, url, deadline, facts)
    except Fail:
        logs = subprocess.run(['docker', 'logs', '--tail', '30', cid], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60).stdout
        say("the container's last log lines:\n" + logs)
        raise

# --- the log -------------------------------------------------------------------------------------------------------
def host_facts() -> dict:
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')), platform.processor())
    def git(*a):
        try: return subprocess.run(['git', '-C', str(ROOT), *a], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError): return None
    return dict(date=datetime.now(timezone.utc).isoformat(timespec='seconds'), host_cpu=cpu, host_cores=os.cpu_count(),
                commit=git('rev-parse', '--short', 'HEAD'), dirty=bool(git('status', '--porcelain', '--', 'Dockerfile', 'cifar_cnn', 'settings.ini', 'setup.py')))

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--base', default=os.environ.get('CIFAR_CNN_DOCKER_BASE', DEFAULT_BASE), help=f'base image (default {DEFAULT_BASE}, made here)')
    ap.add_argument('--image', default='cifar-cnn:check', help='tag of the image built')
    ap.add_argument('--timeout', type=float, default=float(os.environ.get('CIFAR_CNN_DOCKER_TIMEOUT', 2400)), help='seconds for the whole check')
    ap.add_argument('--no-log', action='store_true', help=f'do not append to {LOG.relative_to(ROOT)}')
    a = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))       # so that the cleanup below runs
    deadline, facts, cleanup, daemon, step = Deadline(a.timeout), dict(base_image=a.base, image=a.image), [], None, 'daemon'
    facts.update(host_facts())
    try:
        daemon = start_daemon(deadline, facts)
        facts.update(docker_server=docker('version', '-f', '{{.Server.Version}}', deadline=deadline),
                     storage_driver=docker('info', '-f', '{{.Driver}}', deadline=deadline))
        say(f"Docker {facts['docker_server']} ({facts['daemon']}, storage {facts['storage_driver']})")
        step = 'base image'; make_base(a.base, deadline, facts)
        step = 'wheelhouse'; wh = wheelhouse(a.base, deadline, facts)
        tf = sorted(wh.glob('tensorflow_cpu-*.whl')) or sorted(wh.glob('tensorflow-*.whl'))
        facts['environment'] = dict(cpu=facts['host_cpu'], cpu_count=facts['host_cores'], devices=['CPU'],   # as the other logs name their host
                                    tensorflow=tf[-1].name.split('-')[1] if tf else None, base_image=a.base)
        step = 'build'
        with serve_dir(wh, free_port(WHEEL_PORT)) as links: build(a.image, a.base, links, deadline, facts)
        facts.update(image_size_bytes=int(docker('image', 'inspect', '-f', '{{.Size}}', a.image, deadline=deadline)),
                     base_size_bytes=int(docker('image', 'inspect', '-f', '{{.Size}}', a.base, deadline=deadline)))
        say(f"image {a.image}: {facts['image_size_bytes'] / 1e9:.2f} GB (base {facts['base_size_bytes'] / 1e9:.2f} GB), "
            f"built in {facts['app_build_s']} s ({facts['app_build_cached_steps']} steps from the cache)")
        step = 'run'; run_container(a.image, deadline, facts, cleanup)
        facts['ok'] = True
    except Skip as e:
        print(f"SKIPPED: {e}", flush=True); return 0
    except Exception as e:                                      # Fail, or whatever else went wrong
        facts.update(ok=False, failed_step=step, error=str(e)[:500])
        print(f"FAILED ({step}): {e}", file=sys.stderr, flush=True)
    finally:
        for f in reversed(cleanup):
            with contextlib.suppress(Exception): f()
        stop_daemon(daemon)
        facts['total_s'] = round(time.time() - T0, 1)
        if 'ok' in facts and not a.no_log:
            LOG.parent.mkdir(parents=True, exist_ok=True)
            with open(LOG, 'a') as f: f.write(json.dumps(facts) + '\n')
    say(('PASSED' if facts['ok'] else 'FAILED') + f" in {facts['total_s']} s" + ('' if a.no_log else f"; logged to {LOG.relative_to(ROOT)}"))
    return 0 if facts['ok'] else 1

if __name__ == '__main__': sys.exit(main())
