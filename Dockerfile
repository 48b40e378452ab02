# The cifar_cnn web service: the package with its serve extra (`cifar_cnn[serve]`, TensorFlow's CPU build), serving
# the shipped pretrained model on port 8000 as an unprivileged user.
#
#   docker build -t cifar-cnn . && docker run -p 8000:8000 cifar-cnn        (then open http://localhost:8000/)
#
# Another model: mount a run directory (or a .keras file) and name it in CIFAR_CNN_MODEL:
#   docker run -p 8000:8000 -v $PWD/runs/myrun:/model:ro -e CIFAR_CNN_MODEL=/model cifar-cnn
# A model repository (TF Serving's layout, models/<name>/<version>/, readable by uid 1000): mount it at /models and pass
# the flag; arguments after the image name replace the command, so give the whole of it:
#   docker run -p 8000:8000 -v $PWD/models:/models:ro cifar-cnn cifar-cnn serve --host 0.0.0.0 --port 8000 --model-repository /models
# Another interface or port (e.g. with --network host): the same way; the HEALTHCHECK reads --host and --port from it:
#   docker run --network host cifar-cnn cifar-cnn serve --host 127.0.0.1 --port 8765
# Health: `docker inspect -f '{{.State.Health.Status}}' <container>` is `healthy` once GET /ready answers 200 (model
# loaded). Any Python 3.10+ image with `python3 -m venv` can be the base, e.g. one made from Debian packages:
#   docker build --network host --build-arg BASE_IMAGE=cifar-cnn-base:bookworm -t cifar-cnn .   (scripts/docker_check.py makes it)
ARG BASE_IMAGE=python:3.11-slim

# --- deps: a virtualenv holding the package's requirements (tensorflow-cpu for tensorflow) ---------------------------
FROM ${BASE_IMAGE} AS deps
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore TF_CPP_MIN_LOG_LEVEL=2
# binutils' `strip`, for TensorFlow's libraries below (from the base's Debian mirror when the base lacks it; without
# it they stay unstripped).
RUN command -v strip > /dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils > /dev/null; } \
 || echo "binutils could not be installed: TensorFlow's libraries will not be stripped"
# pip's settings for a mirror or a local wheelhouse, e.g. --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=http://...
# (scripts/docker_check.py serves one on loopback); unset, pip uses PyPI. They stay in this stage (not in the image).
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ARG PIP_TRUSTED_HOST
RUN python3 -m venv /opt/venv
WORKDIR /src
# The requirements (settings.ini's `requirements` and `serve_requirements`, read as setup.py reads them), tensorflow
# swapped for tensorflow-cpu under the same version range: the same TensorFlow without its CUDA kernels. Then out go
# what serving does not use: test suites, C headers and static libraries (for building extensions), and the static
# symbol tables of TensorFlow's own libraries (a quarter of their size; their dynamic symbols stay).
COPY settings.ini /src/
RUN python3 -c "import configparser, re, shlex; c = configparser.ConfigParser(delimiters=['=']); c.read('settings.ini', encoding='utf-8'); d = c['DEFAULT']; \
rs = shlex.split(d.get('requirements', '')) + shlex.split(d.get('pip_requirements', '')) + d.get('serve_requirements', '').split(); \
cpu = lambda r: 'tensorflow-cpu' + r[len('tensorflow'):] if re.split('[^A-Za-z0-9_.-]', r, maxsplit=1)[0].lower() == 'tensorflow' else r; \
open('/tmp/requirements.txt', 'w').write(''.join(cpu(r) + chr(10) for r in rs))" \
 && cat /tmp/requirements.txt && pip install -r /tmp/requirements.txt \
 && find /opt/venv -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} + \
 && rm -rf /opt/venv/lib/python3*/site-packages/tensorflow/include && find /opt/venv -name '*.a' -delete \
 && if command -v strip > /dev/null; then find /opt/venv/lib/python3*/site-packages/tensorflow -name '*.so*' -type f -exec strip --strip-unneeded {} +; fi

# --- build: the package itself, into that virtualenv -----------------------------------------------------------------
# Without dependencies (pip would add `tensorflow` beside tensorflow-cpu) and with the virtualenv's setuptools (one of
# TensorFlow's requirements: no index needed). Then check, from / (not the source tree), that every requirement of
# cifar_cnn[serve] is met (tensorflow by tensorflow-cpu), that pip sees nothing else missing, and that the command and
# TensorFlow run. The package's files (its RECORD) are gathered under /opt/pkg, so that the image holds them in a layer
# of their own: a change to the code alone rebuilds only this stage and that layer.
FROM deps AS build
COPY setup.py README.md LICENSE MANIFEST.in /src/
COPY cifar_cnn /src/cifar_cnn
RUN pip install --no-deps --no-build-isolation /src && cd / \
 && python3 -c "import sys; from importlib.metadata import distribution, distributions; from packaging.requirements import Requirement; \
from packaging.utils import canonicalize_name as cn; have = {cn(x.metadata['Name']): x.version for x in distributions()}; \
sub = lambda n: 'tensorflow-cpu' if cn(n) == 'tensorflow' else cn(n); \
bad = [str(r) for r in map(Requirement, distribution('cifar_cnn').requires) if (not r.marker or r.marker.evaluate({'extra': 'serve'})) \
       and not (sub(r.name) in have and r.specifier.contains(have[sub(r.name)], prereleases=True))]; \
sys.exit('unmet requirements of cifar_cnn[serve]: %s' % bad if bad else 0)" \
 && { pip check | grep -viE '^(no broken requirements found|cifar[-_]cnn .* requires tensorflow, which is not installed)' || true; } > /tmp/pipcheck \
 && { [ ! -s /tmp/pipcheck ] || { cat /tmp/pipcheck; exit 1; }; } \
 && cifar-cnn --help > /dev/null \
 && python3 -c "import cifar_cnn.app, tensorflow as tf; assert float(tf.reduce_sum(tf.ones([3]))) == 3.0" \
 && python3 -c "import os; from importlib.metadata import distribution; d = distribution('cifar_cnn'); \
print(*sorted({os.path.relpath(os.path.normpath(d.locate_file(f)), '/') for f in d.files}), sep=chr(10))" > /tmp/files \
 && tar -C / -cf /tmp/pkg.tar -T /tmp/files && mkdir /opt/pkg && tar -C /opt/pkg -xf /tmp/pkg.tar && test -x /opt/pkg/opt/venv/bin/cifar-cnn

# --- runtime: the base image, the virtualenv (requirements, then the package), an unprivileged user ------------------
FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg
RUN useradd --create-home --uid 1000 --user-group app
COPY --from=deps /opt/venv /opt/venv
COPY --from=build /opt/pkg/ /
USER app
WORKDIR /home/app
EXPOSE 8000
# Healthy once GET /ready answers 200 (the model is loaded), on the host and port given to `cifar-cnn serve` (read from
# PID 1's command line: the CMD below, or the one `docker run` gave; 0.0.0.0 is probed on 127.0.0.1).
HEALTHCHECK --interval=5s --timeout=3s --start-period=120s --retries=3 CMD ["python3", "-c", "import urllib.request as u; a = open('/proc/1/cmdline').read().split(chr(0)); o = lambda k, d: ([a[i + 1] for i, x in enumerate(a[:-1]) if x == k] + [x[len(k) + 1:] for x in a if x.startswith(k + '=')] + [d])[0]; h = o('--host', '127.0.0.1'); h = {'0.0.0.0': '127.0.0.1', '::': '::1', '': '127.0.0.1'}.get(h, h); u.urlopen('http://%s:%s/ready' % ('[%s]' % h if ':' in h else h, o('--port', '8000')), timeout=2)"]
CMD ["cifar-cnn", "serve", "--host", "0.0.0.0", "--port", "8000"]
