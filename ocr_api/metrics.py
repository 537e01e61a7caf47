"""The API's Prometheus metrics and GET /metrics.

Counters and histograms are updated per request (a few microseconds); the queue depth and the jobs by status
are read when Prometheus scrapes (one broker call and one grouped count, shared for STATE_TTL_S), never on
the request path.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from ocr_telemetry.metrics import collecting_registry
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.models import JobStatus
from workers import queue

log = logging.getLogger(__name__)
QUEUE_MESSAGES, JOBS = "ocr_queue_messages", "ocr_jobs"  # gauges read at scrape time
STATE_TTL_S = 1.0  # several Prometheus servers (or tabs) scraping at once share one read

HTTP_REQUESTS = Counter(
    "ocr_http_requests_total", "HTTP requests by method, route template and status.", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "ocr_http_request_duration_seconds",
    "Time from request to the response's first byte, by method and route template.",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
UPLOAD_BYTES = Histogram(
    "ocr_upload_bytes",
    "Size of accepted uploads, by detected media type.",
    ["media_type"],
    buckets=(16e3, 64e3, 256e3, 1e6, 4e6, 16e6, 64e6, 256e6, 1e9),
)


class ServiceState(Collector):
    """Queue depth and jobs by status, read at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Any]] = (0.0, [])

    def collect(self) -> Iterator[Any]:
        with self._lock:
            at, families = self._cached
            if time.monotonic() - at > STATE_TTL_S:
                families = [self._queue_depth(), self._jobs_by_status()]
                self._cached = (time.monotonic(), families)
        yield from (f for f in families if f is not None)

    @staticmethod
    def _queue_depth() -> GaugeMetricFamily | None:
        family = GaugeMetricFamily(QUEUE_MESSAGES, "Messages waiting in the broker, per queue.", labels=["queue"])
        try:
            for name, waiting in queue.queue_depths().items():
                family.add_metric([name], waiting)
        except Exception as exc:
            log.warning("queue depth unavailable: %s", exc)
            return None
        return family

    @staticmethod
    def _jobs_by_status() -> GaugeMetricFamily | None:
        family = GaugeMetricFamily(JOBS, "Jobs in the database by status.", labels=["status"])
        try:
            with session_scope() as session:
                counts = repo.counts_by_status(session)
        except Exception as exc:
            log.warning("job counts unavailable: %s", exc)
            return None
        for status in dict.fromkeys([JobStatus.QUEUED, JobStatus.RUNNING, *JobStatus.FINISHED, *sorted(counts)]):
            family.add_metric([status], counts.get(status, 0))
        return family


_state_registry = CollectorRegistry()  # the scrape-time gauges: they are not in the shared files
_state_registry.register(ServiceState())
router = APIRouter(tags=["system"])


@router.get("/metrics", summary="Prometheus metrics of the API and of the workers on this machine")
@router.head("/metrics", include_in_schema=False)
def metrics() -> Response:
    registry = collecting_registry()
    body = generate_latest(registry) + generate_latest(_state_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
