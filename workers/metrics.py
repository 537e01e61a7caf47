"""The workers' Prometheus metrics (names prefixed ocr_); docs/operations.md says what to alert on."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from workers.ocr.settings import get_ocr_settings
from workers.settings import get_worker_settings

PAGES = Counter(
    "ocr_pages_processed_total",
    "Pages by outcome: succeeded (recognized and stored), retried (an attempt failed, retried), failed "
    "(given up after retries).",
    ["outcome"],
)
PAGE_SECONDS = Histogram(
    "ocr_page_recognition_seconds",
    "Time to recognize one page, preprocessing and retries included, by language and engine.",
    ["lang", "engine"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300),
)
PASSES = Histogram(
    "ocr_page_preprocess_passes",
    "Recognition passes per page (1 when the first reading was good; more after orientation or retries).",
    ["engine"],
    buckets=(1, 2, 3, 4, 6, 8),
)
CONFIDENCE = Histogram(
    "ocr_page_confidence",
    "Mean word confidence of a page (0-100).",
    ["engine"],
    buckets=(10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100),
)
STEP_SECONDS = Histogram(
    "ocr_page_step_seconds",
    "Time of each step of the workers' tasks (workers/timings.py): prepare (read the job, count its pages), "
    "start (running, with its pages; the one page claimed too), claim, load (decode the page), recognize, store "
    "(the page's outputs), finalize (the result files), finish (the page done; a one-page job succeeded too), "
    "task (a whole task) and between (a pool process's gap from one task's end to the next one's start, when "
    "under a second: acknowledgement and dispatch).",
    ["step"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CACHE = Counter("ocr_result_cache_hits_total", "Jobs completed from an earlier job's results.", ["queue"])
PROCESS_STARTS = Counter(
    "ocr_worker_process_starts_total",
    "Worker pool processes started: the first ones and each restart (recycled or lost).",
    ["queue"],
)


def page_done(done: object) -> None:
    """Observe a page that process_page recognized (a workers.steps.PageDone); others are not counted."""
    output = getattr(done, "output", None)
    job = getattr(done, "job", None)
    if output is None or job is None:
        return
    engine = get_ocr_settings().engine
    PAGES.labels("succeeded").inc()
    info = output.info or {}
    if "page_ms" in info:
        PAGE_SECONDS.labels(job.lang, engine).observe(info["page_ms"] / 1000)
        PASSES.labels(engine).observe(info.get("passes", 1))
        CONFIDENCE.labels(engine).observe(output.confidence)


def page_failed() -> None:
    """A page given up at once (unreadable input, time limit, missing file); failures after Celery's retries
    are counted by the task_failure signal (workers/signals.py)."""
    PAGES.labels("failed").inc()


def cache_hit() -> None:
    CACHE.labels(get_worker_settings().queue_name).inc()
