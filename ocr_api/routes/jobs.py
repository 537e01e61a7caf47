"""/v1/jobs: upload, status, list, delete and result downloads."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from ocr_client.options import MEDIA_TYPES

from ocr_api import service
from ocr_api.auth import CurrentCaller, check_jobs_in_flight, current_caller
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
Format = Literal["txt", "hocr", "alto", "tsv", "json", "pdf"]


@router.post("", status_code=202, response_model=JobOut, responses=ERRORS, summary="Upload a file for OCR")
async def create_job(
    request: Request,
    caller: CurrentCaller,
    file: Annotated[UploadFile, File(description="Image (PNG, JPEG, TIFF, WebP, BMP, GIF) or PDF")],
    lang: Annotated[str | None, Form(description="Tesseract languages joined by '+', e.g. eng+deu")] = None,
    psm: Annotated[int | None, Form(ge=0, le=13, description="Tesseract page segmentation mode")] = None,
    dpi: Annotated[int | None, Form(ge=50, le=2400, description="Resolution override")] = None,
    formats: Annotated[str | None, Form(description="Comma-separated: txt,hocr,alto,tsv,json,pdf")] = None,
    normalize: Annotated[
        bool | None, Form(description="Scale small text up and give small crops a white border")
    ] = None,
    orient: Annotated[bool | None, Form(description="Detect page orientation (OSD) and rotate")] = None,
    deskew: Annotated[bool | None, Form(description="Straighten skewed scans")] = None,
    retry: Annotated[bool | None, Form(description="Retry empty or low-confidence pages with other settings")] = None,
    auto_model: Annotated[
        bool | None, Form(description="Read German pages that read poorly with the Fraktur model (frk) too")
    ] = None,
    skip_text: Annotated[bool | None, Form(description="Reuse a PDF page's existing text layer")] = None,
    callback_url: Annotated[
        str | None, Form(description="POST the job's status here, signed, when it ends (README: Webhooks)")
    ] = None,
    retain_hours: Annotated[
        int | None, Form(ge=0, description="Delete the input and results this many hours after the job ends")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", max_length=255, description="A retry with the same key gets the same job"),
    ] = None,
) -> Response:
    switches = {
        "normalize": normalize,
        "orient": orient,
        "deskew": deskew,
        "retry": retry,
        "auto_model": auto_model,
        "skip_text": skip_text,
    }
    options = {name: value for name, value in switches.items() if value is not None}
    base = jobs_url(request)

    def submit() -> JobOut:
        check_jobs_in_flight(caller)
        job = service.submit_upload(
            file.file,
            file.filename,
            lang=lang,
            psm=psm,
            dpi=dpi,
            formats=formats,
            options=options,
            callback_url=callback_url,
            retain_hours=retain_hours,
            owner=caller.key_id,
        )
        return job_out(job, base)

    # In a thread (file I/O, then the wait for the group commit), at most OCR_UPLOAD_CONCURRENCY at once: the rest
    # wait their turn in order, instead of dozens of threads taking the GIL from each other.
    slots = request.app.state.upload_slots
    if idempotency_key is None:
        body = await anyio.to_thread.run_sync(submit, limiter=slots)
        return json_response(body, 202, {"Location": body.links.self})
    fields = {
        "lang": lang,
        "psm": psm,
        "dpi": dpi,
        "formats": formats,
        "options": options,
        "callback_url": callback_url,
        "retain_hours": retain_hours,
    }
    once = partial(
        submit_once,
        caller.idempotency_owner,
        idempotency_key,
        file.file,
        fields,
        submit,
        ttl_hours=get_api_settings().idempotency_hours,
    )
    status, first = await anyio.to_thread.run_sync(once, limiter=slots)
    return JSONResponse(first, status, {"Location": first["links"]["self"]})


@router.get("", response_model=JobList, responses=ERRORS, summary="List jobs, newest first")
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
async def get_job(job: ValidJob, request: Request) -> Response:  # no I/O here: the lookup is the dependency
    return json_response(job_out(job, jobs_url(request)))


@router.get(
    "/{job_id}/deliveries", response_model=DeliveryList, responses=ERRORS, summary="The webhook's delivery attempts"
)
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
def get_result(job: ValidJob, fmt: Format) -> Response:
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
    return StreamingResponse(storage.iter_chunks(key), media_type=MEDIA_TYPES[fmt], headers=headers)
