"""An upload that got its 202 is durable at that moment, group commit or not: the API process SIGKILLed the
instant the first answers arrive leaves every answered job's file stored, its row committed and its message
in the queue."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, text

from tests.support import REDIS_URL, base_env, corpus_file, start_api, wait_for

UPLOADERS = 12


def test_a_202_survives_kill_9_right_after_it(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    proc, port = start_api(env)
    data = corpus_file("tess_HelloGoogle.tif").read_bytes()
    accepted: list[str] = []
    lock = threading.Lock()
    go = threading.Event()

    def upload(n: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            go.wait(10)
            try:
                response = client.post("/v1/jobs", files={"file": (f"line-{n}.tif", data)})
            except httpx.HTTPError:
                return  # cut off by the kill: no promise was made
            if response.status_code == 202:
                with lock:
                    accepted.append(response.json()["id"])
                    if proc.poll() is None:
                        proc.kill()  # at once, from the thread that read the answer

    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            wait_for(lambda: client.get("/healthz").status_code == 200, 30, "the API process")
        threads = [threading.Thread(target=upload, args=(n,)) for n in range(UPLOADERS)]
        for thread in threads:
            thread.start()
        go.set()
        for thread in threads:
            thread.join(30)
        assert proc.wait(10) == -9
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert accepted, "no upload was answered before the kill"

    engine = create_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, input_key FROM ocr_jobs")).all())
        queued = [json.loads(raw)["headers"]["argsrepr"] for raw in client.lrange(env["OCR_QUEUE_NAME"], 0, -1)]
    finally:
        engine.dispose()
        client.delete(env["OCR_QUEUE_NAME"])
        client.close()
    for job_id in accepted:
        assert job_id in rows, f"job {job_id} was answered 202 but has no row"
        assert (tmp_path / "files" / rows[job_id]).read_bytes() == data
        assert repr([job_id]) in queued, f"job {job_id} was answered 202 but its message is not queued"
