"""Retention's queries: when an ended job's files go (OCR_RETENTION_HOURS after it ends, or the upload's own
retain_hours), and the marks the sweep (maintenance/retention.py) makes. The job's row stays, without files, so
it is still listed and its status says when it expired (downloads answer 410 from then on).

Each change is a conditional UPDATE, so processes sweeping at once never expire a job twice or record it twice.
Every function takes the caller's session (storage/records/db.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from storage.records.db import rows_changed
from storage.records.models import JOBS, JobStatus

BATCH = 500  # jobs stamped, and jobs expired, per sweep


def retention_hours(retain_hours: int | None, setting_hours: int) -> int:
    """How long a job's files stay after it ends: the upload's retain_hours, never more than the setting (which
    may have been lowered since the upload)."""
    return setting_hours if retain_hours is None else min(retain_hours, setting_hours)


def stamp_ended_jobs(session: Session, default_hours: int, limit: int = BATCH) -> int:
    """Record expires_at (end + the job's retain_hours, or the setting) on ended jobs that lack it; how many."""
    unstamped = and_(
        JOBS.c.status.in_(JobStatus.FINISHED),
        JOBS.c.finished_at.is_not(None),
        JOBS.c.expires_at.is_(None),
        JOBS.c.expired_at.is_(None),
    )
    rows = session.execute(
        select(JOBS.c.id, JOBS.c.finished_at, JOBS.c.retain_hours).where(unstamped).limit(limit)
    ).all()
    stamped = 0
    for job_id, finished_at, retain_hours in rows:
        hours = retention_hours(retain_hours, default_hours)
        result = session.execute(
            update(JOBS).where(JOBS.c.id == job_id, unstamped).values(expires_at=finished_at + timedelta(hours=hours))
        )
        stamped += rows_changed(result)
    return stamped


def claim_expiry(session: Session, job_id: str, now: datetime) -> bool:
    """Mark a due job expired; False when it is not due or another sweep marked it first."""
    result = session.execute(
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.expired_at.is_(None), JOBS.c.expires_at <= now)
        .values(expired_at=now)
    )
    return bool(rows_changed(result))


def release_expiry(session: Session, job_id: str) -> None:
    """Undo a claim whose files could not be deleted: the next sweep tries again."""
    session.execute(update(JOBS).where(JOBS.c.id == job_id).values(expired_at=None))


def due_jobs(session: Session, now: datetime, limit: int = BATCH) -> list[str]:
    """Jobs whose files are due to go, soonest first."""
    stmt = (
        select(JOBS.c.id)
        .where(JOBS.c.expires_at <= now, JOBS.c.expired_at.is_(None))
        .order_by(JOBS.c.expires_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))
