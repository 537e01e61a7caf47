"""When a dependency is down: /readyz names it with 503, uploads answer 503 and leave nothing behind. No
worker on the queue is a missing dependency too: uploads would be accepted and wait for ever."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kombu import Connection

from tests.support import RABBIT_URL, Stack, api_process, base_env, corpus_file, free_port, stored_files, wait_for


@pytest.fixture
def api_without_broker(tmp_path: Path) -> Iterator[tuple[httpx.Client, Path]]:
    env = base_env(tmp_path, OCR_BROKER_URL=f"redis://127.0.0.1:{free_port()}/0")
    with api_process(env) as client:
        yield client, tmp_path


def test_readyz_names_the_missing_broker(api_without_broker: tuple[httpx.Client, Path]) -> None:
    client, _ = api_without_broker
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok" and body["checks"]["storage"] == "ok"
    assert body["checks"]["broker"].startswith("unavailable") and "redis" in body["checks"]["broker"]


def test_upload_without_broker_is_503_and_leaves_nothing(api_without_broker: tuple[httpx.Client, Path]) -> None:
    client, data_dir = api_without_broker
    with corpus_file("tess_HelloGoogle.tif").open("rb") as fh:
        response = client.post("/v1/jobs", files={"file": ("a.tif", fh)})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "queue_unavailable"
    assert stored_files(data_dir) == []
    assert client.get("/v1/jobs").json()["jobs"] == []


@pytest.fixture(params=["redis", "rabbitmq-postgresql"])
def stack_with_one_worker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    env = base_env(tmp_path)
    if request.param != "redis":
        env.update(OCR_BROKER_URL=RABBIT_URL, OCR_DATABASE_URL=request.getfixturevalue("pg_database_url"))
    stack = Stack(f"ready-{request.param}", env, tmp_path).start(workers=1)  # ready only once the worker is
    yield stack
    stack.stop()
    if request.param != "redis":
        with contextlib.suppress(Exception), Connection(RABBIT_URL) as conn:
            conn.default_channel.queue_delete(env["OCR_QUEUE_NAME"])


def test_readyz_names_the_missing_workers_and_is_ready_again_with_one(stack_with_one_worker: Stack) -> None:
    stack = stack_with_one_worker
    client = stack.client
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["workers"] == "ok"
    started = time.perf_counter()
    for _ in range(20):  # a probe every few seconds costs a few milliseconds
        assert client.get("/readyz").status_code == 200
    assert (time.perf_counter() - started) / 20 < 0.25

    worker = stack.procs[0]
    worker.kill()  # SIGKILL: no goodbye; on Redis its heartbeat goes stale, on RabbitMQ its consumer goes
    worker.wait(10)
    started = time.monotonic()
    gone = wait_for(lambda: (r := client.get("/readyz")).status_code == 503 and r, 20, "/readyz to say no workers")
    assert time.monotonic() - started < 15
    body = gone.json()
    assert body["status"] == "unavailable" and body["checks"]["broker"] == "ok"
    assert body["checks"]["workers"].startswith("unavailable") and "no worker" in body["checks"]["workers"]

    stack.start_worker(1)
    wait_for(lambda: client.get("/readyz").status_code == 200, 60, "/readyz with a worker back")
    assert stack.run(corpus_file("tess_HelloGoogle.tif"))["status"] == "succeeded"


def test_a_worker_stopping_gracefully_is_not_ready_at_once(tmp_path: Path) -> None:
    stack = Stack("ready-stop", base_env(tmp_path), tmp_path).start(workers=1)
    try:
        stack.procs[0].terminate()  # a warm shutdown removes the worker's heartbeat as it goes
        stack.procs[0].wait(30)
        response = stack.client.get("/readyz")
        assert response.status_code == 503 and "no worker" in response.json()["checks"]["workers"]
    finally:
        stack.stop()
