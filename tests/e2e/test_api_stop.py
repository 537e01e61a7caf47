"""SIGTERM to an API process (a deploy, `docker stop`) lets an upload already in flight finish: the client gets
its 202 and the job is recorded and queued; then the process exits."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support import api_process, base_env, corpus_file, start_api, wait_for

BOUNDARY = "ocr-test-boundary"


def test_sigterm_lets_an_upload_in_flight_finish(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    proc, port = start_api(env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait_for(lambda: client.get("/healthz").status_code == 200, 30, "the API process")
            data = corpus_file("tess_HelloGoogle.tif").read_bytes()
            first_part_sent = threading.Event()

            def body() -> Iterator[bytes]:  # a slow client: the signal comes while the body is on its way
                yield (
                    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="slow.tif"\r\n'
                    "Content-Type: application/octet-stream\r\n\r\n"
                ).encode() + data[:100]
                first_part_sent.set()
                time.sleep(1.5)
                yield data[100:] + f"\r\n--{BOUNDARY}--\r\n".encode()

            answers: list[httpx.Response] = []
            upload = threading.Thread(
                target=lambda: answers.append(
                    client.post(
                        "/v1/jobs",
                        content=body(),
                        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                    )
                )
            )
            upload.start()
            assert first_part_sent.wait(10)
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            upload.join(30)
        assert answers and answers[0].status_code == 202, answers and answers[0].text
        job_id = answers[0].json()["id"]
        # uvicorn exits after the request in flight, then re-raises SIGTERM so a supervisor sees why it stopped
        assert proc.wait(30) in (0, -signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    with api_process(env) as again:  # the accepted job was kept: recorded, its file stored, queued
        assert again.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
