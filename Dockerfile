# One image for every role: `ocr-service serve` (all-in-one, the default), `api` and `worker`.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OMP_THREAD_LIMIT=1 \
    OCR_HOST=0.0.0.0 \
    OCR_PORT=8000 \
    OCR_DATA_DIR=/data

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd tesseract-ocr-deu tesseract-ocr-fra \
      tesseract-ocr-frk tesseract-ocr-script-frak redis-server \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ocr_api ./ocr_api
COPY workers ./workers
COPY storage ./storage
COPY ocr_client ./ocr_client
RUN pip install .

RUN useradd --create-home --uid 1000 ocr && mkdir -p /data && chown ocr:ocr /data
USER ocr
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"OCR_PORT\",\"8000\")}/healthz', timeout=4)"

CMD ["ocr-service", "serve", "--host", "0.0.0.0", "--port", "8000", "--data-dir", "/data"]
