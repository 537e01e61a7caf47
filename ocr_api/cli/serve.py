"""`ocr-service serve`: the API, a worker pool and a private redis-server on one machine, stopped together."""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import FrameType
from typing import IO

from ocr_api.cli.common import auto_migrate, check_storage, decide_auth, fail
from ocr_api.cli.processes import uvicorn_limits, worker_command
from ocr_telemetry.logging import configure_logging
from workers.lifeline import die_with_parent


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
            fail("redis-server not found: install it (apt-get install redis-server) or set OCR_BROKER_URL")
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
                fail(f"the private redis-server did not start; see {self.run_dir / 'redis.log'}")
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
        fail(f"another `ocr-service serve` (pid {owner}) is running on the data dir {data_dir}; stop it first")
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


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
        check_storage()
        auto_migrate()
        worker = subprocess.Popen(
            worker_command(args.concurrency, args.log_level),
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # a SIGKILLed serve takes its workers with it
        )
        import uvicorn

        from ocr_api.settings import get_api_settings

        print(f"OCR service on http://{args.host}:{args.port} (docs at /docs), data in {data_dir}", flush=True)
        uvicorn.run(
            "ocr_api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            log_level=args.log_level.lower(),
            log_config=None,  # the app configures logging (ocr_telemetry.logging)
            access_log=False,  # the app logs requests itself when OCR_ACCESS_LOG=true
            **uvicorn_limits(get_api_settings()),
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
