"""`ocr-service api` and `ocr-service worker`: the HTTP API alone, or a Celery worker pool alone."""

from __future__ import annotations

import argparse
import os
import sys

from ocr_api.cli.common import auto_migrate, decide_auth
from ocr_telemetry.logging import configure_logging


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

    from ocr_api.settings import ApiSettings, get_api_settings

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
    )


def cmd_worker(args: argparse.Namespace) -> None:
    command = worker_command(args.concurrency, args.log_level)
    os.execv(command[0], command)  # noqa: S606 - replace this process with the Celery worker
