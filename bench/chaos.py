"""Chaos run: jobs complete, once, with the right text, while their workers and broker are killed under them.

While the jobs run, this repeatedly SIGKILLs the worker's pool processes (the pages they hold are delivered
again), SIGKILLs the whole worker (its pool dies with it; a new worker is started), and restarts the broker
empty (every queued message is lost). The recovery sweep resends what was lost. At the end every job must have
succeeded with the same text as an undisturbed run of the same file, and no job may have finished (or counted
a page) twice. Runs on a redis-server of its own on a free loopback port, never the shared one.

    .venv/bin/python -m bench.chaos --jobs 60 --rounds 40     # the long run in docs/reliability.md
tests/e2e/test_chaos.py runs a short one in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support import RedisServer, Stack, alive, base_env, corpus_file, descendants

INPUTS = ["tess_HelloGoogle.tif", "paperless_multi-page-images.tiff", "tess_phototest.tif"]
ACTIONS = ["kill_pool", "kill_pool", "kill_worker", "restart_broker"]


class Chaos:
    def __init__(self, work_dir: Path, workers: int = 2) -> None:
        self.redis = RedisServer(work_dir / "redis")
        self.data_dir = work_dir / "data"
        self.workers = workers
        self.stack: Stack | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.done: Counter[str] = Counter()

    def start(self) -> Stack:
        self.redis.start()
        env = base_env(
            self.data_dir,
            OCR_BROKER_URL=self.redis.url,
            OCR_RECOVERY_INTERVAL_S="1",
            OCR_RECOVERY_AFTER_S="8",
            OCR_PAGE_MAX_ATTEMPTS="50",  # every kill costs a page an attempt; here they are not the page's fault
            OCR_RESULT_CACHE="false",  # every job recognized for real
        )
        self.stack = Stack("chaos", env, self.data_dir).start(workers=0)
        self.worker = self.stack.start_worker(self.workers)
        return self.stack

    def stop(self) -> None:
        if self.stack is not None:
            pool = descendants(self.worker.pid) if self.worker else set()
            self.stack.stop()
            for pid in alive(pool):
                os.kill(pid, signal.SIGKILL)
        self.redis.stop()

    # -- the disturbances ----------------------------------------------------------------------------
    def kill_pool(self) -> None:
        assert self.worker is not None
        for pid in alive(descendants(self.worker.pid)):
            os.kill(pid, signal.SIGKILL)
        self.done["kill_pool"] += 1

    def kill_worker(self) -> None:
        assert self.worker is not None and self.stack is not None
        pool = descendants(self.worker.pid)
        self.worker.kill()
        self.worker.wait(10)
        deadline = time.monotonic() + 15
        while alive(pool) and time.monotonic() < deadline:  # they follow their parent (parent-death signal)
            time.sleep(0.1)
        assert not alive(pool), f"pool processes outlived their worker: {alive(pool)}"
        self.worker = self.stack.start_worker(self.workers)
        self.done["kill_worker"] += 1

    def restart_broker(self) -> None:
        self.redis.restart_empty()
        self.done["restart_broker"] += 1

    # -- the run -------------------------------------------------------------------------------------
    def run(self, jobs: int, rounds: int, pause_s: float = 2.5, timeout_s: float = 600) -> dict[str, Any]:
        stack = self.start() if self.stack is None else self.stack
        expected = {}
        for name in INPUTS:  # the undisturbed run
            job = stack.run(corpus_file(name))
            assert job["status"] == "succeeded", job
            expected[name] = stack.text(job["id"])
        started = time.monotonic()
        submitted = {
            stack.submit_ok(corpus_file(INPUTS[i % len(INPUTS)]))["id"]: INPUTS[i % len(INPUTS)] for i in range(jobs)
        }
        for i in range(rounds):
            if self.unfinished(submitted) == 0:
                break
            time.sleep(pause_s)
            getattr(self, ACTIONS[i % len(ACTIONS)])()
        statuses = {job_id: stack.wait(job_id, timeout_s)["status"] for job_id in submitted}
        elapsed = time.monotonic() - started
        wrong = [j for j, name in submitted.items() if statuses[j] == "succeeded" and stack.text(j) != expected[name]]
        return {
            "jobs": jobs,
            "pages": sum(3 if "multi" in name else 1 for name in submitted.values()),
            "disturbances": dict(self.done),
            "succeeded": sum(s == "succeeded" for s in statuses.values()),
            "not_succeeded": {j: s for j, s in statuses.items() if s != "succeeded"},
            "wrong_text": wrong,
            "finished_twice": self.finished_twice(),
            "seconds": round(elapsed, 1),
        }

    def unfinished(self, job_ids: dict[str, str]) -> int:
        assert self.stack is not None
        return sum(self.stack.client.get(f"/v1/jobs/{j}").json()["status"] in ("queued", "running") for j in job_ids)

    def finished_twice(self) -> list[str]:
        """Jobs with more than one terminal status event, or a page counted more than once."""
        with sqlite3.connect(self.data_dir / "jobs.sqlite3") as db:
            rows = db.execute(
                "SELECT job_id, type, data FROM ocr_job_events WHERE type IN ('status', 'page')"
            ).fetchall()
        seen: Counter[tuple[str, str]] = Counter()
        for job_id, type_, data in rows:
            body = json.loads(data)
            if type_ == "page":
                seen[(job_id, f"page {body['page']}")] += 1
            elif body.get("status") in ("succeeded", "failed", "cancelled"):
                seen[(job_id, "finished")] += 1
        return sorted(f"{job_id}: {what}" for (job_id, what), n in seen.items() if n > 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(
        prefix="chaos-", dir=Path(".bench").resolve() if Path(".bench").is_dir() else None
    ) as tmp:
        chaos = Chaos(Path(tmp), args.workers)
        try:
            result = chaos.run(args.jobs, args.rounds)
        finally:
            chaos.stop()
    print(json.dumps(result, indent=2))
    ok = result["succeeded"] == args.jobs and not result["wrong_text"] and not result["finished_twice"]
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
