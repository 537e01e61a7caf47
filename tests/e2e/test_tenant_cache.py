"""The result cache is a tenant's own: key B uploading the bytes key A uploaded gets a reading of its own, and
nothing B sees (status, results, metrics, timing) names A's job or file. The same key twice still hits.
Through `serve` (Redis, SQLite) and split API + worker (RabbitMQ, PostgreSQL), keys required."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.access.conftest import Access, make_key
from tests.support import RABBIT_URL, Stack, base_env, corpus_file, serve_env, serve_process, temporary_pg_database

FORMATS = "txt,json,alto,hocr,pdf"
SECRET_NAME = "alice-secret-contract.png"


def _keys(env: dict[str, str]) -> dict[str, str]:
    return {name: make_key(env, name) for name in ("alice", "bob")}


@pytest.fixture(scope="module", params=["serve", "split"])
def keyed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Access]:
    """serve (Redis, SQLite) and split API + worker (RabbitMQ, a PostgreSQL database of its own), keys required."""
    root = tmp_path_factory.mktemp(f"tenant-cache-{request.param}")
    if request.param == "serve":
        env = serve_env(OCR_AUTH="required", OCR_DATA_DIR=str(root / "data"))
        keys = _keys(env)
        with serve_process(root, env) as url:
            access = Access(url, env, keys)
            yield access
            access.close()
        return
    with temporary_pg_database("ocr_tenant_cache") as database_url:
        env = base_env(root, OCR_BROKER_URL=RABBIT_URL, OCR_DATABASE_URL=database_url, OCR_AUTH="required")
        stack = Stack("tenant-cache", env, root).start()
        access = Access(stack.base_url, env, _keys(env))
        yield access
        access.close()
        stack.stop()
        from tests.conftest import _delete_amqp_queue

        _delete_amqp_queue(env["OCR_QUEUE_NAME"])


@pytest.fixture
def fresh_image(tmp_path: Path) -> Path:
    """A corpus image's pixels in bytes no earlier test uploaded."""
    info = PngInfo()
    info.add_text("nonce", uuid.uuid4().hex)
    path = tmp_path / SECRET_NAME
    with Image.open(corpus_file("paperless_simple.png")) as image:
        image.save(path, pnginfo=info)
    return path


def _cache_hits(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    return sum(float(v) for v in re.findall(r"^ocr_result_cache_hits_total\{[^}]*\} (\S+)$", text, re.MULTILINE))


def _run(access: Access, client: httpx.Client, path: Path, name: str) -> dict[str, Any]:
    with path.open("rb") as fh:
        made = client.post("/v1/jobs", files={"file": (name, fh, "image/png")}, data={"formats": FORMATS})
    assert made.status_code == 202, made.text
    job = access.wait(client, made.json()["id"])
    assert job["status"] == "succeeded", job
    return job


def _seconds(job: dict[str, Any]) -> float:
    return (datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])).total_seconds()


def _everything_seen(client: httpx.Client, job_id: str) -> bytes:
    seen = [client.get(f"/v1/jobs/{job_id}").content, client.get("/metrics").content]
    for fmt in FORMATS.split(","):
        result = client.get(f"/v1/jobs/{job_id}/result.{fmt}")
        assert result.status_code == 200, (fmt, result.text)
        seen.append(result.content)
    return b"".join(seen)


def test_another_key_gets_its_own_reading_and_learns_nothing(keyed: Access, fresh_image: Path) -> None:
    alice, bob = keyed["alice"], keyed["bob"]
    first = _run(keyed, alice, fresh_image, SECRET_NAME)
    assert "cache_hit_of" not in first["engine"]

    hits = _cache_hits(bob)
    theirs = _run(keyed, bob, fresh_image, "bob.png")
    assert "cache_hit_of" not in theirs["engine"], "another key's bytes are never answered from the cache"
    assert _cache_hits(bob) == hits, "the cache-hit metric says nothing either"
    assert "This is a test document." in bob.get(f"/v1/jobs/{theirs['id']}/result.txt").text
    seen = _everything_seen(bob, theirs["id"])
    assert first["id"].encode() not in seen
    assert b"alice-secret" not in seen
    assert b"<fileName>bob.png</fileName>" in bob.get(f"/v1/jobs/{theirs['id']}/result.alto").content
    assert bob.get(f"/v1/jobs/{theirs['id']}/result.json").json()["filename"] == "bob.png"

    # The same key twice still hits, and names its own new file.
    again = _run(keyed, alice, fresh_image, "alice-again.png")
    assert again["engine"]["cache_hit_of"] == first["id"]
    # A copy is recorded started and finished in one transaction; bob's job was really recognized meanwhile.
    assert _seconds(theirs) > 3 * _seconds(again), (_seconds(theirs), _seconds(again))
    assert _cache_hits(alice) == hits + 1
    alto = alice.get(f"/v1/jobs/{again['id']}/result.alto").content
    assert b"<fileName>alice-again.png</fileName>" in alto and SECRET_NAME.encode() not in alto
