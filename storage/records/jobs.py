"""All queries on job records. Every state change is a conditional update, so running a step twice is harmless.

One style: the statements go to the tables directly (SQLAlchemy Core), as the worker's per-page statements must
(the ORM's bulk UPDATE/INSERT path costs about half as much again per statement, and these run several times
for every page). Only the loaders whose callers want model objects (get_job, get_page, list_jobs,
events_after) select the mapped classes. Each function takes the caller's session (storage/records/db.py).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from storage.records.db import rows_changed
from storage.records.models import (
    DELIVERIES,
    EVENTS,
    JOBS,
    PAGES,
    Job,
    JobEvent,
    JobStatus,
    Page,
    PageStatus,
    utcnow,
)


@dataclass(frozen=True)
class PageOutcome:
    newly_done: bool
    all_done: bool
    live: bool = True  # False: the job was cancelled, failed or deleted meanwhile; the page must leave nothing


def _job_is_running(job_id: str) -> ColumnElement[bool]:
    """Part of a page's conditional UPDATE: nothing is recorded for a job cancelled or deleted meanwhile."""
    return exists().where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.RUNNING)


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def add_job(session: Session, job: Job) -> Job:
    """Insert a new job (a transient Job, not added to the session) and its first "status" event."""
    add_jobs(session, [job])
    return job


def add_jobs(session: Session, jobs: Sequence[Job]) -> None:
    """Insert new jobs (transient Jobs, not added to the session) and their first "status" events: two Core
    INSERTs of all the rows (executemany), instead of the ORM's add and flush, which cost about as much again
    as the statements for one job. The models' column defaults are filled in on each object first, so that it
    reads back as its row does."""
    if not jobs:
        return
    rows = []
    now = utcnow()
    defaults = [column for column in JOBS.columns if column.default is not None]
    for job in jobs:
        for column in defaults:
            if getattr(job, column.key) is None:
                # Scalar defaults as they are; callable ones (created_at, options) take an execution context,
                # which none of them reads
                default = cast(Any, column.default)
                setattr(job, column.key, default.arg if default.is_scalar else default.arg(None))
        # Unset columns are left out, as the ORM leaves them out: NULL (not JSON null), or the table's default.
        rows.append({c.key: v for c in JOBS.columns if (v := getattr(job, c.key)) is not None})
    by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:  # one executemany per set of columns (uploads all have the same)
        by_columns.setdefault(frozenset(row), []).append(row)
    for same in by_columns.values():
        session.execute(insert(JOBS), same)
    events = [{"job_id": job.id, "type": "status", "data": {"status": job.status}, "created_at": now} for job in jobs]
    session.execute(insert(EVENTS), events)


def add_event(session: Session, job_id: str, type_: str, data: dict[str, Any]) -> None:
    # A plain INSERT: cheaper than the unit of work, and nothing reads the event back in this session.
    session.execute(insert(EVENTS).values(job_id=job_id, type=type_, data=data, created_at=utcnow()))


def events_after(session: Session, job_id: str, after_id: int, limit: int = 500) -> list[JobEvent]:
    stmt = select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after_id).order_by(JobEvent.id).limit(limit)
    return list(session.scalars(stmt))


def counts_by_status(session: Session) -> dict[str, int]:
    """Jobs by status (statuses without a job left out): one grouped count, for the metrics scrape."""
    rows = session.execute(select(JOBS.c.status, func.count()).group_by(JOBS.c.status))
    return {status: int(count) for status, count in rows}


def encode_cursor(job: Job) -> str:
    raw = f"{job.created_at.isoformat()}|{job.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Raises ValueError for anything that is not a cursor this service issued."""
    padded = cursor + "=" * (-len(cursor) % 4)
    created, job_id = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
    return datetime.fromisoformat(created), job_id


def list_jobs(
    session: Session, limit: int, cursor: str | None = None, owner: str | None = None
) -> tuple[list[Job], str | None]:
    stmt = select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit + 1)
    if owner is not None:
        stmt = stmt.where(Job.owner == owner)
    if cursor:
        created, job_id = decode_cursor(cursor)
        stmt = stmt.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < job_id)))
    jobs = list(session.scalars(stmt))
    next_cursor = encode_cursor(jobs[limit - 1]) if len(jobs) > limit else None
    return jobs[:limit], next_cursor


def delete_job(session: Session, job_id: str) -> bool:
    for table in (EVENTS, PAGES, DELIVERIES):
        session.execute(delete(table).where(table.c.job_id == job_id))
    result = session.execute(delete(JOBS).where(JOBS.c.id == job_id))
    return bool(rows_changed(result))


def start_job(
    session: Session,
    job_id: str,
    pages_total: int,
    engine_info: dict[str, Any],
    cache_key: str | None = None,
    *,
    claim_for: str | None = None,
) -> list[int] | None:
    """queued -> running with the page rows created; the page numbers to do, or None when the job is gone or
    already past that.

    `claim_for`: a task id; a one-page job's page row is created claimed by that task (one delivery counted,
    as claim_page would), so a job done inline by its first task needs one write transaction to start."""
    now = utcnow()
    result = session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.QUEUED)
        .values(
            status=JobStatus.RUNNING,
            started_at=now,
            pages_total=pages_total,
            engine_info=engine_info,
            cache_key=cache_key,
        )
    )
    if not rows_changed(result):
        return None
    states = page_states(session, job_id)
    new = [n for n in range(1, pages_total + 1) if n not in states]
    if new == [1] and claim_for is not None:
        session.execute(insert(PAGES), [{"job_id": job_id, "page_no": 1, "attempts": 1, "task_id": claim_for,
                                          "claimed_at": now}])  # fmt: skip
    elif new:
        session.execute(insert(PAGES), [{"job_id": job_id, "page_no": n, "attempts": 0} for n in new])
    add_event(session, job_id, "status", {"status": JobStatus.RUNNING, "pages_total": pages_total})
    return sorted(n for n in range(1, pages_total + 1) if states.get(n) != PageStatus.SUCCEEDED)


def note_prepare_redelivery(session: Session, job_id: str) -> int:
    """Count one more redelivery of a queued job's first step; the count so far (0: the job is not queued)."""
    row = session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.QUEUED)
        .values(prepare_attempts=JOBS.c.prepare_attempts + 1)
        .returning(JOBS.c.prepare_attempts)
    ).first()
    return int(row[0]) if row else 0


def page_states(session: Session, job_id: str) -> dict[int, str]:
    """Page number -> status of every page row of a job."""
    rows = session.execute(select(PAGES.c.page_no, PAGES.c.status).where(PAGES.c.job_id == job_id))
    return {page_no: status for page_no, status in rows}


def pending_pages(session: Session, job_id: str) -> list[int]:
    stmt = select(PAGES.c.page_no).where(PAGES.c.job_id == job_id, PAGES.c.status != PageStatus.SUCCEEDED)
    return sorted(session.scalars(stmt))


def get_page(session: Session, job_id: str, page_no: int) -> Page | None:
    return session.get(Page, (job_id, page_no))


@dataclass(frozen=True)
class PageClaim:
    attempts: int  # deliveries of this page so far, this one included
    last_error: str | None


def _page_open(job_id: str, page_no: int) -> ColumnElement[bool]:
    """The page is not done yet and its job is still running."""
    return and_(
        PAGES.c.job_id == job_id,
        PAGES.c.page_no == page_no,
        PAGES.c.status != PageStatus.SUCCEEDED,
        _job_is_running(job_id),
    )


def claim_page(session: Session, job_id: str, page_no: int, task_id: str | None = None) -> PageClaim | None:
    """Count one more delivery of a page not yet done, and note which task runs it; None when the page is
    done (or has no row) or its job is no longer running."""
    row = session.execute(
        update(PAGES)
        .where(_page_open(job_id, page_no))
        .values(attempts=PAGES.c.attempts + 1, task_id=task_id, claimed_at=utcnow())
        .returning(PAGES.c.attempts, PAGES.c.error_message)
    ).one_or_none()
    return None if row is None else PageClaim(attempts=row[0], last_error=row[1])


def note_page_error(session: Session, job_id: str, page_no: int, message: str) -> None:
    """Why the last attempt at a page failed, reported if the page is finally given up."""
    session.execute(
        update(PAGES).where(PAGES.c.job_id == job_id, PAGES.c.page_no == page_no).values(error_message=message[:2000])
    )


def finish_page(session: Session, job_id: str, page_no: int, info: dict[str, Any]) -> PageOutcome:
    """Mark a page done once, while its job runs; only the first call counts it towards pages_done."""
    result = session.execute(
        update(PAGES)
        .where(_page_open(job_id, page_no))
        .values(status=PageStatus.SUCCEEDED, finished_at=utcnow(), info=info, error_message=None)
    )
    if not rows_changed(result):
        status = session.execute(select(JOBS.c.status).where(JOBS.c.id == job_id)).scalar_one_or_none()
        if status != JobStatus.RUNNING:
            return PageOutcome(newly_done=False, all_done=False, live=False)
        return PageOutcome(newly_done=False, all_done=not pending_pages(session, job_id))
    # pages_done only ever moves here, once per page, so it tells whether this was the last page.
    counts = session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id)
        .values(pages_done=JOBS.c.pages_done + 1)
        .returning(JOBS.c.pages_done, JOBS.c.pages_total)
    ).one_or_none()
    add_event(session, job_id, "page", {"page": page_no, **{k: info[k] for k in ("confidence",) if k in info}})
    return PageOutcome(
        newly_done=True, all_done=counts is not None and counts[1] is not None and counts[0] >= counts[1]
    )


def done_pages(session: Session, job_id: str) -> list[int]:
    stmt = select(PAGES.c.page_no).where(PAGES.c.job_id == job_id, PAGES.c.status == PageStatus.SUCCEEDED)
    return sorted(session.scalars(stmt))


def succeed_job(session: Session, job_id: str) -> bool:
    result = session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.RUNNING)
        .values(status=JobStatus.SUCCEEDED, finished_at=utcnow())
    )
    if rows_changed(result):
        add_event(session, job_id, "status", {"status": JobStatus.SUCCEEDED})
        return True
    return False


@dataclass(frozen=True)
class Cancelled:
    cancelled: bool  # False: the job had finished already (or is gone)
    status: str | None  # the job's status after the call; None when there is no such job
    running_tasks: list[str]  # Celery tasks that may be recognizing one of its pages right now


def cancel_job(session: Session, job_id: str) -> Cancelled:
    """queued/running -> cancelled, and the tasks that may still be working on its pages."""
    result = session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.status.in_(JobStatus.LIVE))
        .values(status=JobStatus.CANCELLED, finished_at=utcnow())
    )
    if not rows_changed(result):
        status = session.execute(select(JOBS.c.status).where(JOBS.c.id == job_id)).scalar_one_or_none()
        return Cancelled(cancelled=False, status=status, running_tasks=[])
    add_event(session, job_id, "status", {"status": JobStatus.CANCELLED})
    tasks = session.scalars(
        select(PAGES.c.task_id).where(
            PAGES.c.job_id == job_id, PAGES.c.status == PageStatus.PENDING, PAGES.c.task_id.is_not(None)
        )
    )
    return Cancelled(cancelled=True, status=JobStatus.CANCELLED, running_tasks=sorted({t for t in tasks if t}))


def fail_job(session: Session, job_id: str, code: str, message: str, page_no: int | None = None) -> bool:
    """Fail a job that has not finished; the first reason wins."""
    if page_no is not None:
        session.execute(
            update(PAGES)
            .where(PAGES.c.job_id == job_id, PAGES.c.page_no == page_no)
            .values(status=PageStatus.FAILED, error_message=message, finished_at=utcnow())
        )
    result = session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.status.not_in(JobStatus.FINISHED))
        .values(status=JobStatus.FAILED, finished_at=utcnow(), error_code=code, error_message=message)
    )
    if rows_changed(result):
        add_event(
            session,
            job_id,
            "status",
            {"status": JobStatus.FAILED, "error": {"code": code, "message": message}},
        )
        return True
    return False


@dataclass(frozen=True)
class StuckJob:
    id: str
    status: str
    exhausted: list[tuple[int, int, str | None]]  # pending pages out of attempts: (page, attempts, last error)


def claim_stuck_jobs(session: Session, cutoff: datetime, max_attempts: int, limit: int = 500) -> list[StuckJob]:
    """Queued or running jobs in which nothing has started or finished since `cutoff` (nor been sent again
    by a sweep), each marked as sent again now. The mark is a conditional UPDATE, so of two sweeps racing
    only one gets a job; on PostgreSQL an advisory lock also keeps the second from doing the work at all."""
    if session.get_bind().dialect.name == "postgresql":
        got = session.execute(select(func.pg_try_advisory_xact_lock(_SWEEP_LOCK_KEY))).scalar()
        if not got:
            return []
    last_sent = func.coalesce(JOBS.c.enqueued_at, JOBS.c.created_at)
    recent_page = exists().where(
        PAGES.c.job_id == JOBS.c.id, or_(PAGES.c.claimed_at >= cutoff, PAGES.c.finished_at >= cutoff)
    )
    stale = and_(
        JOBS.c.status.in_(JobStatus.LIVE),
        last_sent < cutoff,
        func.coalesce(JOBS.c.started_at, JOBS.c.created_at) < cutoff,
        ~recent_page,
    )
    rows = session.execute(select(JOBS.c.id, JOBS.c.status).where(stale).limit(limit)).all()
    stuck = []
    now = utcnow()
    for job_id, status in rows:
        marked = session.execute(update(JOBS).where(JOBS.c.id == job_id, stale).values(enqueued_at=now))
        if not rows_changed(marked):
            continue
        exhausted = session.execute(
            select(PAGES.c.page_no, PAGES.c.attempts, PAGES.c.error_message)
            .where(
                PAGES.c.job_id == job_id,
                PAGES.c.status != PageStatus.SUCCEEDED,
                PAGES.c.attempts >= max_attempts,
            )
            .order_by(PAGES.c.page_no)
        ).all()
        stuck.append(StuckJob(job_id, status, [(int(n), int(a), e) for n, a, e in exhausted]))
    return stuck


_SWEEP_LOCK_KEY = 0x6F63725F7377  # "ocr_sw": the recovery sweep's PostgreSQL advisory lock
