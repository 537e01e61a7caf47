"""Stopping a worker with SIGTERM (a deploy, `docker stop`) finishes the page it is working on: Celery's warm
shutdown, and late acknowledgement so that a page cut short by a harder stop is delivered again."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from tests.support import Stack, base_env, corpus_file, ground_truth, wait_for


def test_sigterm_lets_the_running_page_finish(tmp_path: Path) -> None:
    env = base_env(tmp_path / "data", OCR_TEST_FAULTS="1", OCR_TEST_SLOW_S="4", OCR_RESULT_CACHE="false")
    stack = Stack("warm-stop", env, tmp_path / "data").start(workers=0)
    try:
        worker = stack.start_worker(1)
        slow = tmp_path / "hello__slow__.tif"
        shutil.copy(corpus_file("tess_HelloGoogle.tif"), slow)
        job_id = stack.submit_ok(slow)["id"]
        wait_for(lambda: stack.client.get(f"/v1/jobs/{job_id}").json()["status"] == "running", 60, "the page to start")
        time.sleep(1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0, stack.log("worker.log")[-3000:]
        body = stack.client.get(f"/v1/jobs/{job_id}").json()
        assert body["status"] == "succeeded", body
        assert stack.text(job_id).strip() == ground_truth("tess_HelloGoogle.tif").strip()
        assert "warm shutdown" in stack.log("worker.log").lower()
    finally:
        stack.stop()
