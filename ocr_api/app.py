"""The application factory: builds the app, nothing else."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from ocr_client._version import __version__
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from maintenance import runner as maintenance
from ocr_api import metrics
from ocr_api.auth import Access
from ocr_api.errors import UnexpectedErrors, add_exception_handlers
from ocr_api.limits import AuthBeforeBody, BodySizeLimit, BodyTimeout, StreamSlots
from ocr_api.lookups import JobLookups
from ocr_api.observe import Observe, time_database
from ocr_api.routes import batches, docintel, docs, jobs, stream, system, ui
from ocr_api.security import OpenModeGuard, SecurityHeaders
from ocr_api.settings import get_api_settings
from ocr_telemetry.logging import configure_logging
from ocr_telemetry.metrics import use_shared_dir
from ocr_telemetry.settings import get_telemetry_settings
from storage.records.db import get_engine
from storage.records.job_reads import read_jobs
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)

MULTIPART_OVERHEAD = 1024 * 1024  # form fields and part headers around the file
# Text results and job lists shrink 3-10x; a body that fits one TCP segment gains nothing from it.
GZIP_MINIMUM_BYTES = 1400
GZIP_LEVEL = 6  # zlib's default: level 9 costs about twice the CPU for 1-2 % smaller text
LOOKUP_THREADS = 4
CORS_HEADERS = ("Authorization", "X-API-Key", "Ocp-Apim-Subscription-Key", "Idempotency-Key", "Last-Event-ID",
                "Content-Type")  # fmt: skip


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Before the first request touches a metric: this process's metrics go to the shared directory.
    use_shared_dir(get_telemetry_settings().effective_metrics_dir)
    # The schema comes from `ocr-service migrate` (storage/records/migrate.py), not from here.
    time_database(await run_in_threadpool(get_engine))
    app.state.upload_slots = anyio.CapacityLimiter(get_api_settings().upload_concurrency)
    # Job lookups get threads of their own, fewer than the database pool holds: more concurrent lookups
    # than pooled connections would open and close a connection each time.
    with ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="job-lookups") as lookup_threads:
        app.state.job_lookups = JobLookups(lookup_threads, read_jobs)
        async with maintenance.running():  # the periodic sweeps (maintenance/runner.py)
            yield


def create_app() -> FastAPI:
    settings = get_api_settings()
    configure_logging()  # here: `api --workers N` starts each process afresh
    app = FastAPI(
        title="OCR service",
        version=__version__,
        description="Upload images and PDFs; Celery workers run Tesseract; download text, hOCR, ALTO, TSV, "
        "JSON and searchable PDF.",
        lifespan=lifespan,
        root_path=settings.root_path,
        docs_url=None,  # /docs and /redoc are served offline by ocr_api/routes/docs.py
        redoc_url=None,
        # Off, FastAPI still asks the OpenTelemetry API on every request whether a provider is set (about
        # 5 % of a status read); on, it reports to the globally configured providers, as by default.
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    add_exception_handlers(app, settings.max_upload_mb)
    app.state.access = Access(settings, get_worker_settings().broker_url)
    if app.state.access.mode == "off":
        log.info("API keys are off (OCR_AUTH=off, or the API listens on loopback): every caller sees every job")
    app.add_middleware(UnexpectedErrors)  # innermost: its 500 passes every middleware below (ocr_api/errors.py)
    app.state.stream_slots = StreamSlots(settings.max_streams_per_key)
    # Inside out: a body's stall limit, its size limit, and (outside both) the key, checked before any of it.
    app.add_middleware(BodyTimeout, timeout_s=settings.body_timeout_s)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD,
        message=f"upload larger than the limit of {settings.max_upload_mb} MiB (OCR_MAX_UPLOAD_MB)",
        # The Document Intelligence API may send the file base64-encoded in JSON: 4 bytes for every 3.
        docintel_max_bytes=settings.max_upload_bytes * 4 // 3 + MULTIPART_OVERHEAD,
        batch_max_bytes=settings.max_batch_bytes + MULTIPART_OVERHEAD,
        batch_message=f"batch larger than the limit of {settings.max_batch_mb} MiB (OCR_MAX_BATCH_MB)",
    )
    app.add_middleware(AuthBeforeBody, access=app.state.access, uploads_per_key=settings.max_uploads_per_key)
    app.add_middleware(
        GZipMiddleware,
        minimum_size=GZIP_MINIMUM_BYTES,
        compresslevel=GZIP_LEVEL,
        # Progress streams (text/event-stream) are excluded by default; PDFs and zip archives (streamed batch
        # results) are compressed already.
        exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/pdf", "application/zip"),
    )
    if app.state.access.mode == "off":  # DNS rebinding and cross-site writes (docs/security.md, "Open mode")
        app.add_middleware(
            OpenModeGuard, allowed_hosts=settings.allowed_host_list, allowed_origins=settings.cors_origin_list
        )
    app.add_middleware(SecurityHeaders)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=[*CORS_HEADERS],
            expose_headers=["Location", "Operation-Location", "Retry-After", "X-Request-ID", "apim-request-id"],
            max_age=600,
        )
    app.add_middleware(Observe, access_log=settings.access_log)  # outermost: sees every response
    app.include_router(system.router)
    app.include_router(metrics.router)
    app.include_router(jobs.router)
    app.include_router(batches.router)  # /v1/batches (ocr_api/routes/batches.py)
    app.include_router(stream.router)
    app.include_router(ui.router)
    app.include_router(docintel.router)  # the Document Intelligence API (docs/integrations.md)
    # -- offline API documentation (ocr_api/routes/docs.py); its files' mount comes before /static's
    app.include_router(docs.router)
    app.mount(docs.ASSETS_PATH, docs.assets(), name="docs-assets")
    # --
    app.mount("/static", StaticFiles(directory=ui.STATIC_DIR), name="static")
    return app
