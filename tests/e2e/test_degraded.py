"""When a dependency is down: /readyz names it with 503, uploads answer 503 and leave nothing behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import api_process, base_env, corpus_file, free_port, stored_files


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
