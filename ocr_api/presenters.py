"""Turn job records into response bodies."""

from __future__ import annotations

from fastapi import Request

from ocr_api.schemas import ErrorInfo, JobLinks, JobOut
from storage.models import Job


def job_out(job: Job, request: Request) -> JobOut:
    base = str(request.url_for("get_job", job_id=job.id))
    formats = job.format_list
    return JobOut(
        id=job.id,
        status=job.status,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        pages_total=job.pages_total,
        pages_done=job.pages_done,
        error=ErrorInfo(code=job.error_code or "failed", message=job.error_message or "")
        if job.status == "failed"
        else None,
        filename=job.filename,
        media_type=job.media_type,
        size=job.input_size,
        lang=job.lang,
        psm=job.psm,
        dpi=job.dpi,
        formats=formats,
        options=job.options or {},
        engine=job.engine_info,
        links=JobLinks(
            self=base,
            results={fmt: f"{base}/result.{fmt}" for fmt in formats},
            text=f"{base}/text",
            events=f"{base}/events",
        ),
    )
