"""`ocr-service`: run everything on one machine (serve), or the API and workers separately."""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import IO

from ocr_telemetry.logging import configure_logging
from workers.lifeline import die_with_parent

EPILOG = """\
Every setting can also come from an OCR_-prefixed environment variable (see README.md, "Configuration").
Examples:
  ocr-service serve                                # API on 127.0.0.1:8000, workers, private broker, SQLite
  OCR_BROKER_URL=redis://redis:6379/0 OCR_DATABASE_URL=postgresql+psycopg://ocr@db/ocr ocr-service api
  OCR_BROKER_URL=amqp://guest:guest@rabbit:5672// ocr-service worker --concurrency 4
  OCR_DATABASE_URL=postgresql+psycopg://ocr@db/ocr ocr-service migrate   # once per upgrade
  ocr-service keys create alice                    # an API key (shown once); OCR_AUTH: docs/security.md
"""


def _fail(message: str) -> None:
    print(f"ocr-service: {message}", file=sys.stderr)
    sys.exit(1)


def _worker_command(concurrency: int | None, loglevel: str) -> list[str]:
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


class PrivateRedis:
    """A redis-server owned by `serve`: unix socket only, append-only file in the data dir."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.socket = run_dir / "redis.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _fail("redis-server not found: install it (apt-get install redis-server) or set OCR_BROKER_URL")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [
                str(binary),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.run_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--logfile",
                str(self.run_dir / "redis.log"),
            ],
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # a SIGKILLed serve takes its broker with it
        )
        deadline = time.monotonic() + 15
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                _fail(f"the private redis-server did not start; see {self.run_dir / 'redis.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # celery: warm shutdown, running pages finish
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class StopServe(Exception):
    """SIGTERM or SIGHUP asked `serve` to stop: unwind so that everything it started is stopped."""


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    current = signal.getsignal(signal.SIGTERM)
    if signum == signal.SIGHUP and callable(current) and current is not _on_stop_signal:
        # uvicorn is running and handles SIGTERM (a graceful shutdown, after which it raises SIGTERM again
        # and lands here); it does not handle SIGHUP, so hand that over as a SIGTERM.
        current(signal.SIGTERM, frame)
        return
    raise StopServe(signal.Signals(signum).name)


def lock_data_dir(data_dir: Path) -> IO[str]:
    """Hold an exclusive lock on the data dir for as long as the returned file stays open: two `serve` on one
    data dir would share a SQLite file and fight over one broker socket."""
    handle = (data_dir / "serve.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        _fail(f"another `ocr-service serve` (pid {owner}) is running on the data dir {data_dir}; stop it first")
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _check_storage() -> None:
    from storage import StorageError, get_storage

    try:
        get_storage().check()
    except StorageError as exc:
        _fail(f"storage is not usable: {exc}")


def _auto_migrate() -> None:
    """Apply the migrations once, in this process, before any server or worker process starts."""
    from storage.settings import get_storage_settings

    if get_storage_settings().auto_migrate:
        _migrate()


def _migrate() -> str:
    from storage.records.migrate import migrate

    try:
        return migrate()
    except Exception as exc:
        _fail(f"the job database could not be migrated: {exc}")
        raise  # unreachable: _fail exits


def decide_auth(host: str) -> None:
    """Settle OCR_AUTH for this process and every process it starts: unset, it is `off` on a loopback host and
    `required` on any other; `off` on a non-loopback host only when set so explicitly (with a warning)."""
    from pydantic import ValidationError

    from ocr_api.settings import get_api_settings, is_loopback

    os.environ["OCR_HOST"] = host
    get_api_settings.cache_clear()
    try:
        mode = get_api_settings().effective_auth
    except ValidationError as exc:
        _fail(f"invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']} (OCR_AUTH: required or off)")
        return
    if mode == "off" and not is_loopback(host):
        print(
            f"ocr-service: WARNING: OCR_AUTH=off on {host}: anyone who can reach this port can read, list and "
            "delete every job",
            file=sys.stderr,
            flush=True,
        )
    os.environ["OCR_AUTH"] = mode
    get_api_settings.cache_clear()


def cmd_keys(args: argparse.Namespace) -> None:
    os.environ.setdefault("OCR_DATA_DIR", str(Path(args.data_dir).resolve()))
    configure_logging(args.log_level)
    _auto_migrate()
    from storage.records import api_keys

    if args.action == "create":
        try:
            made = api_keys.create_key(
                args.name, admin=args.admin, rate_per_minute=args.rate_per_minute, max_in_flight=args.max_in_flight
            )
        except (api_keys.KeyNameTaken, ValueError) as exc:
            _fail(str(exc))
            return
        print(f"name: {made.record.name}{' (admin)' if made.record.admin else ''}")
        print(f"api_key: {made.key}")
        print(f"webhook_secret: {made.webhook_secret}", flush=True)
        print("Store both now: neither is shown again (only the key's sha256 is kept).", file=sys.stderr)
    elif args.action == "list":
        rows = [("NAME", "PREFIX", "ADMIN", "RATE/MIN", "IN-FLIGHT", "CREATED", "REVOKED")]
        for k in api_keys.list_keys():
            rows.append((
                k.name, k.prefix + "...", "yes" if k.admin else "no",
                "default" if k.rate_per_minute is None else str(k.rate_per_minute),
                "default" if k.max_in_flight is None else str(k.max_in_flight),
                f"{k.created_at:%Y-%m-%d %H:%M}", f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
            ))  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    else:
        try:
            api_keys.revoke_key(args.name)
        except api_keys.KeyNotFound as exc:
            _fail(str(exc))
        print(f"revoked: {args.name} (API processes stop accepting it within OCR_KEY_CACHE_S seconds)")


def cmd_migrate(args: argparse.Namespace) -> None:
    configure_logging(args.log_level)
    print(f"job database at revision {_migrate()}", flush=True)


def cmd_serve(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_data_dir(data_dir)
    os.environ["OCR_DATA_DIR"] = str(data_dir)
    configure_logging(args.log_level)
    from ocr_telemetry.metrics import clear_shared_dir
    from ocr_telemetry.settings import get_telemetry_settings

    # serve owns every process that writes metrics here: start the counts from zero.
    clear_shared_dir(get_telemetry_settings().effective_metrics_dir)

    decide_auth(args.host)
    # SIGINT arrives as KeyboardInterrupt (even when serve was started in the background, where the shell
    # hands it SIGINT ignored); SIGTERM and SIGHUP unwind the same way instead of killing this process on the
    # spot and leaving its broker and workers running.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    signal.signal(signal.SIGHUP, _on_stop_signal)
    redis = None
    worker = None
    try:
        if not os.environ.get("OCR_BROKER_URL"):
            redis = PrivateRedis(data_dir / "run")
            redis.start()
            os.environ["OCR_BROKER_URL"] = redis.url
        _check_storage()
        _auto_migrate()
        worker = subprocess.Popen(
            _worker_command(args.concurrency, args.log_level),
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # a SIGKILLed serve takes its workers with it
        )
        import uvicorn

        print(f"OCR service on http://{args.host}:{args.port} (docs at /docs), data in {data_dir}", flush=True)
        uvicorn.run(
            "ocr_api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            log_level=args.log_level.lower(),
            log_config=None,  # the app configures logging (ocr_telemetry.logging)
            access_log=False,  # the app logs requests itself when OCR_ACCESS_LOG=true
        )
    except (StopServe, KeyboardInterrupt):
        pass
    finally:
        for signum in STOP_SIGNALS:  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        if worker is not None:
            _stop(worker, grace=30)
        if redis is not None:
            redis.stop()
        lock.close()


def cmd_api(args: argparse.Namespace) -> None:
    import uvicorn

    from ocr_api.settings import ApiSettings, get_api_settings

    decide_auth(args.host or os.environ.get("OCR_HOST") or ApiSettings.model_fields["host"].default)
    settings = get_api_settings()
    configure_logging(args.log_level)
    _auto_migrate()
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
    command = _worker_command(args.concurrency, args.log_level)
    os.execv(command[0], command)  # noqa: S606 - replace this process with the Celery worker


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
        description="Apply the Alembic migrations in storage/migrations to OCR_DATABASE_URL. Safe to run from "
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

    for p in (serve, api, worker, migrate, keys):
        p.add_argument(
            "--log-level",
            default="WARNING" if p is keys else os.environ.get("OCR_LOG_LEVEL", "INFO").upper(),
            choices=["DEBUG", "INFO", "WARNING", "ERROR"],
            help="default: OCR_LOG_LEVEL or INFO",
        )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    os.environ["OCR_LOG_LEVEL"] = args.log_level  # the same level in every process this one starts
    args.func(args)


if __name__ == "__main__":
    main()
