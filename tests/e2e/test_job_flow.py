"""Upload -> queue -> real Celery worker -> real tesseract -> result download, on both broker pairs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.support import Stack, api_process, corpus_file, wait_for


def test_upload_ocr_and_download_text(any_stack: Stack) -> None:
    response = any_stack.submit(corpus_file("tess_phototest.tif"))
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"].endswith(f"/v1/jobs/{job['id']}")
    assert job["status"] in ("queued", "running")
    assert job["filename"] == "tess_phototest.tif"
    assert job["media_type"] == "image/tiff"

    done = any_stack.wait(job["id"])
    assert done["status"] == "succeeded", done
    assert done["pages_total"] == 1 and done["pages_done"] == 1
    assert done["started_at"] and done["finished_at"] and done["error"] is None
    assert done["engine"]["tesseract_version"].startswith("5.")
    assert done["engine"]["models"][0]["name"] == "eng" and len(done["engine"]["models"][0]["sha256"]) == 64

    result = any_stack.client.get(f"/v1/jobs/{job['id']}/result.txt")
    assert result.status_code == 200
    assert result.headers["content-type"] == "text/plain; charset=utf-8"
    assert "The quick brown dog jumped over the" in result.text


def test_several_uploads_at_once_get_their_own_results(stack: Stack) -> None:
    files = {
        "tess_phototest.tif": "quick brown dog",
        "tess_HelloGoogle.tif": "Hello",
        "paperless_simple.png": "This is a test document.",
        "pyt_test_la.png": "This is test message",
    }

    def run(name: str) -> tuple[str, str]:
        job = stack.run(corpus_file(name))
        assert job["status"] == "succeeded", job
        return name, stack.text(job["id"])

    with ThreadPoolExecutor(len(files) * 2) as pool:
        results = list(pool.map(run, list(files) * 2))
    for name, text in results:
        assert files[name] in text, (name, text)
        for other, phrase in files.items():
            if other != name:
                assert phrase not in text, f"{name} got text of {other}"


def test_status_is_the_same_from_another_api_process(any_stack: Stack) -> None:
    """State lives in the database: a second API process on the same settings answers identically."""

    job = any_stack.run(corpus_file("tess_HelloGoogle.tif"))
    with api_process(any_stack.env) as other:
        assert other.get(f"/v1/jobs/{job['id']}").json()["status"] == "succeeded"
        assert other.get(f"/v1/jobs/{job['id']}/result.txt").text == any_stack.text(job["id"])


def test_tasks_delivered_twice_do_no_harm(stack: Stack) -> None:
    from celery import Celery

    job = stack.run(corpus_file("tess_HelloGoogle.tif"))
    before = stack.text(job["id"])
    # Send the same tasks again, as a redelivery after a lost acknowledgement would.
    app = Celery(broker=stack.env["OCR_BROKER_URL"])
    sent = [
        app.send_task(name, args=args, queue=stack.env["OCR_QUEUE_NAME"]).id
        for name, args in (
            ("ocr.prepare_job", [job["id"]]),
            ("ocr.ocr_page", [job["id"], 1]),
            ("ocr.finalize_job", [job["id"]]),
        )
    ]
    wait_for(
        lambda: all(f"[{task_id}] succeeded" in stack.log("worker.log") for task_id in sent),
        30,
        "the repeated tasks to run",
    )
    after = stack.client.get(f"/v1/jobs/{job['id']}").json()
    assert after["status"] == "succeeded"
    assert after["pages_done"] == 1 and after["pages_total"] == 1
    assert after["finished_at"] == job["finished_at"]
    assert stack.text(job["id"]) == before
