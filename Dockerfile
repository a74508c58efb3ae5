# archscore's HTTP service: the shipped default model, CPU-only PyTorch, a non-root user.
# Build:  docker build -t archscore .
# Run:    docker run --rm -p 8000:8000 archscore
#         curl -F files=@model.onnx http://localhost:8000/v1/score
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ARCHSCORE_HOME=/home/archscore/.local/share/archscore \
    ARCHSCORE_CACHE_DIR=/home/archscore/.cache/archscore

RUN groupadd --system --gid 10001 archscore \
    && useradd --system --uid 10001 --gid archscore --create-home archscore

WORKDIR /opt/archscore
COPY pyproject.toml README.md constraints.txt ./
COPY archscore ./archscore
# CPU build of PyTorch from its own index (the default PyPI wheel is the multi-GB CUDA one); the
# default model (archscore/models/default/) is part of the package, so the image scores offline.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0+cpu" \
    && pip install -c constraints.txt ".[serve]"

USER 10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["archscore", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
