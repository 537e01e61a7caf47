"""All queries on batches: a batch row, and the jobs that name it. Each function takes the caller's session
(storage/records/db.py)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.records.db import rows_changed
from storage.records.models import BATCHES, JOBS, Batch, Job, utcnow


def add_batch(session: Session, batch_id: str, owner: str | None) -> Batch:
    session.execute(BATCHES.insert().values(id=batch_id, owner=owner, created_at=utcnow()))
    return Batch(id=batch_id, owner=owner)


def get_batch(session: Session, batch_id: str) -> Batch | None:
    return session.get(Batch, batch_id)


def batch_jobs(session: Session, batch_id: str) -> list[Job]:
    """The batch's jobs in the order they were made (uploads in the order of their parts)."""
    query = select(Job).where(JOBS.c.batch_id == batch_id).order_by(JOBS.c.created_at, JOBS.c.id)
    return list(session.scalars(query))


def jobs_to_group(session: Session, job_ids: Collection[str]) -> list[Job]:
    """The jobs of these ids that exist (for the caller to check owners and batches before grouping them)."""
    if not job_ids:
        return []
    return list(session.scalars(select(Job).where(JOBS.c.id.in_(list(job_ids)))))


def assign_jobs(session: Session, batch_id: str, job_ids: Collection[str]) -> int:
    """Put jobs that belong to no batch yet into this one; the number put (fewer: another took some meanwhile)."""
    result = session.execute(
        update(JOBS).where(JOBS.c.id.in_(list(job_ids)), JOBS.c.batch_id.is_(None)).values(batch_id=batch_id)
    )
    return rows_changed(result)


def delete_batch(session: Session, batch_id: str) -> bool:
    """Remove the batch row (its jobs are deleted by the caller first, with their files)."""
    result = session.execute(delete(BATCHES).where(BATCHES.c.id == batch_id))
    return rows_changed(result) > 0
