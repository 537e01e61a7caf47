"""The retention sweep (maintenance/retention.py; its queries: storage/records/retention.py) in this process: when
a job's files go, that they all go, that sweeps racing each other expire a job once, and that a store failure is
tried again. Through the real service: tests/e2e/test_webhooks_retention.py."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from maintenance import retention
from storage import get_storage
from storage.errors import StorageUnavailable
from storage.objects.keys import job_prefix, result_key
from storage.records.models import utcnow
from tests.support import insert_job, load_job

HOUR = timedelta(hours=1)


def ended(hours_ago: float, retain_hours: int | None = None, status: str = "succeeded") -> str:
    job_id = insert_job(
        b"input", "image/png", status=status, finished_at=utcnow() - hours_ago * HOUR, retain_hours=retain_hours
    )
    get_storage().put_bytes(result_key(job_id, "txt"), b"text", "text/plain")
    return job_id


def files(job_id: str) -> list[str]:
    return get_storage().list_keys(job_prefix(job_id))


def test_expiry_is_recorded_from_the_end_and_the_jobs_own_hours(local_env: Path) -> None:
    default = ended(1)
    own = ended(1, retain_hours=2)
    above = ended(1, retain_hours=10_000)  # the setting was lowered since: the setting wins
    running = insert_job(b"x", "image/png", status="running")
    report = retention.sweep()
    assert report.stamped == 3 and report.expired == []
    for job_id, hours in ((default, 168), (own, 2), (above, 168)):
        job = load_job(job_id)
        assert job.expires_at == job.finished_at + hours * HOUR
    assert load_job(running).expires_at is None


def test_due_jobs_lose_every_file_and_keep_their_record(local_env: Path) -> None:
    due = [ended(3, retain_hours=2), ended(0, retain_hours=0), ended(200, status="failed")]
    kept = ended(1, retain_hours=2)
    assert all(files(j) for j in [*due, kept])
    report = retention.sweep()
    assert sorted(report.expired) == sorted(due)
    for job_id in due:
        assert files(job_id) == []
        job = load_job(job_id)
        assert job.expired_at is not None and job.status in ("succeeded", "failed")
    assert files(kept) and load_job(kept).expired_at is None
    assert retention.sweep().expired == []  # nothing twice


def test_racing_sweeps_expire_each_job_once(local_env: Path) -> None:
    due = {ended(1, retain_hours=0) for _ in range(20)}
    reports: list[retention.RetentionReport] = []
    threads = [threading.Thread(target=lambda: reports.append(retention.sweep())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expired = [job_id for report in reports for job_id in report.expired]
    assert sorted(expired) == sorted(due)  # every one, none twice
    assert all(files(j) == [] for j in due)


def test_a_store_failure_leaves_the_job_to_the_next_sweep(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = ended(1, retain_hours=0)
    storage = get_storage()

    def unavailable(prefix: str) -> int:
        raise StorageUnavailable("the store is down")

    monkeypatch.setattr(storage, "delete_prefix", unavailable)
    assert retention.sweep().expired == []
    assert load_job(job_id).expired_at is None and files(job_id)
    monkeypatch.undo()
    assert retention.sweep().expired == [job_id]
    assert files(job_id) == []
