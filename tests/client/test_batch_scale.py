"""`ocr-client submit`'s engine over hundreds of files (the code path of 10,000), with an instant in-process
service (httpx MockTransport): open files stay bounded, every upload carries its Idempotency-Key, everything is
mirrored."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
from ocr_client import AsyncClient
from ocr_client.batch import Batch, Outcome, idempotency_key, options_key
from ocr_client.discover import discover
from ocr_client.options import JobOptions
from ocr_client.state import STATE_NAME, file_sha256

FILES = 400
CONCURRENCY = 8


class FakeService:
    def __init__(self) -> None:
        self.uploads: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            self.uploads.append(request)
            return httpx.Response(202, json=self.job(f"j{len(self.uploads)}", "queued"))
        job_id = path.split("/")[3]
        if path.endswith("/events"):
            body = 'id: 1\nevent: page\ndata: {"page": 1}\n\nid: 2\nevent: status\ndata: {"status": "succeeded"}\n\n'
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        if "/result." in path:
            return httpx.Response(200, content=f"text of {job_id}".encode())
        return httpx.Response(200, json=self.job(job_id, "succeeded"))

    @staticmethod
    def job(job_id: str, status: str) -> dict[str, object]:
        return {"id": job_id, "status": status, "pages_total": 1, "pages_done": 1, "formats": ["txt"]}


class FdWatcher:
    def __init__(self) -> None:
        self.peak = 0
        self.pages = 0

    def discovered(self, count: int, complete: bool) -> None:
        self.sample()

    def page_done(self) -> None:
        self.pages += 1

    def finished(self, outcome: Outcome) -> None:
        self.sample()

    def sample(self) -> None:
        self.peak = max(self.peak, len(os.listdir("/proc/self/fd")))


def test_hundreds_of_files_with_bounded_open_files(tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    for i in range(FILES):
        folder = scans / f"d{i // 50:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + str(i).encode())
    service = FakeService()
    watcher = FdWatcher()
    baseline = len(os.listdir("/proc/self/fd"))
    options = JobOptions(formats="txt")

    async def run() -> list[Outcome]:
        client = AsyncClient("http://ocr.test", transport=httpx.MockTransport(service))
        async with client:
            batch = Batch(client, tmp_path / "out", options, watcher, CONCURRENCY)
            return await batch.run(discover([scans], recursive=True))

    outcomes = asyncio.run(run())
    assert len(outcomes) == FILES and {o.status for o in outcomes} == {"done"}
    assert watcher.pages == FILES
    assert watcher.peak - baseline < 4 * CONCURRENCY, f"{watcher.peak - baseline} descriptors open at once"
    assert (tmp_path / "out" / "d07" / "377.txt").read_text().startswith("text of j")
    sample = scans / "d03" / "175.png"
    keys = {r.headers["Idempotency-Key"] for r in service.uploads}
    assert len(keys) == FILES and idempotency_key(file_sha256(sample), options_key(options)) in keys
    lines = (tmp_path / "out" / STATE_NAME).read_text().splitlines()
    assert len(lines) == FILES and all(json.loads(line)["done"] for line in lines), "compacted: one line a file"
