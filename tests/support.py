"""Test support: real services (Redis, RabbitMQ, PostgreSQL), real Celery workers, the real API process.

Each stack runs the API and a Celery worker as subprocesses configured only through OCR_ environment
variables, exactly as `ocr-service api` / `ocr-service worker` run in production.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
FILES = CORPUS / "files"
REDIS_URL = os.environ.get("OCR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBIT_URL = os.environ.get("OCR_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
BUCKET = "ocr-contract"  # on the moto S3 server the tests start
REGION = "us-east-1"
PG_ADMIN_URL = os.environ.get("OCR_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")


def corpus_file(name: str) -> Path:
    path = FILES / name
    if not path.exists():
        pytest.fail(f"corpus file {path} missing: the tests read ../shared/corpus beside the repo")
    return path


def ground_truth(name: str) -> str:
    return (FILES / f"{name}.gt.txt").read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (children, grandchildren, ...)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of `pids` still running (zombies count as gone)."""
    running = set()
    for pid in pids:
        with contextlib.suppress(OSError, IndexError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                running.add(pid)
    return running


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            last = predicate()
            if last:
                return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


@dataclass
class Stack:
    """A running API process and Celery worker sharing one broker, database and store."""

    name: str
    env: dict[str, str]
    data_dir: Path
    base_url: str = ""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    client: httpx.Client = field(init=False)

    def start(self, workers: int = 2) -> Stack:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        if workers:
            self.start_worker(workers)
        api_cmd = [sys.executable, "-m", "ocr_api.cli", "api", "--host", "127.0.0.1", "--port", str(port)]
        # With no worker yet, the API is ready all the same (its /readyz would wait for one otherwise).
        self._spawn(api_cmd, "api.log", None if workers else {"OCR_READY_REQUIRES_WORKERS": "false"})
        self.client = httpx.Client(base_url=self.base_url, timeout=30)
        wait_for(lambda: self.client.get("/readyz").status_code == 200, 30, f"{self.name} API ready")
        return self

    def start_worker(self, workers: int = 2, **env: str) -> subprocess.Popen[bytes]:
        """A Celery worker on the stack's queue (another one, when the stack has one already)."""
        worker_cmd = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO",
            "--concurrency", str(workers), "-Q", self.env["OCR_QUEUE_NAME"], "-O", "fair",
            "--without-gossip", "--without-mingle", "--hostname", f"{self.name}-{uuid.uuid4().hex[:6]}@%h",
        ]  # fmt: skip
        return self._spawn(worker_cmd, "worker.log", env)

    def _spawn(self, cmd: list[str], log_name: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log_dir = self.data_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / log_name).open("ab") as log:
            proc = subprocess.Popen(
                cmd, env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
            )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        self.client.close()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()

    def log(self, name: str) -> str:
        path = self.data_dir / "logs" / name
        return path.read_text(errors="replace") if path.exists() else ""

    # -- helpers for tests -------------------------------------------------------------------------
    def submit(self, path: Path, filename: str | None = None, **fields: Any) -> httpx.Response:
        with path.open("rb") as fh:
            files = {"file": (filename or path.name, fh, "application/octet-stream")}
            return self.client.post("/v1/jobs", files=files, data={k: str(v) for k, v in fields.items()})

    def submit_ok(self, path: Path, **fields: Any) -> dict[str, Any]:
        response = self.submit(path, **fields)
        assert response.status_code == 202, response.text
        return dict(response.json())

    def wait(self, job_id: str, timeout: float = 120) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body = self.client.get(f"/v1/jobs/{job_id}").json()
            return body if body["status"] in ("succeeded", "failed") else None

        try:
            return dict(wait_for(finished, timeout, f"job {job_id}", interval=0.1))
        except TimeoutError:
            print(self.log("worker.log")[-5000:])
            raise

    def run(self, path: Path, **fields: Any) -> dict[str, Any]:
        return self.wait(self.submit_ok(path, **fields)["id"])

    def text(self, job_id: str) -> str:
        response = self.client.get(f"/v1/jobs/{job_id}/result.txt")
        assert response.status_code == 200, response.text
        return response.text


class RedisServer:
    """A redis-server of a test's own on a free loopback port, which the test may stop, wipe and restart
    (never the shared one on 6379)."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--dir", str(self.data_dir)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def answers() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")

        wait_for(answers, 10, f"redis-server on port {self.port}", interval=0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # no persistence: it comes back empty
            self.proc.wait(10)

    def restart_empty(self) -> None:
        self.stop()
        self.start()


def start_api(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """Start an `ocr-service api` process on `env` and a free port; the process and its port."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocr_api.cli", "api", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return proc, port


@contextlib.contextmanager
def api_process(env: dict[str, str]) -> Iterator[httpx.Client]:
    """Another `ocr-service api` process on `env`, and a client for it, for as long as the context lasts."""
    proc, port = start_api(env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait_for(lambda: client.get("/healthz").status_code == 200, 30, "the API process")
            yield client
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def temporary_pg_database(prefix: str = "ocr_test") -> Iterator[str]:
    """A new, empty PostgreSQL database for as long as the context lasts: its SQLAlchemy URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    admin = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"postgresql+psycopg://{admin.split('://', 1)[1]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def serve_env(**overrides: str) -> dict[str, str]:
    """The environment of `ocr-service serve` as a user starts it: no OCR_ settings but these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env.update(PYTHONUNBUFFERED="1", **overrides)
    return env


@contextlib.contextmanager
def serve_process(root: Path, env: dict[str, str], concurrency: int = 2) -> Iterator[str]:
    """`ocr-service serve` with its data dir at root/data (log at root/serve.log), ready: its base URL.
    Stopped with SIGINT, as Ctrl-C would, when the context ends."""
    port = free_port()
    cmd = [sys.executable, "-m", "ocr_api.cli", "serve", "--data-dir", str(root / "data"), "--port", str(port),
           "--concurrency", str(concurrency), "--log-level", "WARNING"]  # fmt: skip
    with (root / "serve.log").open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").status_code == 200, 60, "serve to be ready")
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def base_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env.update(
        {
            "OCR_DATA_DIR": str(data_dir),
            "OCR_BROKER_URL": REDIS_URL,
            "OCR_QUEUE_NAME": f"ocr-test-{uuid.uuid4().hex[:10]}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def stored_files(data_dir: Path) -> list[Path]:
    """Every object file in the local store (ignoring checksum sidecars and the temp dir)."""
    root = data_dir / "files"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts and p.suffix != ".sha256")


def insert_job(data: bytes | None, media_type: str, job_id: str | None = None, **fields: Any) -> str:
    """A queued job as POST /v1/jobs records it, in this process's configured database and storage;
    with `data` None its input object is missing."""
    from storage import get_storage
    from storage.objects.keys import input_key
    from storage.records import jobs as repo
    from storage.records.db import session_scope
    from storage.records.models import Job

    job_id = job_id or str(uuid.uuid4())
    size, sha256 = 0, "0" * 64
    if data is not None:
        stored = get_storage().put_bytes(input_key(job_id), data, media_type)
        size, sha256 = stored.size, stored.sha256
    job = Job(id=job_id, media_type=media_type, input_key=input_key(job_id), input_size=size, input_sha256=sha256)
    for name, value in fields.items():
        setattr(job, name, value)
    with session_scope() as session:
        repo.add_job(session, job)
    return job_id


def load_job(job_id: str) -> Any:
    """The job record as the database has it now (a storage.records.models.Job)."""
    from storage.records import jobs as repo
    from storage.records.db import session_scope

    with session_scope() as session:
        job = repo.get_job(session, job_id)
    assert job is not None, f"job {job_id} is gone"
    return job


def forget_settings() -> None:
    """Drop every cached settings object, storage backend and database engine: the next use reads the
    environment again."""
    from maintenance.settings import get_maintenance_settings
    from storage import reset_storage
    from storage.records.db import reset_engine
    from workers.ocr.settings import get_ocr_settings
    from workers.settings import get_worker_settings

    get_maintenance_settings.cache_clear()
    get_worker_settings.cache_clear()
    get_ocr_settings.cache_clear()
    reset_storage()
    reset_engine()
