"""Cancel and delete stop a job's pages for real: the page being recognized is killed mid-Tesseract, the worker
is free at once for the next job, and nothing the job's tasks do afterwards writes anything."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import Stack, alive, base_env, corpus_file, descendants, stored_files, wait_for
from tests.support_inputs import slow_page


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One pool process: while a page runs, nothing else can."""
    data_dir = tmp_path_factory.mktemp("cancel-stack")
    stack = Stack("cancel", base_env(data_dir), data_dir).start(workers=1)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return slow_page(tmp_path_factory.mktemp("inputs") / "slow.png")


def pool_processes(stack: Stack) -> set[int]:
    return descendants(stack.procs[0].pid)


def start_slow_job(stack: Stack, slow: Path) -> tuple[str, set[int]]:
    """A job whose one page is being recognized now; the pool process doing it."""
    job_id = stack.submit_ok(slow)["id"]
    wait_for(lambda: stack.client.get(f"/v1/jobs/{job_id}").json()["status"] == "running", 60, "the slow job to run")
    time.sleep(1.5)  # well inside Tesseract by now
    busy = pool_processes(stack)
    assert busy, "the worker has a pool process"
    return job_id, busy


def job_files(stack: Stack, job_id: str) -> list[str]:
    return [p.name for p in stored_files(stack.data_dir) if job_id in p.parts]


def test_cancel_kills_the_page_being_recognized_and_frees_the_worker(one_worker: Stack, slow: Path) -> None:
    stack = one_worker
    job_id, busy = start_slow_job(stack, slow)
    started = time.monotonic()
    response = stack.client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    wait_for(lambda: not alive(busy), 15, "the pool process recognizing the page to be killed")
    # The one pool process is replaced and free: a normal page is done long before the slow one could be.
    done = stack.run(corpus_file("tess_HelloGoogle.tif"))
    assert done["status"] == "succeeded", done
    assert time.monotonic() - started < 60
    body = stack.client.get(f"/v1/jobs/{job_id}").json()
    assert body["status"] == "cancelled" and body["pages_done"] == 0 and body["error"] is None
    assert job_files(stack, job_id) == ["input"], "a cancelled job keeps its input and nothing else"
    again = stack.client.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "job_finished"
    assert stack.client.get(f"/v1/jobs/{job_id}/result.txt").status_code == 409
    assert stack.client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert job_files(stack, job_id) == []


def test_deleting_a_running_job_stops_it_and_removes_its_files(one_worker: Stack, slow: Path) -> None:
    stack = one_worker
    job_id, busy = start_slow_job(stack, slow)
    assert stack.client.delete(f"/v1/jobs/{job_id}").status_code == 204
    wait_for(lambda: not alive(busy), 15, "the pool process recognizing the page to be killed")
    assert stack.client.get(f"/v1/jobs/{job_id}").status_code == 404
    assert stack.run(corpus_file("tess_HelloGoogle.tif"))["status"] == "succeeded"
    assert job_files(stack, job_id) == []


def test_cancel_of_a_finished_or_unknown_job(one_worker: Stack) -> None:
    stack = one_worker
    done = stack.run(corpus_file("tess_HelloGoogle.tif"))
    response = stack.client.post(f"/v1/jobs/{done['id']}/cancel")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "job_finished" and "succeeded" in error["message"]
    assert error["details"] == {"status": "succeeded"}
    assert stack.client.get(f"/v1/jobs/{done['id']}/result.txt").status_code == 200, "results untouched"
    assert stack.client.post(f"/v1/jobs/{uuid.uuid4()}/cancel").status_code == 404


def test_cancel_of_a_queued_job(api_only_stack: Stack) -> None:
    job_id = api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))["id"]
    response = api_only_stack.client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    events = api_only_stack.client.get(f"/v1/jobs/{job_id}/events", headers={"accept": "text/event-stream"})
    assert '"cancelled"' in events.text


def test_a_text_stream_ends_when_its_job_is_cancelled(api_only_stack: Stack) -> None:
    import httpx

    job_id = api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))["id"]
    with (
        httpx.Client(base_url=api_only_stack.base_url, timeout=30) as reader,
        reader.stream("GET", f"/v1/jobs/{job_id}/text") as response,
    ):
        assert response.status_code == 200
        assert api_only_stack.client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
        body = response.read().decode()
    assert body == "ERROR cancelled: the job was cancelled\n"
    again = api_only_stack.client.get(f"/v1/jobs/{job_id}/text")
    assert again.status_code == 409 and again.json()["error"]["details"] == {"status": "cancelled"}
