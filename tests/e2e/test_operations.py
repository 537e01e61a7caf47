"""Operations, end to end: /metrics moving while pages are OCR'd (worker metrics included, through the API and
through the worker's own port), JSON logs with one request id and job id joined across the API and worker
processes, and the Server-Timing and X-Request-ID headers."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support import Stack, base_env, corpus_file, free_port, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ops_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("ops-stack")
    env = base_env(
        data_dir,
        OCR_LOG_FORMAT="json",
        OCR_ACCESS_LOG="true",
        OCR_RESULT_CACHE="true",
        OCR_WORKER_METRICS_PORT=str(free_port()),
    )
    stack = Stack("ops", env, data_dir).start(workers=1)
    yield stack
    stack.stop()


def two_page_tiff(tmp_path: Path) -> Path:
    """Two pages, so the pages go out as ocr_page tasks of their own (and carry the ids in their headers)."""
    page = Image.open(corpus_file("tess_HelloGoogle.tif")).convert("L")
    # A stripe of noise in a corner makes the bytes (and so the cache key) new on every run.
    page.putpixel((0, 0), uuid.uuid4().int % 256)
    path = tmp_path / "two.tiff"
    page.save(path, "TIFF", save_all=True, append_images=[page.copy()])
    return path


def samples(text: str, name: str) -> dict[str, float]:
    """Series of one metric: label string -> value."""
    found = {}
    for line in text.splitlines():
        m = re.match(rf"^{name}(\{{.*\}})? (\S+)$", line)
        if m:
            found[m.group(1) or ""] = float(m.group(2))
    return found


def total(text: str, name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in samples(text, name).items() if all(w in k for w in want))


def json_lines(log: str) -> list[dict[str, Any]]:
    records = []
    for line in log.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def test_metrics_logs_and_timing_follow_a_job(ops_stack: Stack, tmp_path: Path) -> None:
    client = ops_stack.client
    before = client.get("/metrics").text
    request_id = f"ops-{uuid.uuid4().hex[:12]}"
    with two_page_tiff(tmp_path).open("rb") as fh:
        response = client.post(
            "/v1/jobs", files={"file": ("two.tiff", fh)}, data={"retry": "false"}, headers={"X-Request-ID": request_id}
        )
    assert response.status_code == 202, response.text
    assert response.headers["x-request-id"] == request_id
    timing = response.headers["server-timing"]
    for part in ("db;dur=", "storage;dur=", "broker;dur=", "app;dur="):
        assert part in timing, timing
    job_id = response.json()["id"]
    assert ops_stack.wait(job_id)["status"] == "succeeded"
    # A new one-page image, then the same bytes again: a result cache hit.
    first = ops_stack.submit_ok(_write(tmp_path / "again.png", corpus_file("tess_HelloGoogle.tif")))
    assert ops_stack.wait(first["id"])["status"] == "succeeded"
    again = ops_stack.submit_ok(tmp_path / "again.png")
    assert ops_stack.wait(again["id"])["status"] == "succeeded"

    status_read = client.get(f"/v1/jobs/{job_id}")
    assert "db;dur=" in status_read.headers["server-timing"]
    assert len(status_read.headers["x-request-id"]) == 32  # generated when the client sends none

    assert client.get("/metrics").headers["content-type"].startswith("text/plain")

    # The scrape-time gauges are cached for a second (ocr_api/metrics.py STATE_TTL_S).
    def scrape_with_jobs() -> str | None:
        text = client.get("/metrics").text
        return text if total(text, "ocr_jobs", status="succeeded") >= 3 else None

    text = wait_for(scrape_with_jobs, 10, "jobs by status at scrape time")
    # Worker metrics, through the API's /metrics (same machine, one shared directory).
    moved = total(text, "ocr_pages_processed_total", outcome="succeeded") - total(
        before, "ocr_pages_processed_total", outcome="succeeded"
    )
    assert moved >= 3, text
    assert total(text, "ocr_page_recognition_seconds_count", lang="eng", engine="tesserocr") >= 3
    assert total(text, "ocr_page_preprocess_passes_count") >= 3
    assert total(text, "ocr_page_confidence_count") >= 3
    assert total(text, "ocr_result_cache_hits_total") >= 1
    assert total(text, "ocr_worker_process_starts_total") >= 1
    # API metrics.
    assert total(text, "ocr_http_requests_total", method="POST", route="/v1/jobs", status="202") >= 3
    assert total(text, "ocr_http_request_duration_seconds_count", route="/v1/jobs/{job_id}") >= 1
    assert total(text, "ocr_upload_bytes_count", media_type="image/tiff") >= 1
    # Read at scrape time.
    queue = ops_stack.env["OCR_QUEUE_NAME"]
    assert samples(text, "ocr_queue_messages")[f'{{queue="{queue}"}}'] == 0
    assert total(text, "ocr_jobs", status="succeeded") >= 3
    assert total(text, "ocr_jobs", status="queued") == 0

    # The worker pool's own port has the workers' metrics too (for workers on other machines).
    port = ops_stack.env["OCR_WORKER_METRICS_PORT"]
    worker_text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert total(worker_text, "ocr_pages_processed_total", outcome="succeeded") >= 3

    # One request id joins the upload in the API process and the tasks in the worker processes.
    api_records = wait_for(
        lambda: [r for r in json_lines(ops_stack.log("api.log")) if r.get("request_id") == request_id],
        10,
        "the API's log lines",
    )
    assert any(r["message"] == "job accepted" and r["job_id"] == job_id for r in api_records)
    assert any(r.get("route") == "/v1/jobs" and r.get("status") == 202 for r in api_records)
    worker_records = wait_for(
        lambda: [r for r in json_lines(ops_stack.log("worker.log")) if r.get("request_id") == request_id],
        10,
        "the worker's log lines",
    )
    tasks = {(r.get("task"), r.get("page")) for r in worker_records}
    assert ("ocr.prepare_job", None) in tasks and ("ocr.ocr_page", 2) in tasks, worker_records
    assert all(r["job_id"] == job_id for r in worker_records)
    # Every line is one JSON object (uvicorn's and Celery's own lines included); the worker's start banner,
    # printed before logging starts, only when the worker is not started with --quiet (as `ocr-service
    # worker` does with JSON logs).
    api_lines = [line for line in ops_stack.log("api.log").splitlines() if line.strip()]
    worker_lines = ops_stack.log("worker.log").splitlines()
    worker_lines = worker_lines[next(i for i, x in enumerate(worker_lines) if x.startswith("{")) :]
    for lines in (api_lines, worker_lines):
        assert lines and all(line.startswith("{") for line in lines), [x for x in lines if not x.startswith("{")]
    # Neither the file's content nor its recognized text is logged.
    assert "Hello" not in ops_stack.log("api.log") + ops_stack.log("worker.log")


def _write(path: Path, source: Path) -> Path:
    image = Image.open(source).convert("L")
    image.putpixel((1, 1), uuid.uuid4().int % 256)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_a_page_that_fails_at_once_counts_as_failed(ops_stack: Stack, tmp_path: Path) -> None:
    def failed_pages() -> float:
        return total(ops_stack.client.get("/metrics").text, "ocr_pages_processed_total", outcome="failed")

    before = failed_pages()
    data = corpus_file("pyt_test.png").read_bytes()
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])  # the header reads, the pixels do not: the page fails, not the upload
    job = ops_stack.run(path)
    assert job["status"] == "failed" and job["error"]["code"] == "unreadable_input", job
    wait_for(lambda: failed_pages() >= before + 1, 10, "the failed page counted")
