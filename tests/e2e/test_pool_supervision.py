"""`serve` supervises its worker pool: a pool that dies (SIGKILL included) is started again, with a back-off;
one that keeps dying makes `serve` give up and exit non-zero, for its own supervisor to start everything again."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ocr_api.cli.serve import PoolSupervisor
from tests.e2e.test_serve import running_serve
from tests.support import alive, corpus_file, wait_for


def test_a_sigkilled_pool_is_restarted_and_uploads_go_on(tmp_path: Path) -> None:
    with running_serve(tmp_path) as serve:
        client = serve.client
        first = serve.pool_main()
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: not alive({first}), 10, "the killed pool to be gone")
        killed_at = time.monotonic()
        with corpus_file("tess_HelloGoogle.tif").open("rb") as fh:
            job = client.post("/v1/jobs", files={"file": ("after.tif", fh)}).json()

        def finished() -> dict | None:  # type: ignore[type-arg]
            body = client.get(f"/v1/jobs/{job['id']}").json()
            return body if body["status"] in ("succeeded", "failed") else None

        done = wait_for(finished, 90, "the job uploaded after the pool was killed")
        assert done["status"] == "succeeded", done
        assert time.monotonic() - killed_at < 90
        second = serve.pool_main()
        assert second != first
        output = serve.output()
        assert f"the worker pool (pid {first}) exited with -9; restarting it" in output, output
        assert f"the worker pool restarted (pid {second}" in output, output
        wait_for(lambda: client.get("/readyz").status_code == 200, 30, "serve to be ready again")

        # Stopping serve stops the new pool too, and nothing is restarted on the way out.
        children = serve.children()
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(60) == 0, serve.output()
        wait_for(lambda: not alive(children), 10, "serve's children to exit")


def test_a_pool_that_keeps_dying_is_restarted_with_back_off_then_given_up(caplog: pytest.LogCaptureFixture) -> None:
    gave_up = threading.Event()
    dies = [sys.executable, "-c", "raise SystemExit(3)"]
    supervisor = PoolSupervisor(dies, gave_up.set, max_restarts_per_minute=3, first_backoff_s=0.05)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="ocr_api.cli.serve"):
        supervisor.start()
        assert gave_up.wait(30)
    supervisor.stop(grace=1)
    assert supervisor.gave_up and len(supervisor.restarts) == 3
    gaps = [b - a for a, b in zip(supervisor.restarts, supervisor.restarts[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps), gaps  # 0.05 s, then 0.1 s, then 0.2 s: doubling
    assert time.monotonic() - started < 30
    messages = [record.getMessage() for record in caplog.records]
    assert sum("exited with 3; restarting it" in m for m in messages) == 3, messages
    assert any("giving up" in m for m in messages), messages


def test_a_stopped_supervisor_stops_its_pool_and_starts_no_other() -> None:
    sleeps = [sys.executable, "-c", "import time; time.sleep(60)"]
    supervisor = PoolSupervisor(sleeps, lambda: None, first_backoff_s=0.01)
    supervisor.start()
    proc = supervisor.proc
    assert proc is not None and proc.poll() is None
    supervisor.stop(grace=5)
    assert proc.poll() is not None and supervisor.proc is proc and supervisor.restarts == []
    assert not supervisor.gave_up


def test_serve_exits_non_zero_when_its_pool_keeps_dying(tmp_path: Path) -> None:
    """The whole path: serve's supervisor gives up, uvicorn stops gracefully, serve exits 1 saying why."""
    script = (
        "import sys\n"
        "from ocr_api.cli import serve\n"
        "serve.worker_command = lambda *_: [sys.executable, '-c', 'raise SystemExit(3)']\n"
        "original = serve.PoolSupervisor.__init__\n"
        "def fast(self, command, on_give_up, **kw):\n"
        "    original(self, command, on_give_up, max_restarts_per_minute=2, first_backoff_s=0.05)\n"
        "serve.PoolSupervisor.__init__ = fast\n"
        "from ocr_api.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    from tests.e2e.test_serve import serve_env
    from tests.support import REPO, free_port

    cmd = [sys.executable, "-c", script, "serve", "--data-dir", str(tmp_path / "data"), "--port", str(free_port())]
    out = subprocess.run(cmd, env=serve_env(), cwd=REPO, capture_output=True, text=True, timeout=90)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "giving up" in out.stderr and "the worker pool kept exiting" in out.stderr, out.stderr[-3000:]
