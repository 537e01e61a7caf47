"""`ocr-service`: run everything on one machine (serve), or the API and workers separately.

One module per command: serve.py (`serve`), processes.py (`api`, `worker`), migrate.py, keys.py, models.py;
common.py holds what they share. This module builds the parser and dispatches; `python -m ocr_api.cli` runs `main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ocr_client.pipes import stdout_gone

from ocr_api.cli.keys import cmd_keys
from ocr_api.cli.migrate import cmd_migrate
from ocr_api.cli.models import cmd_models
from ocr_api.cli.processes import cmd_api, cmd_worker
from ocr_api.cli.serve import cmd_serve

EPILOG = """\
Every setting can also come from an OCR_-prefixed environment variable (docs/configuration.md).
Examples:
  ocr-service serve                                # API on 127.0.0.1:8000, workers, private broker, SQLite
  OCR_BROKER_URL=redis://redis:6379/0 OCR_DATABASE_URL=postgresql+psycopg://ocr@db/ocr ocr-service api
  OCR_BROKER_URL=amqp://guest:guest@rabbit:5672// ocr-service worker --concurrency 4
  OCR_DATABASE_URL=postgresql+psycopg://ocr@db/ocr ocr-service migrate   # once per upgrade
  ocr-service keys create alice                    # an API key (shown once); OCR_AUTH: docs/security.md
  ocr-service models status                        # which model each language reads with (docs/accuracy.md)
"""


def _count(text: str) -> int:
    """A limit: a whole number, 0 for unlimited."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("0 (unlimited) or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocr-service",
        description="Self-hosted OCR service: HTTP API, Celery workers running Tesseract.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve", help="all-in-one: API, workers and a private broker on this machine",
        description="Start the API, a pool of workers (one process per core) and a private redis-server on a "
        "unix socket in the data dir; job records in SQLite, files on local disk. Ctrl-C stops all of it.",
    )  # fmt: skip
    serve.add_argument("--host", default=os.environ.get("OCR_HOST", "127.0.0.1"), help="default: %(default)s")
    serve.add_argument("--port", type=int, default=int(os.environ.get("OCR_PORT", "8000")), help="default: %(default)s")
    serve.add_argument("--data-dir", default=os.environ.get("OCR_DATA_DIR", "./data"), help="default: %(default)s")
    serve.add_argument("--concurrency", type=int, help="worker processes (default: one per CPU core)")
    serve.set_defaults(func=cmd_serve)

    api = sub.add_parser("api", help="the HTTP API alone, configured by OCR_ environment variables")
    api.add_argument("--host", help="default: OCR_HOST or 127.0.0.1")
    api.add_argument("--port", type=int, help="default: OCR_PORT or 8000")
    api.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default: %(default)s)")
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="a Celery worker pool, configured by OCR_ environment variables")
    worker.add_argument("--concurrency", type=int, help="processes (default: OCR_WORKER_CONCURRENCY or one per core)")
    worker.set_defaults(func=cmd_worker)

    migrate = sub.add_parser(
        "migrate", help="bring the job database's schema up to date (once, under a lock), then exit",
        description="Apply the Alembic migrations in storage/records/migrations to OCR_DATABASE_URL. Safe to run from "
        "several machines at once; a database made before migrations existed is stamped and upgraded.",
    )  # fmt: skip
    migrate.set_defaults(func=cmd_migrate)

    keys = sub.add_parser(
        "keys", help="API keys: create (shown once), list, revoke",
        description="Manage the API keys of OCR_DATABASE_URL (or of the data dir's SQLite database, as `serve` "
        "uses). Only a key's sha256 is stored. docs/security.md",
    )  # fmt: skip
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--data-dir",
        default=os.environ.get("OCR_DATA_DIR", "./data"),
        help="serve's data dir, whose SQLite database holds the keys when OCR_DATABASE_URL is unset "
        "(default: %(default)s)",
    )
    actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[where], help="make a key and print it (and its webhook secret) once")
    create.add_argument("name", help="who or what uses the key (unique)")
    create.add_argument("--admin", action="store_true", help="sees, lists, cancels and deletes every job")
    create.add_argument(
        "--rate-per-minute", type=_count, help="requests per minute (default: OCR_RATE_LIMIT_PER_MINUTE)"
    )
    create.add_argument(
        "--max-in-flight", type=_count, help="queued and running jobs (default: OCR_MAX_JOBS_IN_FLIGHT)"
    )
    actions.add_parser("list", parents=[where], help="every key: name, first characters, limits, created, revoked")
    revoke = actions.add_parser("revoke", parents=[where], help="stop accepting a key")
    revoke.add_argument("name")
    keys.set_defaults(func=cmd_keys)

    models = sub.add_parser(
        "models", help="recognition models: install tessdata_best (more accurate), show which are used",
        description="Debian's tesseract-ocr-LANG packages carry tessdata_fast. `install` fetches upstream's more "
        "accurate tessdata_best models (integerised, from the npm registry, sha512-pinned) into the service's "
        "own model directory and links Tesseract's other models beside them; workers use that directory unless "
        "OCR_TESSDATA_DIR or TESSDATA_PREFIX is set. Restart the workers afterwards. docs/accuracy.md, Models.",
    )  # fmt: skip
    model_actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = model_actions.add_parser("install", help="fetch and install best models (default: eng)")
    install.add_argument("langs", nargs="*", metavar="LANG", help="eng, deu or fra (default: eng)")
    install.add_argument("--dir", type=Path, help="where (default: the service's own model directory)")
    model_actions.add_parser("status", help="the directory models are read from, and each model's kind")
    models.set_defaults(func=cmd_models)

    for p in (serve, api, worker, migrate, keys, models):
        p.add_argument(
            "--log-level",
            default="WARNING" if p in (keys, models) else os.environ.get("OCR_LOG_LEVEL", "INFO").upper(),
            choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            help="default: OCR_LOG_LEVEL or INFO",
        )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    os.environ["OCR_LOG_LEVEL"] = args.log_level  # the same level in every process this one starts
    try:
        args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        sys.exit(stdout_gone())  # `ocr-service keys list | head`
