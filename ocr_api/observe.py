"""Per-request operations middleware: request id, Server-Timing, HTTP metrics, the JSON access log line.

Pure ASGI (no BaseHTTPMiddleware task per request): what it adds to a request is a few context variable
sets, two clock reads, a counter and a histogram update.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocr_api.docintel.shape import is_docintel_path
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
        given = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                given = value.decode("latin-1")
                break
        request_id = context.clean_request_id(given)
        context.request_id.set(request_id)
        context.job_id.set(None)
        timings = timing.Timings()
        timing.current.set(timings)
        status = 500
        docintel = is_docintel_path(str(scope["path"]).removeprefix(str(scope.get("root_path", ""))))

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                elapsed = time.perf_counter() - started
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                if docintel:  # the Document Intelligence API's name for it
                    headers.append((b"apim-request-id", request_id.encode("latin-1")))
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


# (method, route, status) -> the counter and histogram children: `labels()` costs more than the update.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _record(scope: Scope, status: int, elapsed: float) -> None:
    # Labels only from bounded sets: a client choosing methods or paths must not grow the metrics.
    method = scope["method"] if scope["method"] in METHODS else "OTHER"
    key = (method, _route(scope), status)
    children = _children.get(key)
    if children is None:
        children = (HTTP_REQUESTS.labels(key[0], key[1], str(status)), HTTP_SECONDS.labels(key[0], key[1]))
        _children[key] = children
    children[0].inc()
    children[1].observe(elapsed)


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
