"""Logging for every process: one JSON object per line (or readable lines on a terminal), each with the
request_id and job_id of the work it belongs to, so one grep follows a job from upload to result.

Only what the code logs goes out: messages never include a file's content or credentials.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from ocr_telemetry import context
from ocr_telemetry.settings import get_telemetry_settings

# Attributes every LogRecord has; anything else was passed with `extra=` and goes into the JSON object.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_CONFIGURED = "_ocr_configured"


class ContextFilter(logging.Filter):
    """Stamps each record with the ids of the request or task that logged it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = context.request_id.get()
        if getattr(record, "job_id", None) is None:
            record.job_id = context.job_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{k}={getattr(record, k)}" for k in ("request_id", "job_id") if getattr(record, k, None)]
        return f"{line} [{' '.join(ids)}]" if ids else line


def effective_format() -> str:
    fmt = get_telemetry_settings().log_format
    if fmt == "auto":
        return "console" if sys.stderr.isatty() else "json"
    return fmt


def configure_logging(level: str | None = None, fmt: str | None = None) -> None:
    """Send every logger's records to stderr in the configured format; idempotent."""
    settings = get_telemetry_settings()
    fmt = fmt or effective_format()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _CONFIGURED, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    handler.addFilter(ContextFilter())
    setattr(handler, _CONFIGURED, True)
    root.addHandler(handler)
    root.setLevel((level or settings.log_level).upper())
    logging.captureWarnings(True)
    # Servers' own loggers go through the same handler instead of their own formats.
    for name in ("uvicorn", "uvicorn.error", "celery", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the API logs requests itself (OCR_ACCESS_LOG)
    # Libraries that say at INFO what is routine (credentials found, connections made, plugins loaded).
    for name in ("alembic.runtime.plugins", "botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
