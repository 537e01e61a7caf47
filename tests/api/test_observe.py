"""The per-request middleware and the log formats, in this process: request ids, Server-Timing, bounded
metric labels, JSON and console log lines with the ids."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
from fastapi import FastAPI

from ocr_api.metrics import HTTP_REQUESTS
from ocr_api.observe import Observe
from ocr_telemetry import context
from ocr_telemetry.logging import ConsoleFormatter, ContextFilter, JsonFormatter
from ocr_telemetry.timing import timed


def small_app() -> FastAPI:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str | None]:
        with timed("db"):
            pass
        logging.getLogger("test.observe").info("read %s", thing_id)
        return {"request_id": context.request_id.get()}

    app.add_middleware(Observe)
    return app


class Client:
    """Requests to the app in this process (httpx over ASGI, one event loop per request)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.request(method, url, **kwargs)

        return asyncio.run(go())

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)


def counted(method: str, route: str, status: str) -> float:
    return float(HTTP_REQUESTS.labels(method, route, status)._value.get())


def test_request_id_is_kept_or_made_and_server_timing_is_sent() -> None:
    client = Client(small_app())
    response = client.get("/things/1", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123" == response.json()["request_id"]
    server_timing = response.headers["server-timing"]
    assert server_timing.startswith("db;dur=") and "app;dur=" in server_timing
    for bad in ("x" * 200, 'a"b'):
        made = client.get("/things/1", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert made != bad and len(made) == 32
    assert len(client.get("/things/1").headers["x-request-id"]) == 32


def test_metric_labels_come_from_bounded_sets() -> None:
    client = Client(small_app())
    before = counted("GET", "/things/{thing_id}", "200")
    client.get("/things/a")
    client.get("/things/b")
    assert counted("GET", "/things/{thing_id}", "200") == before + 2, "one series per route template"
    unmatched = counted("GET", "unmatched", "404")
    client.get(f"/nothing/{'z' * 30}")
    assert counted("GET", "unmatched", "404") == unmatched + 1
    other = counted("OTHER", "/things/{thing_id}", "405")
    client.request("BREW", "/things/1")
    assert counted("OTHER", "/things/{thing_id}", "405") == other + 1


def record(message: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("ocr.test", logging.INFO, __file__, 1, message, (), None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_log_lines_carry_the_ids() -> None:
    request_token = context.request_id.set("req-1")
    job_token = context.job_id.set("job-1")
    try:
        rec = record("page done", page=2)
        ContextFilter().filter(rec)
    finally:
        context.request_id.reset(request_token)
        context.job_id.reset(job_token)
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "page done" and entry["level"] == "info" and entry["logger"] == "ocr.test"
    assert (entry["request_id"], entry["job_id"], entry["page"]) == ("req-1", "job-1", 2)
    console = ConsoleFormatter().format(rec)
    assert "page done" in console and "request_id=req-1 job_id=job-1" in console
    plain = record("no ids")
    ContextFilter().filter(plain)
    assert "request_id" not in json.loads(JsonFormatter().format(plain))
