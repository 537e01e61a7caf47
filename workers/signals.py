"""Celery signal handlers for operations: logging, request and job ids across processes, metrics.

Connected when workers.celery_app is imported, so they hold in the API (publishing) and in the worker.
No database access here: a handler costs a few microseconds per task. The worker's main process also sends a
heartbeat for /readyz on a Redis broker (workers/queue.py), from a thread started once it is ready.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from celery import signals

from ocr_telemetry import context
from ocr_telemetry.logging import configure_logging
from ocr_telemetry.settings import get_telemetry_settings

log = logging.getLogger(__name__)
PAGE_TASKS = ("ocr.ocr_page", "ocr.prepare_job")
_tokens: dict[str, Any] = {}
BETWEEN_MAX_S = 1.0
_last_task_end: list[float] = []  # when this process's last task ended (perf_counter), for the `between` step


@signals.setup_logging.connect
def _setup_logging(loglevel: Any = None, **_: Any) -> None:
    # Connected, this replaces Celery's own logging setup in the worker.
    level = logging.getLevelName(loglevel) if isinstance(loglevel, int) else loglevel
    configure_logging(level if isinstance(level, str) else None)


@signals.before_task_publish.connect
def _carry_ids(headers: dict[str, Any] | None = None, body: Any = None, **_: Any) -> None:
    """The request id (and job id) of the API request or the task that enqueues, into the message."""
    if headers is None:
        return
    request_id = context.request_id.get()
    if request_id:
        headers[context.REQUEST_ID_HEADER] = request_id
    job_id = context.job_id.get()
    if job_id:
        headers[context.JOB_ID_HEADER] = job_id


@signals.task_prerun.connect
def _enter_task(task_id: str = "", task: Any = None, args: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    request_id = getattr(request, context.REQUEST_ID_HEADER, None) or context.new_request_id()
    job_id = getattr(request, context.JOB_ID_HEADER, None) or (args[0] if args else None)
    now = time.perf_counter()
    if _last_task_end and getattr(task, "name", None) in PAGE_TASKS:
        from workers import timings

        gap = now - _last_task_end.pop()
        if gap < BETWEEN_MAX_S:  # longer: the process idled for want of work, which is no overhead of a task
            timings.observe("between", gap)
    _tokens[task_id] = (context.request_id.set(request_id), context.job_id.set(job_id), now)


@signals.task_postrun.connect
def _leave_task(task_id: str = "", task: Any = None, args: Any = None, state: Any = None, **_: Any) -> None:
    tokens = _tokens.pop(task_id, None)
    if tokens is None:
        return
    page = args[1] if args and len(args) > 1 else None
    extra: dict[str, Any] = {"task": getattr(task, "name", None), "page": page, "duration_ms": _ms(tokens[2])}
    if extra["task"] in PAGE_TASKS:
        from workers import timings

        timings.observe("task", time.perf_counter() - tokens[2])
        extra["steps_ms"] = timings.take()
        _last_task_end[:] = [time.perf_counter()]
    log.info("task %s %s", getattr(task, "name", "?"), str(state or "").lower(), extra=extra)
    context.request_id.reset(tokens[0])
    context.job_id.reset(tokens[1])


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


@signals.task_retry.connect
def _count_retry(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "name", None) in PAGE_TASKS:
        from workers.metrics import PAGES

        PAGES.labels("retried").inc()


@signals.task_failure.connect
def _count_failure(sender: Any = None, **_: Any) -> None:
    if getattr(sender, "name", None) in PAGE_TASKS:
        from workers.metrics import PAGES

        PAGES.labels("failed").inc()


@signals.worker_init.connect
def _worker_metrics(**_: Any) -> None:
    """In the pool's parent, before it forks: the shared metrics dir, and the metrics port if configured."""
    from ocr_telemetry.metrics import collecting_registry, use_shared_dir

    settings = get_telemetry_settings()
    use_shared_dir(settings.effective_metrics_dir)
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, registry=collecting_registry())
        log.info("worker metrics on port %d", settings.worker_metrics_port)


@signals.worker_process_init.connect
def _count_process_start(**_: Any) -> None:
    from workers.metrics import PROCESS_STARTS
    from workers.settings import get_worker_settings

    PROCESS_STARTS.labels(get_worker_settings().queue_name).inc()


_heartbeat_stop = threading.Event()
_heartbeat_threads: list[threading.Thread] = []


def _node() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@signals.worker_ready.connect
def _start_heartbeat(**_: Any) -> None:
    """In the worker's main process, once it consumes: on a Redis broker, beat for /readyz (workers/queue.py)
    from a thread of its own. On RabbitMQ the broker counts consumers itself."""
    from workers.celery_app import app
    from workers.settings import get_worker_settings

    if app.connection_for_write().transport.driver_type != "redis":
        return
    queue_name = get_worker_settings().queue_name
    _heartbeat_stop.clear()
    thread = threading.Thread(target=_beat, args=(queue_name, _node()), name="ocr-heartbeat", daemon=True)
    thread.start()
    _heartbeat_threads[:] = [thread]


def _beat(queue_name: str, node: str) -> None:
    from workers import queue
    from workers.celery_app import app

    failing = False
    with app.connection_for_write() as conn:
        while not _heartbeat_stop.is_set():
            try:
                queue.send_heartbeat(conn.default_channel.client, queue_name, node)
                failing = False
            except Exception as exc:  # the broker is away: beat again when it is back (redis-py reconnects)
                if not failing:
                    log.warning("the worker heartbeat could not be sent: %s", exc)
                failing = True
            _heartbeat_stop.wait(queue.HEARTBEAT_S)
        try:
            queue.end_heartbeat(conn.default_channel.client, queue_name, node)
        except Exception as exc:
            log.info("the worker heartbeat could not be removed: %s", exc)


@signals.worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    """A worker stopping says so at once (its last beat removed) rather than after HEARTBEAT_TTL_S."""
    _heartbeat_stop.set()
    for thread in _heartbeat_threads:
        thread.join(timeout=2)
