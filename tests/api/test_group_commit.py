"""Group commit of uploads, in this process: uploads ready together share one transaction and one publish,
each returns only once its row is committed and its message sent, and a failure leaves no row behind and
fails only the uploads it concerns. The kill -9 case is in tests/e2e/test_upload_durability.py."""

from __future__ import annotations

import contextvars
import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy.exc import IntegrityError

from ocr_api.group_commit import GroupCommit
from ocr_telemetry import context
from storage import reset_storage
from storage.records import jobs as repo
from storage.records.db import reset_engine, session_scope
from storage.records.migrate import migrate
from storage.records.models import Job, JobEvent
from tests.support import REDIS_URL
from workers import queue
from workers.settings import get_worker_settings


def _forget_settings() -> None:
    get_worker_settings.cache_clear()
    reset_storage()
    reset_engine()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OCR_DATABASE_URL", raising=False)
    _forget_settings()
    migrate()
    yield tmp_path
    _forget_settings()


def new_job() -> Job:
    job_id = str(uuid.uuid4())
    return Job(id=job_id, media_type="image/png", input_key=f"jobs/{job_id}/input", input_size=1, input_sha256="0")


def stored(job_id: str) -> tuple[Job | None, list[str]]:
    with session_scope() as session:
        job = repo.get_job(session, job_id)
        events = [e.type for e in session.query(JobEvent).filter(JobEvent.job_id == job_id)]
    return job, events


class Publishes:
    """Stands in for the broker: records each group it is given; the first waits until `release` is set."""

    def __init__(self) -> None:
        self.groups: list[list[str]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail_with: Exception | None = None

    def __call__(self, jobs: Sequence[tuple[str, contextvars.Context]]) -> None:
        ids = [job_id for job_id, _ in jobs]
        for job_id in ids:  # each row is committed before its message goes
            assert stored(job_id)[0] is not None
        self.groups.append(ids)
        if len(self.groups) == 1:
            self.first_started.set()
            assert self.release.wait(10)
        if self.fail_with is not None:
            raise self.fail_with


def submit_in_threads(committer: GroupCommit, jobs: list[Job], outcomes: dict[str, object]) -> list[threading.Thread]:
    def submit(job: Job) -> None:
        try:
            committer.record_and_enqueue(job)
            outcomes[job.id] = "ok"
        except Exception as exc:
            outcomes[job.id] = exc

    threads = [threading.Thread(target=submit, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    return threads


def test_uploads_ready_together_share_one_transaction_and_one_publish(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publishes = Publishes()
    monkeypatch.setattr(queue, "enqueue_jobs", publishes)
    committer = GroupCommit()
    first = new_job()
    outcomes: dict[str, object] = {}
    threads = submit_in_threads(committer, [first], outcomes)
    assert publishes.first_started.wait(10)
    assert first.id not in outcomes, "no answer before the message is sent"
    later = [new_job() for _ in range(5)]
    threads += submit_in_threads(committer, later, outcomes)
    # They queue up while the first group is being published, then go as one.
    while committer._pending.qsize() < len(later):
        threading.Event().wait(0.01)
    publishes.release.set()
    for thread in threads:
        thread.join(10)
    assert publishes.groups == [[first.id], [job.id for job in later]]
    assert [outcomes[job.id] for job in [first, *later]] == ["ok"] * 6
    for job in [first, *later]:
        row, events = stored(job.id)
        assert row is not None and row.status == "queued" and row.created_at is not None and events == ["status"]


def test_a_failed_publish_leaves_no_row_and_fails_each_upload_of_its_group(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publishes = Publishes()
    publishes.release.set()
    publishes.fail_with = queue.QueueUnavailable("the job queue (redis) is not reachable")
    monkeypatch.setattr(queue, "enqueue_jobs", publishes)
    jobs = [new_job() for _ in range(4)]
    outcomes: dict[str, object] = {}
    threads = submit_in_threads(GroupCommit(), jobs, outcomes)
    for thread in threads:
        thread.join(10)
    assert all(isinstance(outcomes[job.id], queue.QueueUnavailable) for job in jobs), outcomes
    assert all(stored(job.id) == (None, []) for job in jobs)


def test_one_bad_job_fails_alone(database: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row that cannot be inserted (here: an id taken already) fails its own upload, not its group's."""
    publishes = Publishes()
    monkeypatch.setattr(queue, "enqueue_jobs", publishes)
    committer = GroupCommit()
    blocker, taken = new_job(), new_job()
    with session_scope() as session:
        repo.add_job(session, new_job_with_id(taken.id))
    outcomes: dict[str, object] = {}
    threads = submit_in_threads(committer, [blocker], outcomes)
    assert publishes.first_started.wait(10)
    good = [new_job(), new_job()]
    more = submit_in_threads(committer, [good[0], taken, good[1]], outcomes)
    while committer._pending.qsize() < 3:
        threading.Event().wait(0.01)
    publishes.release.set()
    for thread in threads + more:
        thread.join(10)
    assert isinstance(outcomes[taken.id], IntegrityError)
    assert outcomes[blocker.id] == outcomes[good[0].id] == outcomes[good[1].id] == "ok"
    assert all(stored(job.id)[0] is not None for job in good)
    published = [job_id for group in publishes.groups for job_id in group]
    assert sorted(published[1:]) == sorted(job.id for job in good), "the bad one's message never went"


def new_job_with_id(job_id: str) -> Job:
    job = new_job()
    job.id = job_id
    return job


def test_a_group_goes_to_redis_in_one_batch_with_each_uploads_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"ocr-group-{uuid.uuid4().hex[:8]}"
    probe = Celery("probe", broker=REDIS_URL)
    probe.conf.task_default_queue = name
    monkeypatch.setattr(queue, "app", probe)
    jobs = []
    for n in range(3):
        ctx = contextvars.copy_context()
        ctx.run(context.request_id.set, f"request-{n}")
        jobs.append((str(uuid.uuid4()), ctx))
    client = redis.Redis.from_url(REDIS_URL)
    try:
        queue.enqueue_jobs(jobs)
        messages = [json.loads(raw) for raw in client.lrange(name, 0, -1)]
        by_job = {m["headers"]["argsrepr"]: m["headers"] for m in messages}
        assert len(messages) == 3
        for n, (job_id, _) in enumerate(jobs):
            headers = by_job[repr([job_id])]
            assert headers["task"] == queue.PREPARE_JOB and headers[context.REQUEST_ID_HEADER] == f"request-{n}"
    finally:
        client.delete(name)
        client.close()
