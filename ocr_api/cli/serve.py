"""`ocr-service serve`: the API, a worker pool and a private redis-server on one machine, stopped together."""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import IO

from ocr_api.cli.common import auto_migrate, check_storage, decide_auth, fail
from ocr_api.cli.processes import uvicorn_limits, worker_command
from ocr_telemetry.logging import configure_logging
from workers.lifeline import die_with_parent

log = logging.getLogger(__name__)


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


class PoolSupervisor:
    """Keeps `serve`'s Celery worker running: when its main process exits (SIGKILL, the OOM killer, a crash)
    it is started again after a back-off (`first_backoff_s`, doubling to `max_backoff_s`, back to the first
    once a pool ran a minute). Past `max_restarts_per_minute` restarts in a minute it gives up and calls
    `on_give_up`, so that `serve` exits non-zero and whatever supervises it (systemd, Docker) starts all again.

    A watcher thread polls the process; it also starts the new ones, which therefore ask for their parent-death
    signal from that thread, alive until stop()."""

    def __init__(
        self,
        command: list[str],
        on_give_up: Callable[[], None],
        *,
        max_restarts_per_minute: int = 5,
        first_backoff_s: float = 1.0,
        max_backoff_s: float = 8.0,
    ) -> None:
        self.command = command
        self.on_give_up = on_give_up
        self.max_restarts_per_minute = max_restarts_per_minute
        self.first_backoff_s, self.max_backoff_s = first_backoff_s, max_backoff_s
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts: list[float] = []  # monotonic times of the restarts in the last minute
        self.gave_up = False
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # stop() and a restart never cross: no pool is started after stop()
        self._thread = threading.Thread(target=self._watch, name="pool-supervisor", daemon=True)

    def start(self) -> None:
        self.proc = self._spawn()
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.command,
            start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGTERM),  # a SIGKILLed serve takes its workers with it
        )

    def _watch(self) -> None:
        backoff = self.first_backoff_s
        started = time.monotonic()
        while self.proc is not None:
            while self.proc.poll() is None:
                if self._stopping.wait(0.2):
                    return
            if self._stopping.is_set():
                return
            now = time.monotonic()
            if now - started > 60:
                backoff = self.first_backoff_s
            self.restarts = [t for t in self.restarts if now - t < 60]
            if len(self.restarts) >= self.max_restarts_per_minute:
                log.error(
                    "the worker pool exited with %s, its %d restart in a minute: giving up, serve stops",
                    self.proc.returncode,
                    len(self.restarts) + 1,
                )
                self.gave_up = True
                self.on_give_up()
                return
            log.warning(
                "the worker pool (pid %d) exited with %s; restarting it in %.1f s",
                self.proc.pid,
                self.proc.returncode,
                backoff,
            )
            if self._stopping.wait(backoff):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                self.proc, started = self._spawn(), time.monotonic()
                self.restarts.append(started)
            log.warning("the worker pool restarted (pid %d, %d restarts in the last minute)", self.proc.pid,
                        len(self.restarts))  # fmt: skip
            backoff = min(backoff * 2, self.max_backoff_s)

    def stop(self, grace: float) -> None:
        with self._lock:
            self._stopping.set()
            proc = self.proc
        if proc is not None:
            _stop(proc, grace)
        if self._thread.is_alive():
            self._thread.join(5)


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


def _stop_serve() -> None:
    """Stop `serve` as a SIGTERM would: uvicorn shuts down gracefully, then everything else is stopped."""
    os.kill(os.getpid(), signal.SIGTERM)


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


def make_private_data_dir(data_dir: Path) -> None:
    """Everything `serve` and the processes it starts write is its user's alone: files 0600, directories 0700
    (the umask, which its children inherit: SQLite, redis-server's files, objects, logs), the data dir too."""
    os.umask(0o077)
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        data_dir.chmod(0o700)
    except PermissionError as exc:  # another user's directory: serve works, but say it is not private
        log.warning("cannot make the data dir %s private to this user: %s", data_dir, exc)


def cmd_serve(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    make_private_data_dir(data_dir)
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
        worker = PoolSupervisor(worker_command(args.concurrency, args.log_level), _stop_serve)
        worker.start()
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
            worker.stop(grace=30)
        if redis is not None:
            redis.stop()
        lock.close()
    if worker is not None and worker.gave_up:
        fail("the worker pool kept exiting; serve stopped so that its supervisor starts it again")
