# One image for every role: `ocr-service serve` (all-in-one, the default), `api`, `worker` and `migrate`.
# Two stages: the first builds a virtual environment from the pinned versions in requirements.lock, the
# second has only that environment, Tesseract with the chosen languages and redis-server (for `serve`).
#   docker build --build-arg OCR_LANGS="eng deu" -t ocr-service .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# tesserocr compiles against libtesseract when no wheel fits the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ pkg-config libtesseract-dev libleptonica-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
COPY requirements.lock ./
COPY pyproject.toml README.md ./
COPY ocr_api ./ocr_api
COPY workers ./workers
COPY storage ./storage
COPY webhooks ./webhooks
COPY maintenance ./maintenance
COPY ocr_telemetry ./ocr_telemetry
COPY client ./client
RUN /opt/venv/bin/pip install --constraint requirements.lock .

FROM ${PYTHON_IMAGE}
# Tesseract models installed, as Debian package suffixes: tesseract-ocr-<lang> for each (osd always).
ARG OCR_LANGS="eng deu fra frk script-frak"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    OMP_THREAD_LIMIT=1 \
    OCR_HOST=0.0.0.0 \
    OCR_PORT=8000 \
    OCR_DATA_DIR=/data \
    OCR_LOG_FORMAT=json

RUN packages="tesseract-ocr tesseract-ocr-osd" \
 && for lang in ${OCR_LANGS}; do packages="$packages tesseract-ocr-$lang"; done \
 && apt-get update \
 && apt-get install -y --no-install-recommends $packages redis-server \
 && rm -rf /var/lib/apt/lists/*

COPY --from=build /opt/venv /opt/venv
# Upstream's more accurate English model beside Debian's (docs/accuracy.md, "Models"); fetched at build time.
RUN ocr-service models install

RUN useradd --create-home --uid 1000 ocr && mkdir -p /data && chown ocr:ocr /data
USER ocr
WORKDIR /home/ocr
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"OCR_PORT\",\"8000\")}/healthz', timeout=4)"

CMD ["ocr-service", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
