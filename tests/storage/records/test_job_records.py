"""Job records on SQLite and on the PostgreSQL server: conditional updates make every step safe to repeat."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.orm import Session

from storage.records import jobs as repo
from storage.records.models import Job


def new_job(session: Session) -> Job:
    job = Job(id=str(uuid.uuid4()), media_type="image/png", input_key="k", input_size=1, input_sha256="0" * 64)
    repo.add_job(session, job)
    session.commit()
    return job


def test_start_and_finish_pages_count_once(session: Session) -> None:
    job = new_job(session)
    assert repo.start_job(session, job.id, 3, {"engine": "x"}, "k" * 64) == [1, 2, 3]
    assert repo.start_job(session, job.id, 3, {"engine": "x"}) is None, "a second start is a no-op"
    session.commit()
    session.expire_all()
    started = repo.get_job(session, job.id)
    assert started is not None and started.status == "running" and started.cache_key == "k" * 64
    assert repo.pending_pages(session, job.id) == [1, 2, 3]
    first = repo.finish_page(session, job.id, 2, {"confidence": 90})
    again = repo.finish_page(session, job.id, 2, {"confidence": 90})
    assert first.newly_done and not again.newly_done
    assert not first.all_done
    repo.finish_page(session, job.id, 1, {})
    last = repo.finish_page(session, job.id, 3, {})
    session.commit()
    assert last.newly_done and last.all_done
    session.expire_all()
    assert repo.get_job(session, job.id).pages_done == 3  # type: ignore[union-attr]
    assert repo.succeed_job(session, job.id) and not repo.succeed_job(session, job.id)
    assert not repo.fail_job(session, job.id, "late", "too late"), "a finished job keeps its outcome"
    session.commit()
    events = repo.events_after(session, job.id, 0)
    assert [e.type for e in events] == ["status", "status", "page", "page", "page", "status"]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert repo.events_after(session, job.id, events[2].id)[0].id == events[3].id


def test_claims_count_deliveries_until_the_page_is_done(session: Session) -> None:
    job = new_job(session)
    repo.start_job(session, job.id, 2, {})
    assert repo.claim_page(session, job.id, 1) == repo.PageClaim(attempts=1, last_error=None)
    repo.note_page_error(session, job.id, 1, "RuntimeError: engine crashed")
    assert repo.claim_page(session, job.id, 1) == repo.PageClaim(attempts=2, last_error="RuntimeError: engine crashed")
    repo.finish_page(session, job.id, 1, {})
    assert repo.claim_page(session, job.id, 1) is None, "a done page is not claimed again"
    assert repo.claim_page(session, job.id, 9) is None, "nor a page the job does not have"
    session.commit()
    page = repo.get_page(session, job.id, 1)
    assert page is not None and page.attempts == 2 and page.error_message is None


def test_first_failure_reason_wins(session: Session) -> None:
    job = new_job(session)
    repo.start_job(session, job.id, 2, {})
    assert repo.fail_job(session, job.id, "unreadable_input", "page 2: damaged", page_no=2)
    assert not repo.fail_job(session, job.id, "ocr_failed", "other")
    session.commit()
    session.expire_all()
    stored = repo.get_job(session, job.id)
    assert stored is not None and stored.status == "failed" and stored.error_message == "page 2: damaged"
    assert stored.finished_at is not None and stored.finished_at.tzinfo is not None


def test_cursor_pagination_and_delete(session: Session) -> None:
    ids = {new_job(session).id for _ in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        jobs, cursor = repo.list_jobs(session, 2, cursor)
        seen += [j.id for j in jobs]
        if cursor is None:
            break
    assert ids <= set(seen) and len(seen) == len(set(seen))
    victim = seen[0]
    assert repo.delete_job(session, victim) and not repo.delete_job(session, victim)
    session.commit()
    assert repo.get_job(session, victim) is None
    with pytest.raises(ValueError):
        repo.decode_cursor("garbage")
