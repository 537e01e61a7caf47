"""The retention sweep: a job's files (input, page outputs, results) are deleted OCR_RETENTION_HOURS after it
ends, or after the upload's own retain_hours; the queries are in storage/records/retention.py.

The API runs `sweep` every OCR_RETENTION_INTERVAL_S, in every API process: each step is a conditional UPDATE in
a transaction of its own, so processes sweeping at once never delete a job twice or record it twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from storage.errors import StorageError
from storage.objects.base import Storage
from storage.objects.factory import get_storage
from storage.objects.keys import job_prefix
from storage.records import retention as records
from storage.records.db import session_scope
from storage.records.models import utcnow
from storage.settings import get_storage_settings

log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    stamped: int = 0  # ended jobs whose expiry time was recorded
    expired: list[str] = field(default_factory=list)  # jobs whose files were deleted


def sweep(now: datetime | None = None) -> RetentionReport:
    """One pass: stamp ended jobs, then delete the files of up to BATCH due ones. Safe in several processes."""
    now = now or utcnow()
    with session_scope() as session:
        stamped = records.stamp_ended_jobs(session, get_storage_settings().retention_hours)
    report = RetentionReport(stamped=stamped)
    with session_scope() as session:
        due = records.due_jobs(session, now)
    storage = get_storage()
    report.expired = [job_id for job_id in due if _expire(storage, job_id, now)]
    if report.expired:
        log.info("retention: deleted the files of %d jobs", len(report.expired))
    return report


def _expire(storage: Storage, job_id: str, now: datetime) -> bool:
    """Delete a due job's files; False when another sweep took it first or the store failed (tried again later)."""
    # Marked first (and committed), then deleted: a download from here on answers 410 rather than finding files
    # half gone.
    with session_scope() as session:
        if not records.claim_expiry(session, job_id, now):
            return False
    try:
        storage.delete_prefix(job_prefix(job_id))
    except StorageError as exc:
        log.warning("retention: could not delete the files of job %s (trying again later): %s", job_id, exc)
        with session_scope() as session:
            records.release_expiry(session, job_id)
        return False
    return True
