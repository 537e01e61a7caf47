"""Per-request operations middleware: request id, Server-Timing, HTTP metrics, the JSON access log line.

Pure ASGI (no BaseHTTPMiddleware task per request): what it adds to a request is a few context variable
sets, two clock reads, a counter and a histogram update.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocr_api.metrics import HTTP_REQUESTS, HTTP_SECONDS
from ocr_telemetry import context, timing

log = logging.getLogger("ocr_api.access")
REQUEST_ID_HEADER = b"x-request-id"


class Observe:
    def __init__(self, app: ASGIApp, access_log: bool = False) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = next((v for k, v in scope["headers"] if k == REQUEST_ID_HEADER), None)
        request_id = context.clean_request_id(given.decode("latin-1") if given else None)
        context.request_id.set(request_id)
        context.job_id.set(None)
        timings = timing.Timings()
        timing.current.set(timings)
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - started
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.append((b"server-timing", timings.header(elapsed).encode()))
                message["headers"] = headers
                _record(scope, status, elapsed)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            if self.access_log:
                log.info(
                    "%s %s %d",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={"route": _route(scope), "status": status, "duration_ms": _ms(started)},
                )


def _route(scope: Scope) -> str:
    route: Any = scope.get("route")
    # Unmatched paths share one label: a label per unknown URL would grow without bound.
    return str(getattr(route, "path", None) or "unmatched")


def _record(scope: Scope, status: int, elapsed: float) -> None:
    route = _route(scope)
    HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
    HTTP_SECONDS.labels(scope["method"], route).observe(elapsed)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def time_database(engine: Any) -> None:
    """Count each statement's time as `db` in the Server-Timing of the request that ran it."""
    from sqlalchemy import event

    if getattr(engine, "_ocr_timed", False):
        return
    engine._ocr_timed = True

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, *_: Any) -> None:
        conn.info["ocr_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn: Any, *_: Any) -> None:
        timings = timing.current.get()
        if timings is not None:
            timings.add("db", time.perf_counter() - conn.info.pop("ocr_started", time.perf_counter()))
