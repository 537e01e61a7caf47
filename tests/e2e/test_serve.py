"""`ocr-service serve`: the all-in-one mode, end to end as a subprocess, with its private broker.

Whatever stops `serve` (Ctrl-C, SIGTERM, SIGHUP, even SIGKILL) stops everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import REPO, alive, corpus_file, descendants, free_port, wait_for


@dataclass
class Serve:
    proc: subprocess.Popen[bytes]
    client: httpx.Client
    data_dir: Path
    log_path: Path

    def children(self) -> set[int]:
        """redis-server, the Celery worker and its pool: everything serve started, once all of it is up."""
        return set(wait_for(lambda: len(found := descendants(self.proc.pid)) >= 3 and found, 30, "serve's children"))

    def pool_main(self) -> int:
        """The Celery worker's main process: serve's child running celery (its pool processes are its children)."""
        found = [pid for pid in descendants(self.proc.pid) if _is_celery_child_of(pid, self.proc.pid)]
        assert len(found) == 1, found
        return found[0]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def _is_celery_child_of(pid: int, parent: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    return b"celery" in cmdline and ppid == parent


def serve_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def serve_command(data_dir: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "ocr_api.cli", "serve", "--data-dir", str(data_dir), "--port", str(port),
            "--concurrency", "1"]  # fmt: skip


@contextlib.contextmanager
def running_serve(tmp_path: Path) -> Iterator[Serve]:
    data_dir = tmp_path / "data"
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(serve_command(data_dir, port), env=serve_env(), cwd=REPO, stdout=log, stderr=log)
    started: set[int] = set()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for(lambda: client.get("/readyz").status_code == 200, 60, "serve to be ready")
            serve = Serve(proc, client, data_dir, log_path)
            started = serve.children()
            yield serve
    finally:
        for pid in alive(started | {proc.pid}):  # only after a failed test: leave nothing behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)


def test_serve_runs_everything_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    with running_serve(tmp_path) as serve:
        client, data_dir = serve.client, serve.data_dir
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

        # A second serve on the same data dir refuses at once, naming the first, and disturbs nothing.
        second = subprocess.run(
            serve_command(data_dir, free_port()), env=serve_env(), cwd=REPO, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1
        assert f"pid {serve.proc.pid}" in second.stderr, second.stderr
        assert "is running on the data dir" in second.stderr
        assert client.get("/readyz").status_code == 200

        children = serve.children()
        serve.proc.send_signal(signal.SIGINT)
        assert serve.proc.wait(60) == 0, serve.output()
        wait_for(lambda: not alive(children), 10, "serve's children to exit")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_serve_stops_everything_it_started_on_sigterm_and_sighup(tmp_path: Path, signum: int) -> None:
    with running_serve(tmp_path) as serve:
        children = serve.children()
        serve.proc.send_signal(signum)
        assert serve.proc.wait(60) == 0, serve.output()
        wait_for(lambda: not alive(children), 10, "serve's children to exit")


def test_a_sigkilled_serve_takes_its_children_with_it(tmp_path: Path) -> None:
    with running_serve(tmp_path) as serve:
        children = serve.children()
        serve.proc.kill()
        serve.proc.wait(10)
        wait_for(lambda: not alive(children), 45, "serve's orphaned children to exit")
        # The lock went with the process: serve starts again on the same data dir.
    with running_serve(tmp_path) as again:
        assert again.client.get("/readyz").status_code == 200
        again.proc.send_signal(signal.SIGTERM)
        assert again.proc.wait(60) == 0


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


def test_readyz_says_workers_while_serves_pool_is_stopped(tmp_path: Path) -> None:
    with running_serve(tmp_path) as serve:
        assert serve.client.get("/readyz").json()["checks"]["workers"] == "ok"
        pool = serve.pool_main()
        os.kill(pool, signal.SIGSTOP)  # alive, so not restarted, but consuming nothing: its heartbeat goes stale
        try:
            gone = wait_for(lambda: (r := serve.client.get("/readyz")).status_code == 503 and r, 20, "not ready")
            assert "no worker" in gone.json()["checks"]["workers"]
        finally:
            os.kill(pool, signal.SIGCONT)
        wait_for(lambda: serve.client.get("/readyz").status_code == 200, 20, "ready again")
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(60) == 0, serve.output()


def test_the_data_dir_is_private_to_the_services_user(tmp_path: Path) -> None:
    """The SQLite file holds webhook secrets, the files are people's documents: nothing under the data dir is
    readable by anyone but serve's user (files 0600, directories 0700), whatever the caller's umask."""
    old_umask = os.umask(0o002)  # a lenient umask, inherited by serve
    try:
        (tmp_path / "data").mkdir(mode=0o775)
        with running_serve(tmp_path) as serve:
            with corpus_file("tess_HelloGoogle.tif").open("rb") as fh:
                job = serve.client.post("/v1/jobs", files={"file": ("page.tif", fh)}).json()
            wait_for(lambda: serve.client.get(f"/v1/jobs/{job['id']}").json()["status"] == "succeeded", 90, "job")
            data_dir = serve.data_dir
            paths = [data_dir, *data_dir.rglob("*")]
            names = {path.name for path in paths}
            assert {"jobs.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm", "input", "result.txt"} <= names, names
            opened = {path: oct(path.stat().st_mode & 0o777) for path in paths if path.stat().st_mode & 0o077}
            assert opened == {}
            serve.proc.send_signal(signal.SIGTERM)
            assert serve.proc.wait(60) == 0
    finally:
        os.umask(old_umask)


def test_the_records_and_the_store_close_up_what_an_older_version_left_open(tmp_path: Path) -> None:
    from sqlalchemy import text

    from storage.objects.local import LocalStorage
    from storage.records.db import make_engine

    database, root = tmp_path / "data" / "jobs.sqlite3", tmp_path / "files"
    database.parent.mkdir()
    database.touch(mode=0o644)
    database.chmod(0o644)
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in database.parent.iterdir()}
    engine.dispose()
    assert modes == {"jobs.sqlite3": "0o600", "jobs.sqlite3-wal": "0o600", "jobs.sqlite3-shm": "0o600"}
    LocalStorage(root).put_bytes("jobs/x/input", b"a document")
    assert oct(root.stat().st_mode & 0o777) == "0o700"
    assert oct((root / "jobs" / "x" / "input").stat().st_mode & 0o777) == "0o600"

    fresh = tmp_path / "new" / "deeper" / "jobs.sqlite3"
    make_engine(f"sqlite:///{fresh}").dispose()
    assert oct(fresh.stat().st_mode & 0o777) == "0o600" and oct(fresh.parent.stat().st_mode & 0o777) == "0o700"
