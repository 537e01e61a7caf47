"""GET /v1/jobs/{id}/text and /events: pages and progress while the job runs, through the real API process.

The real stack shows the streams end to end; on the API-only stack (no worker) the test plays the worker's
part in the job records itself, so "page 1 arrives while page 2 is still running" and "the job fails
mid-way" happen exactly when the test says.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.orm import Session

from storage.objects.keys import page_key
from storage.objects.local import LocalStorage
from storage.records import jobs as repo
from storage.records.db import make_engine
from tests.support import Stack, corpus_file
from workers.ocr.outputs.page import PageOutput


def _unique_tiff(path: Path, copies: int = 2) -> Path:
    """The 3-page TIFF's pages `copies` times over, tagged with a fresh id so no earlier result is reused."""
    with Image.open(corpus_file("paperless_multi-page-images.tiff")) as tiff:
        frames = []
        for n in range(tiff.n_frames):
            tiff.seek(n)
            frames.append(tiff.convert("1"))
    frames *= copies
    tag = uuid.uuid4().hex
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:], compression="group4", description=tag)
    return path


def _sse(body: str) -> list[dict[str, Any]]:
    events = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "event" in fields:  # an `error` event has no id
            event_id = int(fields["id"]) if "id" in fields else None
            events.append({"id": event_id, "event": fields["event"], "data": json.loads(fields["data"])})
    return events


def test_text_streams_each_page_in_order_before_the_job_finishes(stack: Stack, tmp_path: Path) -> None:
    job = stack.submit_ok(_unique_tiff(tmp_path / "six-pages.tiff"))
    with stack.client.stream("GET", f"/v1/jobs/{job['id']}/text") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        chunks = [(time.time(), chunk) for chunk in response.iter_text() if chunk]
    done = stack.wait(job["id"])
    assert done["status"] == "succeeded" and done["pages_total"] == 6
    streamed = "".join(chunk for _, chunk in chunks)
    assert streamed == stack.text(job["id"])
    assert [f"Page {(n % 3) + 1}." in page for n, page in enumerate(streamed.split("\f"))] == [True] * 6
    assert chunks[0][0] < datetime.fromisoformat(done["finished_at"]).timestamp()


def test_text_of_a_one_page_job_is_its_result_txt(stack: Stack) -> None:
    # A one-page job keeps no page JSON (its page is done with the job): the stream reads result.txt.
    job = stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))
    with stack.client.stream("GET", f"/v1/jobs/{job['id']}/text") as response:
        assert response.status_code == 200
        streamed = "".join(response.iter_text())
    assert stack.wait(job["id"])["status"] == "succeeded"
    assert streamed == stack.text(job["id"]) and "Hello" in streamed


def test_events_are_ordered_end_with_the_job_and_resume_after_last_event_id(stack: Stack, tmp_path: Path) -> None:
    job = stack.submit_ok(_unique_tiff(tmp_path / "three-pages.tiff", copies=1))
    response = stack.client.get(f"/v1/jobs/{job['id']}/events")  # returns once the job has finished
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _sse(response.text)
    ids = [e["id"] for e in events]
    assert ids == sorted(set(ids))
    assert [(e["event"], e["data"].get("status")) for e in events[:2]] == [("status", "queued"), ("status", "running")]
    assert events[1]["data"]["pages_total"] == 3
    assert sorted(e["data"]["page"] for e in events if e["event"] == "page") == [1, 2, 3]
    assert (events[-1]["event"], events[-1]["data"]["status"]) == ("status", "succeeded")

    resumed = stack.client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(ids[1])})
    assert _sse(resumed.text) == events[2:]
    after_the_end = stack.client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": str(ids[-1])})
    assert after_the_end.status_code == 200 and _sse(after_the_end.text) == []
    not_an_id = stack.client.get(f"/v1/jobs/{job['id']}/events", headers={"Last-Event-ID": "x"})
    assert not_an_id.status_code == 422 and not_an_id.json()["error"]["code"] == "invalid_request"


def test_streams_of_an_unknown_job_are_404(stack: Stack) -> None:
    for path in ("text", "events"):
        response = stack.client.get(f"/v1/jobs/{uuid.uuid4()}/{path}")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "job_not_found"


# -- the worker's part played by the test -----------------------------------------------------------
@contextmanager
def _records(stack: Stack) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{(stack.data_dir / 'jobs.sqlite3').resolve()}")
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()


def _finish_page(stack: Stack, job_id: str, page_no: int, text: str) -> None:
    output = PageOutput(page_no, 100, 100, 300, text, "", "", 90.0)
    LocalStorage(stack.data_dir / "files").put_bytes(page_key(job_id, page_no), output.to_json().encode())
    with _records(stack) as session:
        repo.finish_page(session, job_id, page_no, {"confidence": 90.0})


@pytest.fixture
def running_job(api_only_stack: Stack) -> str:
    """A 2-page job the test moves along itself (nothing consumes the API-only stack's queue)."""
    job = api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))
    with _records(api_only_stack) as session:
        assert repo.start_job(session, job["id"], 2, {})
    return str(job["id"])


def test_text_sends_page_one_while_page_two_is_still_running(api_only_stack: Stack, running_job: str) -> None:
    with (
        httpx.Client(base_url=api_only_stack.base_url, timeout=10) as client,
        client.stream("GET", f"/v1/jobs/{running_job}/text") as response,
    ):
        chunks = (chunk for chunk in response.iter_text() if chunk)
        _finish_page(api_only_stack, running_job, 2, "second page\n\n")  # done first, but page 1 is not
        _finish_page(api_only_stack, running_job, 1, "first page\n")
        assert next(chunks) == "first page\n"
        assert client.get(f"/v1/jobs/{running_job}").json()["status"] == "running"
        with _records(api_only_stack) as session:
            repo.succeed_job(session, running_job)
        assert "".join(chunks) == "\fsecond page\n"


def test_text_and_events_end_when_the_job_fails_midway(api_only_stack: Stack, running_job: str) -> None:
    with httpx.Client(base_url=api_only_stack.base_url, timeout=10) as client:
        with (
            client.stream("GET", f"/v1/jobs/{running_job}/text") as text,
            client.stream("GET", f"/v1/jobs/{running_job}/events") as events,
        ):
            _finish_page(api_only_stack, running_job, 1, "first page\n")
            with _records(api_only_stack) as session:
                repo.fail_job(session, running_job, "page_failed", "page 2: gave up after 3 attempts", 2)
            assert text.read().decode() == "first page\n\fERROR page_failed: page 2: gave up after 3 attempts\n"
            received = _sse(events.read().decode())
        assert [e["event"] for e in received] == ["status", "status", "page", "status"]
        assert received[-1]["data"]["status"] == "failed"
        assert received[-1]["data"]["error"]["code"] == "page_failed"
        # Once failed, the text is not available any more (as with result.txt); the events still are.
        assert client.get(f"/v1/jobs/{running_job}/text").status_code == 409
        assert _sse(client.get(f"/v1/jobs/{running_job}/events").text) == received


@pytest.mark.parametrize("pages_before", [0, 1])
def test_text_and_events_say_so_when_the_job_is_deleted_midway(
    api_only_stack: Stack, running_job: str, pages_before: int
) -> None:
    with (
        httpx.Client(base_url=api_only_stack.base_url, timeout=10) as client,
        client.stream("GET", f"/v1/jobs/{running_job}/text") as text,
        client.stream("GET", f"/v1/jobs/{running_job}/events") as events,
    ):
        if pages_before:
            _finish_page(api_only_stack, running_job, 1, "first page\n")
        time.sleep(0.5)  # both streams have read the job as it is now
        assert client.delete(f"/v1/jobs/{running_job}").status_code == 204
        body = text.read().decode()
        received = _sse(events.read().decode())
    first = "first page\n\f" if pages_before else ""
    assert body == f"{first}ERROR job_deleted: the job was deleted while this stream was open\n"
    # Not the end of a finished job: no `succeeded` or `failed` status, and a last event that says why.
    assert all(e["data"].get("status") not in ("succeeded", "failed") for e in received)
    assert received[-1]["event"] == "error" and received[-1]["id"] is None
    assert received[-1]["data"]["code"] == "job_deleted" and "at" in received[-1]["data"]
    assert [e["event"] for e in received[:-1]] == ["status", "status"] + ["page"] * pages_before


def test_text_says_so_when_a_pages_stored_text_is_gone_but_the_job_is_not(
    api_only_stack: Stack, running_job: str
) -> None:
    # Page 1 recorded done with no stored text (expired meanwhile, or lost): not "deleted", and not a finished job.
    with _records(api_only_stack) as session:
        repo.finish_page(session, running_job, 1, {"confidence": 90.0})
    response = api_only_stack.client.get(f"/v1/jobs/{running_job}/text")
    assert response.text == "ERROR result_not_available: the job's stored text is gone\n"
