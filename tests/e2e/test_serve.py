"""`ocr-service serve`: the all-in-one mode, end to end as a subprocess, with its private broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support import REPO, corpus_file, free_port, wait_for


def test_serve_runs_everything_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env["PYTHONUNBUFFERED"] = "1"
    log = (tmp_path / "serve.log").open("wb")
    cmd = [sys.executable, "-m", "ocr_api.cli", "serve", "--data-dir", str(data_dir), "--port", str(port),
           "--concurrency", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for(lambda: client.get("/readyz").status_code == 200, 60, "serve to be ready")
            assert (data_dir / "run" / "redis.sock").exists(), "private broker on a unix socket in the data dir"
            with corpus_file("tess_phototest.tif").open("rb") as fh:
                job = client.post("/v1/jobs", files={"file": ("page.tif", fh)}).json()

            def finished() -> dict | None:  # type: ignore[type-arg]
                body = client.get(f"/v1/jobs/{job['id']}").json()
                return body if body["status"] in ("succeeded", "failed") else None

            done = wait_for(finished, 90, "the job")
            assert done["status"] == "succeeded", done
            assert "quick brown dog" in client.get(f"/v1/jobs/{job['id']}/result.txt").text
        assert (data_dir / "jobs.sqlite3").exists(), "job records in SQLite under the data dir"
        assert (data_dir / "files" / "jobs" / job["id"] / "input").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        log.close()
    output = (tmp_path / "serve.log").read_text(errors="replace")
    assert code == 0, output[-3000:]
    time.sleep(0.5)
    leftovers = subprocess.run(["pgrep", "-f", str(data_dir)], capture_output=True, text=True).stdout.split()
    assert not leftovers, f"processes left running: {leftovers}"


def test_serve_help_and_bad_storage_refuse_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    out = subprocess.run([sys.executable, "-m", "ocr_api.cli", "--help"], capture_output=True, text=True, env=env)
    assert out.returncode == 0
    for word in ("serve", "api", "worker", "OCR_BROKER_URL"):
        assert word in out.stdout
    env.update({"OCR_STORAGE": "s3", "OCR_S3_BUCKET": "no-such-bucket", "OCR_S3_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1",
                "OCR_S3_CONNECT_TIMEOUT_S": "1", "OCR_S3_MAX_ATTEMPTS": "1"})  # fmt: skip
    cmd = [
        sys.executable,
        "-m",
        "ocr_api.cli",
        "serve",
        "--data-dir",
        str(tmp_path),
        "--port",
        str(free_port()),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "S3" in lines[0], out.stderr
