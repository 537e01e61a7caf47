"""Retention: a job's files (input, page outputs, results) are deleted OCR_RETENTION_HOURS after it ends, or
after the upload's own retain_hours; the job's row stays, without files, so it is still listed and its status
says when it expired (downloads answer 410 from then on).

The API runs `sweep` every OCR_RETENTION_INTERVAL_S (ocr_api/app.py), in every API process: each step is a
conditional UPDATE, so processes sweeping at once never delete a job twice or record it twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, select, update

from storage.errors import StorageError
from storage.objects.factory import get_storage
from storage.objects.keys import job_prefix
from storage.records.db import session_scope
from storage.records.models import Job, JobStatus, utcnow
from storage.settings import get_storage_settings

log = logging.getLogger(__name__)
BATCH = 500  # jobs stamped, and jobs expired, per sweep
_JOBS = cast(Table, Job.__table__)


def retention_hours(retain_hours: int | None, setting_hours: int) -> int:
    """How long a job's files stay after it ends: the upload's retain_hours, never more than the setting (which
    may have been lowered since the upload)."""
    return setting_hours if retain_hours is None else min(retain_hours, setting_hours)


@dataclass
class RetentionReport:
    stamped: int = 0  # ended jobs whose expiry time was recorded
    expired: list[str] = field(default_factory=list)  # jobs whose files were deleted


def stamp_ended_jobs(default_hours: int, limit: int = BATCH) -> int:
    """Record expires_at (end + the job's retain_hours, or the setting) on ended jobs that lack it."""
    unstamped = and_(
        _JOBS.c.status.in_(JobStatus.FINISHED),
        _JOBS.c.finished_at.is_not(None),
        _JOBS.c.expires_at.is_(None),
        _JOBS.c.expired_at.is_(None),
    )
    stamped = 0
    with session_scope() as session:
        rows = session.execute(
            select(_JOBS.c.id, _JOBS.c.finished_at, _JOBS.c.retain_hours).where(unstamped).limit(limit)
        ).all()
        for job_id, finished_at, retain_hours in rows:
            hours = retention_hours(retain_hours, default_hours)
            result = session.execute(
                update(_JOBS)
                .where(_JOBS.c.id == job_id, unstamped)
                .values(expires_at=finished_at + timedelta(hours=hours))
            )
            stamped += result.rowcount  # type: ignore[attr-defined]
    return stamped


def claim_expiry(job_id: str, now: datetime) -> bool:
    """Mark a due job expired; False when it is not due or another sweep marked it first."""
    with session_scope() as session:
        result = session.execute(
            update(_JOBS)
            .where(_JOBS.c.id == job_id, _JOBS.c.expired_at.is_(None), _JOBS.c.expires_at <= now)
            .values(expired_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def release_expiry(job_id: str) -> None:
    """Undo a claim whose files could not be deleted: the next sweep tries again."""
    with session_scope() as session:
        session.execute(update(_JOBS).where(_JOBS.c.id == job_id).values(expired_at=None))


def due_jobs(now: datetime, limit: int = BATCH) -> list[str]:
    stmt = (
        select(_JOBS.c.id)
        .where(_JOBS.c.expires_at <= now, _JOBS.c.expired_at.is_(None))
        .order_by(_JOBS.c.expires_at)
        .limit(limit)
    )
    with session_scope() as session:
        return list(session.scalars(stmt))


def sweep(now: datetime | None = None) -> RetentionReport:
    """One pass: stamp ended jobs, then delete the files of up to BATCH due ones. Safe in several processes."""
    now = now or utcnow()
    report = RetentionReport(stamped=stamp_ended_jobs(get_storage_settings().retention_hours))
    storage = get_storage()
    for job_id in due_jobs(now):
        # Marked first, then deleted: a download from here on answers 410 rather than finding files half gone.
        if not claim_expiry(job_id, now):
            continue
        try:
            storage.delete_prefix(job_prefix(job_id))
        except StorageError as exc:
            log.warning("retention: could not delete the files of job %s (trying again later): %s", job_id, exc)
            release_expiry(job_id)
            continue
        report.expired.append(job_id)
    if report.expired:
        log.info("retention: deleted the files of %d jobs", len(report.expired))
    return report
