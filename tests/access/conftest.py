"""Stacks with API keys required: `ocr-service serve` as a subprocess (private Redis, SQLite), the split API and
worker on RabbitMQ and PostgreSQL, and an API with no worker (jobs stay queued) for the limits."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    RABBIT_URL,
    REPO,
    Stack,
    base_env,
    serve_env,
    serve_process,
    temporary_pg_database,
    wait_for,
)

KEY_NAMES = ("alice", "bob")


def keys_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocr_api.cli", "keys", *args], env=env, cwd=REPO, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


def make_key(env: dict[str, str], name: str, *flags: str) -> str:
    """A new API key made with `ocr-service keys create`, as printed (once)."""
    done = keys_cli(env, "create", name, *flags)
    assert done.returncode == 0, done.stderr
    printed = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    return printed["api_key"]


@dataclass
class Access:
    """A running service with API keys required, and a client per key."""

    url: str
    env: dict[str, str]
    keys: dict[str, str]
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, key in self.keys.items():
            self.clients[name] = httpx.Client(base_url=self.url, timeout=30, headers={"X-API-Key": key})
        self.clients["nobody"] = httpx.Client(base_url=self.url, timeout=30)

    def __getitem__(self, name: str) -> httpx.Client:
        return self.clients[name]

    def add_key(self, name: str, *flags: str) -> httpx.Client:
        self.keys[name] = make_key(self.env, name, *flags)
        self.clients[name] = httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {self.keys[name]}"}
        )
        return self.clients[name]

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def wait(self, client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body = client.get(f"/v1/jobs/{job_id}").json()
            return body if body["status"] in ("succeeded", "failed", "cancelled") else None

        return dict(wait_for(finished, timeout, f"job {job_id}"))


def upload(client: httpx.Client, path: Path, headers: dict[str, str] | None = None, **fields: Any) -> httpx.Response:
    with path.open("rb") as fh:
        files = {"file": (path.name, fh, "application/octet-stream")}
        data = {k: str(v) for k, v in fields.items()}
        return client.post("/v1/jobs", files=files, data=data, headers=headers or {})


def _served_keys(env: dict[str, str]) -> dict[str, str]:
    keys = {name: make_key(env, name) for name in KEY_NAMES}
    keys["root"] = make_key(env, "root", "--admin")
    return keys


@pytest.fixture(scope="session")
def served_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Access]:
    """`ocr-service serve` with OCR_AUTH=required (keys made before it starts, as a user would)."""
    root = tmp_path_factory.mktemp("serve-auth")
    env = serve_env(
        OCR_AUTH="required",
        OCR_KEY_CACHE_S="0.5",
        OCR_DATA_DIR=str(root / "data"),
        OCR_WEBHOOK_ALLOW_PRIVATE="true",  # webhooks to a receiver in the test (test_webhooks_keyed.py)
        OCR_URL_SOURCE="true",  # urlSource from a server in the test (test_docintel_sdk.py)
        OCR_URL_SOURCE_ALLOW_PRIVATE="true",
    )
    keys = _served_keys(env)
    with serve_process(root, env) as url:
        access = Access(url, env, keys)
        try:
            yield access
        finally:
            access.close()


@pytest.fixture(scope="session")
def split_auth(tmp_path_factory: pytest.TempPathFactory, pg_database_url: str) -> Iterator[Access]:
    """`ocr-service api` and a Celery worker on RabbitMQ and PostgreSQL, keys required."""
    data_dir = tmp_path_factory.mktemp("split-auth")
    env = base_env(
        data_dir,
        OCR_BROKER_URL=RABBIT_URL,
        OCR_DATABASE_URL=pg_database_url,
        OCR_AUTH="required",
        OCR_KEY_CACHE_S="0.5",
        OCR_WEBHOOK_ALLOW_PRIVATE="true",
    )
    stack = Stack("rabbit-pg-auth", env, data_dir).start()
    access = Access(stack.base_url, env, _served_keys(env))
    yield access
    access.close()
    stack.stop()
    from tests.conftest import _delete_amqp_queue

    _delete_amqp_queue(env["OCR_QUEUE_NAME"])


@pytest.fixture(params=["served_auth", "split_auth"])
def any_access(request: pytest.FixtureRequest) -> Access:
    """Both ways to run the service: serve (Redis, SQLite) and split API + worker (RabbitMQ, PostgreSQL)."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def queued_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Access]:
    """An API with keys required and no worker (jobs stay queued), Redis broker, SQLite, CORS for one origin."""
    data_dir = tmp_path_factory.mktemp("queued-auth")
    env = base_env(data_dir, OCR_AUTH="required", OCR_CORS_ORIGINS="https://app.example, https://other.example")
    stack = Stack("queued-auth", env, data_dir).start(workers=0)
    access = Access(stack.base_url, env, _served_keys(env))
    yield access
    access.close()
    stack.stop()


@dataclass
class EdgeAccess(Access):
    """A queued API (no worker) with keys required and short edge limits: its process and temp dir too."""

    pid: int = 0
    tmp_dir: Path = Path()
    data_dir: Path = Path()


EDGE_SETTINGS = {"OCR_AUTH": "required", "OCR_KEY_CACHE_S": "0.5", "OCR_MAX_STREAMS_PER_KEY": "2",
                 "OCR_MAX_UPLOADS_PER_KEY": "2"}  # fmt: skip


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def edge_auth(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeAccess]:
    """Keys required, OCR_MAX_STREAMS_PER_KEY=2, OCR_MAX_UPLOADS_PER_KEY=2, the API's TMPDIR its own; on SQLite
    and on PostgreSQL."""
    data_dir = tmp_path_factory.mktemp(f"edge-auth-{request.param}")
    tmp_dir = data_dir / "tmp"
    tmp_dir.mkdir()
    with contextlib.ExitStack() as cleanup:
        database = {}
        if request.param == "postgresql":  # a database of its own: the other stacks' keys have these names too
            database["OCR_DATABASE_URL"] = cleanup.enter_context(temporary_pg_database("ocr_edge"))
        env = base_env(data_dir, TMPDIR=str(tmp_dir), **EDGE_SETTINGS, **database)
        stack = Stack(f"edge-auth-{request.param}", env, data_dir).start(workers=0)
        cleanup.callback(stack.stop)
        access = EdgeAccess(stack.base_url, env, _served_keys(env), pid=stack.procs[-1].pid, tmp_dir=tmp_dir,
                            data_dir=data_dir)  # fmt: skip
        cleanup.callback(access.close)
        yield access
