"""The read path for single jobs (API status reads, and the workers' steps): one Core SELECT of the job's
row, no ORM session.

A status read is the API's most frequent request. `Session.get` costs several times the query itself (session
and transaction setup, identity map, instance loading, commit); a Core statement built once at import is
compiled once (SQLAlchemy caches the compiled form) and each call only checks a connection out of the pool,
runs it and turns the row into a frozen `JobRecord`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select

from storage.records.db import get_engine
from storage.records.models import Job


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job's row as read at one moment: what the API shows and checks, and what a worker step needs."""

    id: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pages_total: int | None
    pages_done: int
    error_code: str | None
    error_message: str | None
    filename: str | None
    media_type: str
    input_key: str
    input_size: int
    input_sha256: str
    lang: str
    psm: int | None
    dpi: int | None
    formats: str
    options: dict[str, Any] | None
    engine_info: dict[str, Any] | None
    owner: str | None  # the API key that made the job (None: made with OCR_AUTH=off)
    callback_url: str | None
    retain_hours: int | None
    expires_at: datetime | None
    expired_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobRecord:
        """The same view of an ORM object (a job just added, or one of a listed page)."""
        return cls(*(getattr(job, f.name) for f in fields(cls)))

    @property
    def format_list(self) -> list[str]:
        return [f for f in self.formats.split(",") if f]


_TABLE = Job.__table__
_COLUMNS = select(*(_TABLE.c[f.name] for f in fields(JobRecord)))
_BY_ID = _COLUMNS.where(_TABLE.c.id == bindparam("job_id"))
_BY_IDS = _COLUMNS.where(_TABLE.c.id.in_(bindparam("job_ids", expanding=True)))


def read_job(job_id: str, engine: Engine | None = None) -> JobRecord | None:
    """The job's current row, or None when there is no such job (default engine: the configured database).
    Blocking: call it from a thread."""
    with (engine or get_engine()).connect() as conn:
        row = conn.execute(_BY_ID, {"job_id": job_id}).first()
    return None if row is None else JobRecord(*row)


def read_jobs(job_ids: Collection[str], engine: Engine | None = None) -> dict[str, JobRecord]:
    """The current rows of these jobs, by id; ids without a job are left out. Blocking: call it from a thread."""
    if not job_ids:
        return {}
    with (engine or get_engine()).connect() as conn:
        rows = conn.execute(_BY_IDS, {"job_ids": list(job_ids)})
        return {record.id: record for record in (JobRecord(*row) for row in rows)}
