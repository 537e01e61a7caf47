"""The result cache through the whole service: API upload, Redis, a real Celery worker, result download."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from tests.support import Stack, corpus_file


@pytest.fixture
def fresh_image(tmp_path: Path) -> Path:
    """The same pixels as a corpus image, but bytes no earlier test uploaded (so the first run is no hit)."""
    info = PngInfo()
    info.add_text("nonce", uuid.uuid4().hex)
    path = tmp_path / "simple.png"
    with Image.open(corpus_file("paperless_simple.png")) as image:
        image.save(path, pnginfo=info)
    return path


def _run(stack: Stack, path: Path, **fields: str) -> dict[str, Any]:
    job = stack.run(path, formats="txt,json", **fields)
    assert job["status"] == "succeeded", job
    return job


def test_same_file_and_options_reuse_the_first_result(stack: Stack, fresh_image: Path) -> None:
    first = _run(stack, fresh_image)
    assert "cache_hit_of" not in first["engine"]
    second = _run(stack, fresh_image)
    assert second["engine"]["cache_hit_of"] == first["id"]
    assert (second["pages_total"], second["pages_done"]) == (1, 1)
    assert second["engine"]["models"] == first["engine"]["models"]
    assert stack.text(second["id"]) == stack.text(first["id"])
    assert "This is a test document." in stack.text(second["id"])
    document = stack.client.get(f"/v1/jobs/{second['id']}/result.json").json()
    assert document["job_id"] == second["id"]


def test_different_language_is_not_a_hit(stack: Stack, fresh_image: Path) -> None:
    first = _run(stack, fresh_image)
    other = _run(stack, fresh_image, lang="deu")
    assert "cache_hit_of" not in other["engine"]
    assert other["engine"]["options"]["lang"] == "deu"
    assert _run(stack, fresh_image)["engine"]["cache_hit_of"] == first["id"]


def test_deleted_job_is_not_a_hit(stack: Stack, fresh_image: Path) -> None:
    first = _run(stack, fresh_image)
    assert stack.client.delete(f"/v1/jobs/{first['id']}").status_code == 204
    again = _run(stack, fresh_image)
    assert "cache_hit_of" not in again["engine"]
    assert "This is a test document." in stack.text(again["id"])
