# The cifar_cnn web service: the package with its `serve` extra, serving the shipped pretrained model on port 8000.
#   docker build -t cifar-cnn . && docker run -p 8000:8000 cifar-cnn        (then open http://localhost:8000/)
# Serve another model: docker run -p 8000:8000 -v $PWD/runs/myrun:/model -e CIFAR_CNN_MODEL=/model cifar-cnn
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 TF_CPP_MIN_LOG_LEVEL=2
WORKDIR /app
COPY settings.ini setup.py README.md LICENSE MANIFEST.in /app/
COPY cifar_cnn /app/cifar_cnn
RUN pip install ".[serve]" && useradd --create-home --uid 1000 app
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["cifar-cnn", "serve", "--host", "0.0.0.0", "--port", "8000"]
