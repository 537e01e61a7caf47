"""`ocr-service api` and `ocr-service worker`: the HTTP API alone, or a Celery worker pool alone."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from ocr_api.cli.common import auto_migrate, decide_auth
from ocr_api.settings import ApiSettings, get_api_settings
from ocr_telemetry.logging import configure_logging


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on the request head: a connection that opens and sends nothing,
    or sends its request line and headers slowly (slowloris), is closed after OCR_HEADER_TIMEOUT_S. uvicorn
    bounds the idle time between requests (timeout_keep_alive) but not this."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout_s = get_api_settings().header_timeout_s
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._waiting_for_head():
            if self._head_timer is None:  # the first bytes of a further request on a kept-alive connection
                self._arm_head_timer()
        elif self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self._head_timeout_s, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()


def uvicorn_limits(settings: ApiSettings) -> dict[str, Any]:
    """The edge limits every place that starts uvicorn passes (docs/security.md): h11 (httptools bounds no
    header size) with a bounded request head and a deadline on it, idle keep-alive, concurrent connections."""
    return {
        "http": f"{BoundedH11Protocol.__module__}:{BoundedH11Protocol.__name__}",
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": settings.keep_alive_s,
        "limit_concurrency": settings.max_connections,
    }


def worker_command(concurrency: int | None, loglevel: str) -> list[str]:
    from ocr_telemetry.logging import effective_format
    from workers.settings import get_worker_settings

    settings = get_worker_settings()
    processes = concurrency or settings.worker_concurrency or len(os.sched_getaffinity(0)) or 1
    quiet = ["--quiet"] if effective_format() == "json" else []  # no start banner between the JSON lines
    return [
        sys.executable, "-m", "celery", *quiet, "-A", "workers.celery_app", "worker",
        "--loglevel", loglevel, "--concurrency", str(processes), "-O", "fair",
        "-Q", settings.queue_name, "--without-gossip", "--without-mingle",
    ]  # fmt: skip


def cmd_api(args: argparse.Namespace) -> None:
    import uvicorn

    decide_auth(args.host or os.environ.get("OCR_HOST") or ApiSettings.model_fields["host"].default)
    settings = get_api_settings()
    configure_logging(args.log_level)
    auto_migrate()
    uvicorn.run(
        "ocr_api.app:create_app",
        factory=True,
        host=settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_level=args.log_level.lower(),
        log_config=None,  # each process configures logging in create_app (ocr_telemetry.logging)
        access_log=False,  # the app logs requests itself when OCR_ACCESS_LOG=true
        proxy_headers=True,
        **uvicorn_limits(settings),
    )


def cmd_worker(args: argparse.Namespace) -> None:
    command = worker_command(args.concurrency, args.log_level)
    os.execv(command[0], command)  # noqa: S606 - replace this process with the Celery worker
