"""A job's status JSON: the body of GET /v1/jobs/{id}, and of the webhook POSTed when the job ends.

Here rather than in ocr_api so the workers (which send webhooks and never import the API package) build the
very same body; ocr_api/presenters.py validates it into its published JobOut model.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from storage.records.job_reads import JobRecord
from storage.records.retention import retention_hours
from storage.settings import get_storage_settings


def expires_at(job: JobRecord) -> datetime | None:
    """When the job's files go: the recorded time, or (until the retention sweep records it) the time it will
    record; None while the job has not ended."""
    if job.expires_at is not None or job.finished_at is None:
        return job.expires_at
    hours = retention_hours(job.retain_hours, get_storage_settings().retention_hours)
    return job.finished_at + timedelta(hours=hours)


def job_status(job: JobRecord, jobs_base: str) -> dict[str, Any]:
    """The status body; `jobs_base` is the job collection's URL (or path) its links start with."""
    base = f"{jobs_base}/{job.id}"
    formats = job.format_list
    return {
        "id": job.id,
        "status": job.status,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "expires_at": expires_at(job),
        "expired_at": job.expired_at,
        "pages_total": job.pages_total,
        "pages_done": job.pages_done,
        "error": {"code": job.error_code or "failed", "message": job.error_message or "", "details": None}
        if job.status == "failed"
        else None,
        "filename": job.filename,
        "media_type": job.media_type,
        "size": job.input_size,
        "lang": job.lang,
        "psm": job.psm,
        "dpi": job.dpi,
        "formats": formats,
        "options": job.options or {},
        "engine": job.engine_info,
        "links": {
            "self": base,
            "results": {fmt: f"{base}/result.{fmt}" for fmt in formats},
            "text": f"{base}/text",
            "events": f"{base}/events",
            "deliveries": f"{base}/deliveries",
        },
    }
