"""Hard inputs through the running service with the defaults: a phone photo of a page taken at a steep angle
(made by bench/synthetic_photos.py with a fixed seed, so its ground truth is exact) is read correctly where
plain `tesseract FILE stdout` is not, and a page read confidently but only in part is recognised as poor
(result.json's `preprocessing` says how much of its text the kept reading covers, and that more passes ran)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from bench.scoring import cer
from tests.support import Stack
from tests.workers.ocr.photos import LINES, incomplete_page, photo_bytes


def plain_tesseract(path: Path) -> str:
    command = ["tesseract", str(path), "stdout", "-l", "eng"]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def preprocessing(stack: Stack, job_id: str) -> dict[str, Any]:
    return dict(stack.client.get(f"/v1/jobs/{job_id}/result.json").json()["pages"][0]["preprocessing"])


def test_a_perspective_photo_of_a_page_is_read_correctly(redis_stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "page-photo.jpg"
    path.write_bytes(photo_bytes("photo-strong", 5))
    truth = "\n".join(LINES)
    job = redis_stack.run(path, formats="txt,json")
    assert job["status"] == "succeeded", job
    service = cer(truth, redis_stack.text(job["id"]), ignore_case=True)
    plain = cer(truth, plain_tesseract(path), ignore_case=True)
    assert service < 0.05 < 0.3 < plain, (service, plain)
    info = preprocessing(redis_stack, job["id"])
    assert "photo-perspective" in info["steps"], info
    assert info["coverage"] > 0.9


def test_a_confident_but_incomplete_reading_is_recognised_as_poor(redis_stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "incomplete.png"
    incomplete_page().save(path)
    job = redis_stack.run(path, formats="txt,json")
    assert job["status"] == "succeeded", job
    result = redis_stack.client.get(f"/v1/jobs/{job['id']}/result.json").json()["pages"][0]
    assert result["confidence"] >= 70  # confident ...
    assert result["preprocessing"]["coverage"] < 0.45  # ... over a third of the page's text
    assert result["preprocessing"]["passes"] > 1  # so it was read again, not taken as done
