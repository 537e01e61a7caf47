"""/v1/jobs: upload, status, list, delete and result downloads."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from ocr_client.options import MEDIA_TYPES, Format, JobOptions

from ocr_api import service
from ocr_api.auth import CurrentCaller, current_caller, jobs_in_flight_slot
from ocr_api.deps import ValidJob
from ocr_api.idempotency import submit_once
from ocr_api.presenters import JOBS_PATH, job_out, jobs_url, json_response
from ocr_api.schemas import DeliveryList, ErrorResponse, JobList, JobOut
from ocr_api.settings import get_api_settings
from ocr_telemetry.timing import timed
from storage import get_storage
from storage.objects.headers import content_disposition

router = APIRouter(prefix=JOBS_PATH, tags=["jobs"], dependencies=[Depends(current_caller)])
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorResponse} for c in (401, 404, 409, 410, 413, 415, 422, 429, 503)
}


@router.post("", status_code=202, response_model=JobOut, responses=ERRORS, summary="Upload a file for OCR")
async def create_job(
    request: Request,
    caller: CurrentCaller,
    file: Annotated[UploadFile, File(description="Image (PNG, JPEG, TIFF, WebP, BMP, GIF) or PDF")],
    options: Annotated[JobOptions, Form()],
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=255, description="A retry with the same key gets the same job"),
    ] = None,
) -> Response:
    base = jobs_url(request)

    def submit() -> JobOut:
        with jobs_in_flight_slot(caller):
            return job_out(service.submit_upload(file.file, file.filename, options, owner=caller.key_id), base)

    # In a thread (file I/O, then the wait for the group commit), at most OCR_UPLOAD_CONCURRENCY at once: the rest
    # wait their turn in order, instead of dozens of threads taking the GIL from each other.
    slots = request.app.state.upload_slots
    if idempotency_key is None:
        body = await anyio.to_thread.run_sync(submit, limiter=slots)
        return json_response(body, 202, {"Location": body.links.self})
    once = partial(
        submit_once,
        caller.idempotency_owner,
        idempotency_key,
        file.file,
        options,
        submit,
        ttl_hours=get_api_settings().idempotency_hours,
    )
    status, first = await anyio.to_thread.run_sync(once, limiter=slots)
    return JSONResponse(first, status, {"Location": first["links"]["self"]})


# Each read route answers HEAD too (FastAPI adds none): the headers of its GET, without the body.
@router.get("", response_model=JobList, responses=ERRORS, summary="List jobs, newest first")
@router.head("", include_in_schema=False)
def list_jobs(
    request: Request,
    caller: CurrentCaller,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> JobList:
    jobs, next_cursor = service.list_jobs(limit or get_api_settings().list_page_size, cursor, caller.list_owner)
    base = jobs_url(request)
    return JobList(jobs=[job_out(j, base) for j in jobs], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobOut, responses=ERRORS, summary="Job status")
@router.head("/{job_id}", include_in_schema=False)
async def get_job(job: ValidJob, request: Request) -> Response:  # no I/O here: the lookup is the dependency
    return json_response(job_out(job, jobs_url(request)))


@router.get(
    "/{job_id}/deliveries", response_model=DeliveryList, responses=ERRORS, summary="The webhook's delivery attempts"
)
@router.head("/{job_id}/deliveries", include_in_schema=False)
def list_deliveries(job: ValidJob) -> DeliveryList:
    return DeliveryList.model_validate({"deliveries": service.list_deliveries(job.id)})


@router.post("/{job_id}/cancel", response_model=JobOut, responses=ERRORS, summary="Cancel a queued or running job")
def cancel_job(job: ValidJob, request: Request) -> Response:
    return json_response(job_out(service.cancel_job(job.id), jobs_url(request)))


@router.delete(
    "/{job_id}", status_code=204, responses=ERRORS, summary="Delete a job and its files (cancelling it if it runs)"
)
def delete_job(job: ValidJob) -> Response:
    service.delete_job(job.id)
    return Response(status_code=204)


@router.get(
    "/{job_id}/result.{fmt}",
    responses={**ERRORS, 200: {"content": {m.split(";")[0]: {} for m in MEDIA_TYPES.values()}}},
    response_class=StreamingResponse,
    summary="Download a result file",
)
@router.head("/{job_id}/result.{fmt}", include_in_schema=False)
def get_result(job: ValidJob, fmt: Format, request: Request) -> Response:
    key = service.result_object_key(job, fmt)
    storage = get_storage()
    download_name = f"{(job.filename or 'document').rsplit('.', 1)[0]}.{fmt}"
    with timed("storage"):
        url = storage.presigned_url(key, filename=download_name, content_type=MEDIA_TYPES[fmt])
        if url:
            return RedirectResponse(url, status_code=307)
        size = storage.stat(key).size
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": content_disposition(download_name, inline=fmt != "pdf"),
    }
    if request.method == "HEAD":  # the headers only: the stored file is not read
        return Response(media_type=MEDIA_TYPES[fmt], headers=headers)
    return StreamingResponse(storage.iter_chunks(key), media_type=MEDIA_TYPES[fmt], headers=headers)
