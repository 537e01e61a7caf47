"""A batch's own limits, on an API whose single uploads may be 1 MiB (no worker: jobs stay queued): the batch's
body may hold more than one upload's (OCR_MAX_BATCH_MB), each file is still held to OCR_MAX_UPLOAD_MB and named
when over it, and OCR_MAX_BATCH_FILES bounds the files; a refused batch leaves nothing behind."""

from __future__ import annotations

import io
import os

import httpx
from PIL import Image

from tests.support import Stack, stored_files

MIB = 1024 * 1024


def noise_png(size: tuple[int, int]) -> bytes:
    """Random pixels: PNG cannot shrink them, so the file is about width x height x 3 bytes."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, "PNG", compress_level=0)
    return buffer.getvalue()


def post_batch(stack: Stack, files: list[tuple[str, bytes]]) -> httpx.Response:
    parts = [("file", (name, io.BytesIO(data), "application/octet-stream")) for name, data in files]
    return stack.client.post("/v1/batches", files=parts)


def test_a_batch_may_be_larger_than_one_upload_but_not_its_files(api_only_stack: Stack) -> None:
    under = noise_png((560, 560))  # about 0.9 MiB: within the 1 MiB of one upload
    assert 0.8 * MIB < len(under) < MIB
    accepted = post_batch(api_only_stack, [(f"p{i}.png", under) for i in range(3)])  # 2.7 MiB: over one upload's
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["files"] == 3

    before = stored_files(api_only_stack.data_dir)
    over = post_batch(api_only_stack, [("small.png", under), ("big.png", noise_png((700, 700)))])
    assert over.status_code == 413, over.text
    error = over.json()["error"]
    assert error["code"] == "upload_too_large" and error["message"].startswith("file 2 (big.png): ")
    assert "OCR_MAX_UPLOAD_MB" in error["message"] and error["details"]["file"] == 2
    assert stored_files(api_only_stack.data_dir) == before, "nothing of a refused batch is kept"


def test_at_most_max_batch_files(api_only_stack: Stack) -> None:
    tiny = noise_png((8, 8))
    response = post_batch(api_only_stack, [(f"{i}.png", tiny) for i in range(101)])  # OCR_MAX_BATCH_FILES: 100
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert "OCR_MAX_BATCH_FILES" in error["message"] and error["details"] == {"files": 101, "maximum": 100}
