"""One `ocr-service serve` for every client test (the form in Chromium, ocr-client, the README's curl
recipes): started once as a subprocess exactly as a user starts it, with its private broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import REPO, free_port, wait_for

TEST_OUTPUT = REPO / "test-output"


@dataclass(frozen=True)
class Served:
    url: str
    data_dir: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def job_count(self) -> int:
        """Jobs the service holds (the tests' way to see that nothing was uploaded twice)."""
        count, cursor = 0, None
        with self.client() as client:
            while True:
                page = client.get("/v1/jobs", params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
                count += len(page["jobs"])
                if not (cursor := page["next_cursor"]):
                    return count


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env["PYTHONUNBUFFERED"] = "1"
    log_path = root / "serve.log"
    cmd = [sys.executable, "-m", "ocr_api.cli", "serve", "--data-dir", str(root / "data"), "--port", str(port),
           "--concurrency", "2", "--log-level", "WARNING"]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").status_code == 200, 60, "serve to be ready")
        yield Served(url, root / "data")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def test_output() -> Path:
    """test-output/ in the repo (gitignored): what a person may want to look at after a run."""
    TEST_OUTPUT.mkdir(exist_ok=True)
    return TEST_OUTPUT
