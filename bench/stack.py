"""A service under test: the API process and a Celery worker pool as subprocesses, as in production.

Configured only through OCR_ environment variables (like tests/support.py): a temporary data directory
(SQLite job records, local storage) and a queue of its own on the given Redis, so it shares nothing with
other stacks on the same broker.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
FINISHED = ("succeeded", "failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as a dict; empty when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def rss_mib(pid: int) -> float:
    value = proc_status(pid).get("VmRSS", "0 kB").split()[0]
    return int(value) / 1024


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and of the children it has reaped (utime+stime+cutime+cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / _TICK


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process tree: every live descendant and everything reaped along the way."""
    total, queue = 0.0, [pid]
    while queue:
        current = queue.pop()
        total += cpu_seconds(current)
        queue += children(current)
    return total


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


@dataclass
class Stack:
    data_dir: Path
    redis_url: str
    workers: int  # worker processes; 0 runs the API alone (jobs stay queued)
    engine: str = "tesserocr"
    extra_env: dict[str, str] = field(default_factory=dict)
    base_url: str = ""
    api: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    hostname: str = ""
    queue: str = field(default_factory=lambda: f"ocr-bench-{uuid.uuid4().hex[:10]}")

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
        env.update(
            OCR_DATA_DIR=str(self.data_dir),
            OCR_BROKER_URL=self.redis_url,
            OCR_QUEUE_NAME=self.queue,
            OCR_ENGINE=self.engine,
            OCR_RESULT_CACHE="false",  # the benchmarks send the same pages again and again
            PYTHONUNBUFFERED="1",
        )
        if not self.workers:  # the API alone is ready without a worker on its queue
            env["OCR_READY_REQUIRES_WORKERS"] = "false"
        env.update(self.extra_env)
        return env

    def start(self) -> Stack:
        logs = self.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = self.env
        if self.workers:
            # What `ocr-service worker --concurrency N` runs, with a hostname of its own for `inspect`.
            self.hostname = f"bench-{uuid.uuid4().hex[:8]}@%h"
            command = [
                sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--loglevel", "INFO",
                "--concurrency", str(self.workers), "-O", "fair", "-Q", env["OCR_QUEUE_NAME"],
                "--without-gossip", "--without-mingle", "--hostname", self.hostname,
            ]  # fmt: skip
            self.worker = self._spawn(command, logs / "worker.log")
        api = [sys.executable, "-m", "ocr_api.cli", "api", "--host", "127.0.0.1", "--port", str(port)]
        self.api = self._spawn(api, logs / "api.log")
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get("/readyz").status_code == 200:
                        break
                if time.monotonic() > deadline or self.api.poll() is not None:
                    raise RuntimeError(f"the API did not start; see {logs / 'api.log'}")
                time.sleep(0.2)
        return self

    def _spawn(self, command: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)

    def stop(self) -> None:
        for proc in (self.api, self.worker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (self.api, self.worker):
            if proc is not None:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._delete_queue()

    def _delete_queue(self) -> None:
        """Messages nobody will consume (the API-only stack's uploads) must not stay in a shared Redis."""
        from kombu import Connection, Exchange, Queue

        with contextlib.suppress(Exception), Connection(self.redis_url) as conn:
            channel = conn.default_channel
            channel.queue_purge(self.queue)
            # Declared here so that this channel knows the binding and removes it with the queue.
            queue = Queue(self.queue, Exchange(self.queue, "direct"), routing_key=self.queue)(channel)
            queue.declare()
            queue.delete()
            queue.exchange.delete()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def control(self, command: str) -> None:
        """`celery control add_consumer|cancel_consumer` for this stack's queue on its worker, waiting for the reply."""
        out = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "control", command, self.queue,
             "-d", self.hostname.replace("%h", socket.gethostname()), "--timeout", "5"],
            env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if out.returncode or "ok" not in out.stdout.lower():
            raise RuntimeError(f"celery control {command} failed: {out.stdout} {out.stderr}")

    def step_timings(self) -> dict[str, tuple[int, float]]:
        """The workers' per-step timings so far (ocr_page_step_seconds in the stack's metrics directory):
        step -> (count, seconds)."""
        from prometheus_client import CollectorRegistry
        from prometheus_client.multiprocess import MultiProcessCollector

        metrics = self.data_dir / "metrics"
        if not metrics.is_dir():
            return {}
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(metrics))
        found: dict[str, list[float]] = {}
        for family in registry.collect():
            if family.name != "ocr_page_step_seconds":
                continue
            for sample in family.samples:
                step = sample.labels.get("step", "?")
                if sample.name.endswith("_count"):
                    found.setdefault(step, [0, 0.0])[0] = sample.value
                elif sample.name.endswith("_sum"):
                    found.setdefault(step, [0, 0.0])[1] = sample.value
        return {step: (int(c), float(s)) for step, (c, s) in found.items()}

    def cpu_seconds(self) -> float:
        """CPU time used so far by the API and the worker pool (Redis, shared with others, is not counted)."""
        return sum(tree_cpu_seconds(p.pid) for p in (self.api, self.worker) if p is not None)

    def inspect(self) -> dict[str, Any]:
        """The running worker's own account of its pool and settings (`celery inspect stats/conf`)."""
        result: dict[str, Any] = {}
        for what in ("stats", "conf"):
            out = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "workers.celery_app", "inspect", what, "--json",
                 "-d", self.hostname.replace("%h", socket.gethostname()), "--timeout", "5"],
                env=self.env, cwd=REPO, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            with contextlib.suppress(ValueError, IndexError):
                result[what] = next(iter(json.loads(out.stdout.strip().splitlines()[-1]).values()))
        return result


class ServiceClient:
    """Upload -> wait -> download, the way a client of the service does it."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=120)

    def close(self) -> None:
        self.http.close()

    def upload(self, path: Path, **fields: str) -> str:
        with path.open("rb") as fh:
            response = self.http.post("/v1/jobs", files={"file": (path.name, fh)}, data=fields)
        response.raise_for_status()
        return str(response.json()["id"])

    def status(self, job_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/jobs/{job_id}")
        response.raise_for_status()
        return dict(response.json())

    def text(self, job_id: str) -> str:
        response = self.http.get(f"/v1/jobs/{job_id}/result.txt")
        response.raise_for_status()
        return response.text

    def finish_all(self, job_ids: list[str], poll_s: float = 0.2) -> list[dict[str, Any]]:
        """Wait for every job and download its text. Jobs finish roughly in order, so only the oldest
        unfinished one is polled, every `poll_s`: a few requests per second, not one per job per tick
        (each status read costs the API 1-2 ms of CPU, taken from the workers on a small machine)."""
        pending, done = deque(job_ids), []
        while pending:
            job = self.status(pending[0])
            if job["status"] not in FINISHED:
                time.sleep(poll_s)
                continue
            if job["status"] != "succeeded":
                raise RuntimeError(f"job {job['id']} failed: {job['error']}")
            job["text"] = self.text(job["id"])
            done.append(job)
            pending.popleft()
        return done


class Sampler:
    """Samples processes in the background: the peak RSS of `pid`, and the most threads seen in any
    descendant of `tree_pid` together with its OMP_THREAD_LIMIT (to show how the engines really run)."""

    def __init__(self, pid: int | None = None, tree_pid: int | None = None, interval_s: float = 0.05) -> None:
        self.pid, self.tree_pid, self.interval_s = pid, tree_pid, interval_s
        self.rss_start = rss_mib(pid) if pid else 0.0
        self.rss_peak = self.rss_start
        self.max_threads: dict[str, int] = {}
        self.omp_limits: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _descendants(self, pid: int) -> list[int]:
        found, queue = [], [pid]
        while queue:
            kids = children(queue.pop())
            found += kids
            queue += kids
        return found

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.pid:
                self.rss_peak = max(self.rss_peak, rss_mib(self.pid))
            if self.tree_pid:
                for pid in self._descendants(self.tree_pid):
                    status = proc_status(pid)
                    if not status:
                        continue
                    name = status.get("Name", "?")
                    self.max_threads[name] = max(self.max_threads.get(name, 0), int(status.get("Threads", 0)))
                    if name == "tesseract":
                        with contextlib.suppress(OSError):
                            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                            limit = [e for e in env if e.startswith(b"OMP_THREAD_LIMIT=")]
                            self.omp_limits.add(limit[0].decode() if limit else "OMP_THREAD_LIMIT unset")
            self._stop.wait(self.interval_s)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def scratch_dir(parent: Path | None, prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory for a benchmark's data dir, made the temporary directory of every process the
    benchmark starts too, so the service and every baseline write their files on the same file system.

    The default parent is `.bench/` in the repository, not /tmp: on the development machine a file created
    under /tmp cost 0.56 ms against 0.02 ms elsewhere on the same disk (docs/performance.md), which no
    deployment's data dir would see."""
    parent = parent or REPO / ".bench"
    parent.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.TemporaryDirectory(prefix=prefix, dir=parent)
    os.environ["TMPDIR"] = scratch.name
    tempfile.tempdir = scratch.name
    return scratch
