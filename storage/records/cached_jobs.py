"""The result cache's query (workers/cache.py): the newest succeeded job with the same cache key whose files are
still kept, with what a copy of it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.records.models import JOBS, PAGES, JobStatus, PageStatus, utcnow


@dataclass(frozen=True)
class CachedJob:
    id: str
    pages_total: int
    engine_info: dict[str, Any]
    page_info: dict[int, dict[str, Any]]
    owner: str | None = None  # the key that made it (None: made without a key)
    filename: str | None = None  # what its results name (ALTO, PDF title, JSON meta)


class AnyOwner:
    """`find_cached_job(owner=ANY_OWNER)`: every tenant's jobs (OCR_RESULT_CACHE_SCOPE=global)."""


ANY_OWNER = AnyOwner()


def find_cached_job(
    session: Session, key: str, exclude_id: str, owner: str | AnyOwner | None = ANY_OWNER
) -> CachedJob | None:
    """The newest succeeded job with this key, other than `exclude_id`, made by `owner` (None: without a key;
    ANY_OWNER: by anyone), with every page's info; None when there is none, or its files are gone or going, or a
    page row is missing."""
    query = (
        select(JOBS.c.id, JOBS.c.pages_total, JOBS.c.engine_info, JOBS.c.owner, JOBS.c.filename)
        .where(JOBS.c.cache_key == key, JOBS.c.status == JobStatus.SUCCEEDED, JOBS.c.id != exclude_id)
        .where(JOBS.c.expired_at.is_(None), or_(JOBS.c.expires_at.is_(None), JOBS.c.expires_at > utcnow()))
    )
    if not isinstance(owner, AnyOwner):
        query = query.where(JOBS.c.owner.is_(None) if owner is None else JOBS.c.owner == owner)
    job = session.execute(query.order_by(JOBS.c.finished_at.desc()).limit(1)).first()
    if job is None or not job.pages_total:
        return None
    pages = session.execute(
        select(PAGES.c.page_no, PAGES.c.info).where(PAGES.c.job_id == job.id, PAGES.c.status == PageStatus.SUCCEEDED)
    )
    page_info = {page_no: dict(info or {}) for page_no, info in pages}
    if len(page_info) != job.pages_total:
        return None
    return CachedJob(
        id=job.id,
        pages_total=job.pages_total,
        engine_info=dict(job.engine_info or {}),
        page_info=page_info,
        owner=job.owner,
        filename=job.filename,
    )
