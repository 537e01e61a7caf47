"""Turn job records into response bodies."""

from __future__ import annotations

from fastapi import Request, Response
from pydantic import BaseModel

from ocr_api.batches import BatchRecord
from ocr_api.schemas import BatchLinks, BatchOut, JobOut
from storage.records.job_reads import JobRecord
from storage.records.job_view import job_status

JOBS_PATH = "/v1/jobs"  # the jobs router's prefix: links are built from it rather than looked up per request
BATCHES_PATH = "/v1/batches"


def jobs_url(request: Request) -> str:
    """Absolute URL of the job collection as this client reached it (scheme, host, root path)."""
    return f"{str(request.base_url).rstrip('/')}{JOBS_PATH}"


def job_out(job: JobRecord, jobs_base: str) -> JobOut:
    return JobOut.model_validate(job_status(job, jobs_base))


def json_response(body: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The model serialized once, by pydantic. A route returning this skips FastAPI's second validation and
    serialization against its response_model (which stays on the route for the OpenAPI document)."""
    return Response(body.model_dump_json(), status_code, headers, media_type="application/json")


def batch_out(batch: BatchRecord, request: Request) -> BatchOut:
    base = f"{str(request.base_url).rstrip('/')}{BATCHES_PATH}/{batch.id}"
    jobs_base = jobs_url(request)
    return BatchOut(
        id=batch.id,
        status=batch.status,
        created_at=batch.created_at,
        files=len(batch.jobs),
        counts=batch.counts,
        jobs=[job_out(job, jobs_base) for job in batch.jobs],
        links=BatchLinks(self=base, results=f"{base}/results.zip", cancel=f"{base}/cancel"),
    )
