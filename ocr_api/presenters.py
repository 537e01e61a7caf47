"""Turn job records into response bodies."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import BaseModel

from ocr_api.schemas import ErrorInfo, JobLinks, JobOut
from storage.job_reads import JobRecord

JOBS_PATH = "/v1/jobs"  # the jobs router's prefix: links are built from it rather than looked up per request


def jobs_url(request: Request) -> str:
    """Absolute URL of the job collection as this client reached it (scheme, host, root path)."""
    return f"{str(request.base_url).rstrip('/')}{JOBS_PATH}"


def job_out(job: JobRecord, jobs_base: str) -> JobOut:
    base = f"{jobs_base}/{job.id}"
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


def json_response(body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The model serialized once, by pydantic. A route returning this skips FastAPI's second validation and
    serialization against its response_model (which stays on the route for the OpenAPI document)."""
    return Response(body.model_dump_json(), status_code, headers, media_type="application/json")
