"""The repositories that take the caller's session (storage/records/db.py): API keys, Idempotency-Key records,
retention's marks, the result cache's lookup and the job counts, on SQLite and on the PostgreSQL server."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from storage.records import api_keys, cached_jobs, idempotency, retention
from storage.records import jobs as repo
from storage.records.db import rows_changed
from storage.records.models import ApiKey, Job, utcnow

HOUR = timedelta(hours=1)


def add_job(session: Session, **columns: Any) -> str:
    job = Job(
        id=str(uuid.uuid4()), media_type="image/png", input_key="k", input_size=1, input_sha256="0" * 64, **columns
    )
    repo.add_job(session, job)
    return job.id


def test_keys_are_made_listed_and_revoked_in_the_callers_transaction(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    with sessions.begin() as session:
        made = api_keys.create_key(session, "alice", rate_per_minute=5)
    assert api_keys.find_key(made.key, engine) == made.record
    with sessions.begin() as session, pytest.raises(api_keys.KeyNameTaken):
        api_keys.create_key(session, "alice")
    with sessions() as session:
        assert [k.name for k in api_keys.list_keys(session)] == ["alice"]
        with pytest.raises(api_keys.KeyNotFound):
            api_keys.revoke_key(session, "bob")
        api_keys.revoke_key(session, "alice")
        session.rollback()  # nothing is committed behind the caller's back
    assert api_keys.find_key(made.key, engine) is not None
    with sessions.begin() as session:
        api_keys.revoke_key(session, "alice")
    assert api_keys.find_key(made.key, engine) is None
    with sessions() as session:
        stored = session.scalars(select(ApiKey)).one()
        assert stored.key_hash == api_keys.hash_key(made.key) and made.key not in stored.prefix + stored.key_hash


def test_a_taken_key_leaves_the_callers_transaction_usable(sessions: sessionmaker[Session]) -> None:
    """reserve() tries its INSERT in a SAVEPOINT: the conflict is answered in the same transaction."""
    day = timedelta(days=1)
    with sessions.begin() as session:
        assert isinstance(idempotency.reserve(session, "o", "k", "f", ttl=day, stale_after=HOUR), idempotency.Reserved)
    with sessions.begin() as session:
        outcome = idempotency.reserve(session, "o", "k", "f", ttl=day, stale_after=HOUR)
        assert isinstance(outcome, idempotency.InFlight)
        idempotency.complete(session, "o", "k", "job-1", {"id": "job-1"})
        assert idempotency.reserve(session, "o", "k", "f", ttl=day, stale_after=HOUR) == idempotency.Replay(
            "job-1", {"id": "job-1"}
        )
        assert isinstance(idempotency.reserve(session, "o", "k", "g", ttl=day, stale_after=HOUR), idempotency.Mismatch)
        # An expired record is replaced, within the same transaction
        assert isinstance(
            idempotency.reserve(session, "o", "old", "f", ttl=-day, stale_after=HOUR), idempotency.Reserved
        )
        assert isinstance(
            idempotency.reserve(session, "o", "old", "g", ttl=day, stale_after=HOUR), idempotency.Reserved
        )
        idempotency.release(session, "o", "old")
    with sessions.begin() as session:
        assert idempotency.purge_expired(session, utcnow() + 2 * day) == 1  # "k"; "old" was released


def test_retention_marks_are_conditional(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with sessions.begin() as session:
        ended = add_job(session, status="succeeded", finished_at=now - 3 * HOUR, retain_hours=2)
        kept = add_job(session, status="succeeded", finished_at=now, retain_hours=2)
        running = add_job(session, status="running")
    with sessions.begin() as session:
        assert retention.stamp_ended_jobs(session, default_hours=168) == 2
        assert retention.stamp_ended_jobs(session, default_hours=168) == 0
        assert retention.due_jobs(session, now) == [ended]
        assert retention.claim_expiry(session, ended, now) and not retention.claim_expiry(session, ended, now)
        assert not retention.claim_expiry(session, kept, now), "not due yet"
        assert retention.due_jobs(session, now) == []
        retention.release_expiry(session, ended)
        assert retention.due_jobs(session, now) == [ended]
        assert session.get(Job, running).expires_at is None  # type: ignore[union-attr]


def test_the_cache_finds_the_newest_complete_job_whose_files_are_kept(sessions: sessionmaker[Session]) -> None:
    now, key = utcnow(), "c" * 64
    with sessions.begin() as session:
        old = add_job(session)
        new = add_job(session)
        gone = add_job(session)
        for job_id, finished in ((old, now - 2 * HOUR), (new, now - HOUR), (gone, now)):
            repo.start_job(session, job_id, 2, {"engine": "x"}, key)
            repo.finish_page(session, job_id, 1, {"confidence": 90})
            repo.finish_page(session, job_id, 2, {})
            repo.succeed_job(session, job_id)
            session.execute(update(Job).where(Job.id == job_id).values(finished_at=finished))
        session.execute(update(Job).where(Job.id == gone).values(expired_at=now))
    with sessions() as session:
        found = cached_jobs.find_cached_job(session, key, exclude_id="another")
        assert found == cached_jobs.CachedJob(new, 2, {"engine": "x"}, {1: {"confidence": 90}, 2: {}})
        assert cached_jobs.find_cached_job(session, key, exclude_id=new).id == old  # type: ignore[union-attr]
        assert cached_jobs.find_cached_job(session, "d" * 64, exclude_id="another") is None


def test_counts_by_status_and_rows_changed(sessions: sessionmaker[Session], engine: Engine) -> None:
    with sessions.begin() as session:
        for status in ("queued", "queued", "running", "failed"):
            add_job(session, status=status)
    with sessions.begin() as session:
        assert repo.counts_by_status(session) == {"queued": 2, "running": 1, "failed": 1}
        assert rows_changed(session.execute(update(Job).where(Job.status == "queued").values(pages_done=0))) == 2
        assert rows_changed(session.execute(update(Job).where(Job.status == "nothing").values(pages_done=0))) == 0
