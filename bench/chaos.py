"""Chaos run: jobs complete, once, with the right text, while their workers, broker and API are killed under them.

While the jobs run, this repeatedly SIGKILLs the worker's pool processes (the pages they hold are delivered
again), SIGKILLs the whole worker (its pool dies with it; a new worker is started), restarts the broker empty
(every queued message is lost) or with its data (SHUTDOWN SAVE, then loaded again), and SIGKILLs the API while
uploads are in flight (a new API is started on the same port). The recovery sweep resends what was lost.

The uploads cut by an API kill come from client threads that retry until they get a 202, as a client should;
each logical upload has a file name of its own, so every job recorded in the database is traced to it. At the
end every job that got a 202 must have succeeded with the same text as an undisturbed run of the same file, no
job may have finished (or counted a page) twice, and a job recorded without its client seeing the 202 (the API
died after recording it) must have succeeded too: nothing is left accepted but lost. Such a job and the
client's retry are two jobs for one upload; they are counted as `duplicates`. Runs on a redis-server of its own
on a free loopback port, never the shared one.

    .venv/bin/python -m bench.chaos --jobs 60 --rounds 40     # a fixed cycle of disturbances
    .venv/bin/python -m bench.chaos --pool-kills 100 --worker-kills 5 --broker-restarts 10 --api-kills 5
                                                              # the long run in docs/reliability.md
tests/e2e/test_chaos.py runs a short one in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.support import RedisServer, Stack, alive, base_env, corpus_file, descendants, wait_for

INPUTS = ["tess_HelloGoogle.tif", "paperless_multi-page-images.tiff", "tess_phototest.tif"]
ACTIONS = ["kill_pool", "kill_pool", "kill_worker", "restart_broker", "kill_api"]


class Chaos:
    def __init__(self, work_dir: Path, workers: int = 2) -> None:
        self.redis = RedisServer(work_dir / "redis")
        self.data_dir = work_dir / "data"
        self.workers = workers
        self.stack: Stack | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.api: subprocess.Popen[bytes] | None = None
        self.done: Counter[str] = Counter()
        self.uploads: dict[str, str] = {}  # logical upload's file name -> input name
        self.accepted: dict[str, list[str]] = {}  # logical upload's file name -> job ids its client got a 202 for
        self.upload_attempts: Counter[str] = Counter()  # "202", "cut", "refused", another status code
        self.lock = threading.Lock()
        self.worker_lock = threading.Lock()  # the supervisor and kill_worker both replace the worker
        self.supervising = threading.Event()

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
        self.api = self.stack.procs[-1]
        self.start_worker()
        self.supervising.set()
        threading.Thread(target=self.supervise, daemon=True).start()
        return self.stack

    def supervise(self) -> None:
        """What `restart: unless-stopped` (docker-compose.yml) does: a worker that exited on its own is started
        again, and counted. Celery's worker can end itself: a pool process killed while the consumer
        re-registers the pool after a lost broker connection ends it with "Unrecoverable error:
        ValueError('file descriptor is None')"."""
        while self.supervising.is_set():
            with self.worker_lock:
                if self.supervising.is_set() and self.worker is not None and self.worker.poll() is not None:
                    self.done["worker_exited_restarted"] += 1
                    self.start_worker()
            time.sleep(0.5)

    def start_worker(self) -> None:
        """A new worker, waited for until it is ready: a pool process killed while Celery starts its pool
        ends the whole worker ("Could not start worker processes"), which no deployment would leave dead."""
        assert self.stack is not None
        ready = self.stack.log("worker.log").count(" ready.")
        self.worker = self.stack.start_worker(self.workers)
        wait_for(lambda: self.stack.log("worker.log").count(" ready.") > ready, 60, "the new worker")

    def stop(self) -> None:
        self.supervising.clear()
        with self.worker_lock:
            if self.stack is not None:
                pool = descendants(self.worker.pid) if self.worker else set()
                self.stack.stop()
                for pid in alive(pool):
                    os.kill(pid, signal.SIGKILL)
            self.redis.stop()

    # -- the disturbances ----------------------------------------------------------------------------
    def kill_pool(self) -> None:
        with self.worker_lock:  # not while the supervisor starts a worker
            assert self.worker is not None
            for pid in alive(descendants(self.worker.pid)):
                os.kill(pid, signal.SIGKILL)
                self.done["pool_processes_killed"] += 1
            self.done["kill_pool"] += 1

    def kill_worker(self) -> None:
        with self.worker_lock:
            self._kill_worker()

    def _kill_worker(self) -> None:
        assert self.worker is not None and self.stack is not None
        pool = descendants(self.worker.pid)
        self.worker.kill()
        self.worker.wait(10)
        deadline = time.monotonic() + 15
        while alive(pool) and time.monotonic() < deadline:  # they follow their parent (parent-death signal)
            time.sleep(0.1)
        assert not alive(pool), f"pool processes outlived their worker: {alive(pool)}"
        self.start_worker()
        self.done["kill_worker"] += 1

    def restart_broker(self) -> None:
        """SIGKILL and start again empty (what it kept is gone, messages included)."""
        (self.redis.data_dir / "dump.rdb").unlink(missing_ok=True)  # left by a restart_broker_kept
        self.redis.restart_empty()
        self.done["restart_broker"] += 1

    def restart_broker_kept(self) -> None:
        """A clean restart: SHUTDOWN SAVE writes dump.rdb, the new redis-server loads it (messages kept)."""
        assert self.redis.proc is not None
        with socket.create_connection(("127.0.0.1", self.redis.port), timeout=10) as conn:
            conn.sendall(b"SHUTDOWN SAVE\r\n")
            conn.recv(64)  # the server closes the connection once it has saved
        self.redis.proc.wait(30)
        self.redis.start()
        (self.redis.data_dir / "dump.rdb").unlink(missing_ok=True)  # loaded; a later wipe must not find it
        self.done["restart_broker_kept"] += 1

    def kill_api(self, uploaders: int = 6, upload_s: float = 1.5, per_uploader: int = 3) -> None:
        """SIGKILL the API while uploads are in flight, then start a new one on the same port. The uploads
        come from client threads which retry until they get a 202; half of them send their body slowly, so
        that the kill is sure to cut some mid-body."""
        assert self.stack is not None and self.api is not None
        port = self.stack.base_url.rsplit(":", 1)[1]
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=self._upload_until_accepted, args=(i % 2 == 0, upload_s, per_uploader, stop), daemon=True
            )
            for i in range(uploaders)
        ]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.3, upload_s))  # uploads in flight: slow ones mid-body, others anywhere
        self.api.kill()
        self.api.wait(10)
        self.done["kill_api"] += 1
        time.sleep(0.5)
        api_cmd = [sys.executable, "-m", "ocr_api.cli", "api", "--host", "127.0.0.1", "--port", port]
        self.api = self.stack._spawn(api_cmd, "api.log", {"OCR_READY_REQUIRES_WORKERS": "false"})  # as the first
        wait_for(lambda: self.stack.client.get("/readyz").status_code == 200, 60, "the restarted API")
        stop.set()  # the threads finish the upload in hand (retrying it until it is accepted) and stop
        for thread in threads:
            thread.join(120)
            assert not thread.is_alive(), "an uploader never got its upload accepted"

    def _upload_until_accepted(self, slow: bool, upload_s: float, most: int, stop: threading.Event) -> None:
        """Up to `most` uploads, one after the other, each retried until it is accepted; no new one once
        `stop` is set."""
        assert self.stack is not None
        with httpx.Client(base_url=self.stack.base_url, timeout=60) as client:
            for _ in range(most):
                with self.lock:
                    name = INPUTS[len(self.uploads) % len(INPUTS)]
                    filename = f"upload-{len(self.uploads):04d}-{name}"
                    self.uploads[filename] = name
                    self.accepted[filename] = []
                while True:  # the client's retry loop: the same file until it is accepted
                    outcome = self._upload_once(client, filename, name, slow, upload_s)
                    with self.lock:
                        self.upload_attempts[outcome] += 1
                    if outcome == "202":
                        break
                    time.sleep(0.2)
                if stop.is_set():
                    return
                time.sleep(0.2)

    def _upload_once(self, client: httpx.Client, filename: str, name: str, slow: bool, upload_s: float) -> str:
        data = corpus_file(name).read_bytes()
        boundary = "chaos-boundary-7f3a"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )

        def chunks() -> Iterator[bytes]:
            step = max(1, len(body) // 20)
            for i in range(0, len(body), step):
                yield body[i : i + step]
                time.sleep(upload_s / 20)

        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if slow:
            headers["Content-Length"] = str(len(body))
        try:
            response = client.post("/v1/jobs", content=chunks() if slow else body, headers=headers)
        except httpx.ConnectError:
            return "refused"  # no API listening (killed, not yet restarted)
        except httpx.TransportError:
            return "cut"  # the connection died under the request: mid-body, or before the answer
        if response.status_code == 202:
            with self.lock:
                self.accepted[filename].append(response.json()["id"])
            return "202"
        return str(response.status_code)

    # -- the run -------------------------------------------------------------------------------------
    def run(
        self,
        jobs: int,
        rounds: int,
        pause_s: float = 2.5,
        timeout_s: float = 600,
        schedule: list[str] | None = None,
        keep_busy: int = 0,
    ) -> dict[str, Any]:
        """`rounds` disturbances from the ACTIONS cycle, or the given `schedule`, `pause_s` apart; with
        `keep_busy`, more jobs are submitted whenever fewer than that many are unfinished, so that the whole
        schedule runs under load (without it, the disturbances stop once every job has finished)."""
        stack = self.start() if self.stack is None else self.stack
        expected = {}
        for name in INPUTS:  # the undisturbed run
            job = stack.run(corpus_file(name))
            assert job["status"] == "succeeded", job
            expected[name] = stack.text(job["id"])
        started = time.monotonic()
        submitted: dict[str, str] = {}

        def submit(n: int) -> None:
            for _ in range(n):
                name = INPUTS[len(submitted) % len(INPUTS)]
                submitted[stack.submit_ok(corpus_file(name))["id"]] = name

        submit(jobs)
        actions = schedule if schedule is not None else [ACTIONS[i % len(ACTIONS)] for i in range(rounds)]
        for action in actions:
            unfinished = self.unfinished(submitted)
            if unfinished == 0 and not keep_busy:
                break
            submit(max(0, keep_busy - unfinished))
            time.sleep(pause_s)
            getattr(self, action)()
        accepted = {job_id: self.uploads[f] for f, ids in self.accepted.items() for job_id in ids}
        statuses = {job_id: stack.wait(job_id, timeout_s)["status"] for job_id in {**submitted, **accepted}}
        # Jobs recorded whose client never saw the 202: each must end, and succeed, like any other.
        recorded = self.recorded_uploads()
        unseen = {j: self.uploads[f] for j, f in recorded.items() if j not in accepted}
        statuses.update({job_id: stack.wait(job_id, timeout_s)["status"] for job_id in unseen})
        elapsed = time.monotonic() - started
        every = {**submitted, **accepted, **unseen}
        wrong = [j for j, name in every.items() if statuses[j] == "succeeded" and stack.text(j) != expected[name]]
        per_upload = Counter(recorded.values())
        return {
            "jobs": len(every),
            "jobs_submitted_up_front": jobs,
            "jobs_topped_up": len(submitted) - jobs,
            "pages": sum(3 if "multi" in name else 1 for name in every.values()),
            "disturbances": dict(self.done),
            "uploads_during_api_kills": len(self.uploads),
            "upload_attempts": dict(self.upload_attempts),
            "uploads_accepted": sum(bool(ids) for ids in self.accepted.values()),
            "accepted_twice": sorted(f for f, ids in self.accepted.items() if len(ids) > 1),
            "recorded_without_202": len(unseen),
            "duplicates": sum(n - 1 for n in per_upload.values() if n > 1),
            "succeeded": sum(s == "succeeded" for s in statuses.values()),
            "not_succeeded": {j: s for j, s in statuses.items() if s != "succeeded"},
            "wrong_text": wrong,
            "finished_twice": self.finished_twice(),
            "seconds": round(elapsed, 1),
        }

    def recorded_uploads(self) -> dict[str, str]:
        """Every job in the database made by an upload during an API kill: job id -> the upload's file name."""
        with sqlite3.connect(self.data_dir / "jobs.sqlite3") as db:
            rows = db.execute("SELECT id, filename FROM ocr_jobs WHERE filename LIKE 'upload-%'").fetchall()
        return {str(job_id): filename for job_id, filename in rows if filename in self.uploads}

    def unfinished(self, job_ids: dict[str, str]) -> int:
        """How many of the jobs are queued or running, read from the database in one query (one status
        request per job, hundreds of jobs into a long run, cost seconds a round on a small machine)."""
        with sqlite3.connect(self.data_dir / "jobs.sqlite3") as db:
            rows = db.execute("SELECT id FROM ocr_jobs WHERE status IN ('queued', 'running')").fetchall()
        return len({str(job_id) for (job_id,) in rows} & job_ids.keys())

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


def schedule_by_counts(
    pool_kills: int, worker_kills: int, broker_restarts: int, api_kills: int, seed: int
) -> list[str]:
    """The disturbances in a shuffled order; half the broker restarts (rounded up) wipe it."""
    wiped = (broker_restarts + 1) // 2
    schedule = (
        ["kill_pool"] * pool_kills
        + ["kill_worker"] * worker_kills
        + ["restart_broker"] * wiped
        + ["restart_broker_kept"] * (broker_restarts - wiped)
        + ["kill_api"] * api_kills
    )
    random.Random(seed).shuffle(schedule)
    return schedule


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=40, help="disturbances from the fixed cycle")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pause", type=float, default=2.5, help="seconds between disturbances")
    counts = parser.add_argument_group("a schedule by counts (shuffled), instead of --rounds")
    counts.add_argument("--pool-kills", type=int, default=0, help="SIGKILLs of every pool process")
    counts.add_argument("--worker-kills", type=int, default=0, help="SIGKILLs of the whole worker")
    counts.add_argument("--broker-restarts", type=int, default=0, help="half wiped, half with their data kept")
    counts.add_argument("--api-kills", type=int, default=0, help="SIGKILLs of the API mid-upload")
    counts.add_argument("--keep-busy", type=int, default=10, help="unfinished jobs kept in the queue meanwhile")
    counts.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    schedule = None
    if args.pool_kills or args.worker_kills or args.broker_restarts or args.api_kills:
        schedule = schedule_by_counts(
            args.pool_kills, args.worker_kills, args.broker_restarts, args.api_kills, args.seed
        )
    # A background job of a non-interactive shell ignores SIGINT: SIGTERM must stop the run cleanly too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(
        prefix="chaos-", dir=Path(".bench").resolve() if Path(".bench").is_dir() else None
    ) as tmp:
        chaos = Chaos(Path(tmp), args.workers)
        try:
            result = chaos.run(
                args.jobs, args.rounds, args.pause, schedule=schedule, keep_busy=args.keep_busy if schedule else 0
            )
        finally:
            chaos.stop()
    print(json.dumps(result, indent=2))
    ok = (
        not result["not_succeeded"]
        and not result["wrong_text"]
        and not result["finished_twice"]
        and not result["accepted_twice"]
    )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
