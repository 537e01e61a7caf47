"""A broker restarted empty loses nothing: the recovery sweep sends the jobs it lost again and they complete."""

from __future__ import annotations

from pathlib import Path

from tests.support import RedisServer, Stack, base_env, corpus_file, ground_truth


def test_jobs_survive_a_broker_restarted_empty(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    env = base_env(tmp_path / "data", OCR_BROKER_URL=redis.url, OCR_RECOVERY_INTERVAL_S="1", OCR_RECOVERY_AFTER_S="3")
    stack = Stack("recovery", env, tmp_path / "data").start(workers=0)  # no worker yet: the jobs wait in Redis
    try:
        inputs = ["tess_HelloGoogle.tif", "paperless_multi-page-images.tiff", "tess_phototest.tif"]
        jobs = {stack.submit_ok(corpus_file(name))["id"]: name for name in inputs}
        redis.restart_empty()  # every message gone; the job records say queued
        stack.start_worker(2)
        for job_id, name in jobs.items():
            done = stack.wait(job_id, timeout=120)
            assert done["status"] == "succeeded", done
            if name == "tess_HelloGoogle.tif":
                assert stack.text(job_id).strip() == ground_truth(name).strip()
        assert "recovery sweep: sent" in stack.log("api.log")
    finally:
        stack.stop()
        redis.stop()
