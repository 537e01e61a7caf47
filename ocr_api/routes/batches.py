"""/v1/batches: several files uploaded as one batch (or existing jobs grouped), its progress, one zip of its
results, cancel and delete. The service layer is ocr_api/batches.py, the archive ocr_api/batch_results.py."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from ocr_client.options import JobOptions

from ocr_api import batches
from ocr_api.auth import CurrentCaller, current_caller, jobs_in_flight_slot
from ocr_api.batch_results import archive_name, zip_chunks
from ocr_api.deps import ValidBatch
from ocr_api.presenters import BATCHES_PATH, batch_out, json_response
from ocr_api.schemas import BatchOfJobs, BatchOut, ErrorResponse
from storage.objects.headers import content_disposition

router = APIRouter(prefix=BATCHES_PATH, tags=["batches"], dependencies=[Depends(current_caller)])
ERRORS: dict[int | str, dict[str, Any]] = {
    c: {"model": ErrorResponse} for c in (401, 404, 409, 413, 415, 422, 429, 503)
}


@router.post(
    "", status_code=202, response_model=BatchOut, responses=ERRORS, summary="Upload several files as one batch"
)
async def create_batch(
    request: Request,
    caller: CurrentCaller,
    file: Annotated[
        list[UploadFile],
        File(description="The files, one `file` part each (images or PDFs); at most OCR_MAX_BATCH_FILES"),
    ],
    options: Annotated[JobOptions, Form()],
) -> Response:
    """Each file becomes a job with these options, as `POST /v1/jobs` makes one, and counts as one upload for
    the key's rate and jobs-in-flight limits. All or nothing: a file the service cannot take (type, size,
    pixels) refuses the whole batch, naming the file (`details.file`, its position from 1)."""
    # Each file beyond the request itself counts toward the key's requests per minute, as its own upload would.
    await request.app.state.access.charge(caller, len(file) - 1)
    uploads = [(part.file, part.filename) for part in file]

    def submit() -> BatchOut:
        with jobs_in_flight_slot(caller, len(uploads)):
            return batch_out(batches.submit_batch(uploads, options, caller.key_id), request)

    body = await anyio.to_thread.run_sync(submit, limiter=request.app.state.upload_slots)
    return json_response(body, 202, {"Location": body.links.self})


@router.post(
    "/from-jobs", status_code=201, response_model=BatchOut, responses=ERRORS, summary="Group existing jobs as a batch"
)
def group_jobs(request: Request, caller: CurrentCaller, body: BatchOfJobs) -> Response:
    """The jobs (yours, in no batch yet: `409 job_in_batch` otherwise) become one batch, followed and downloaded
    together; the browser form groups the files it uploaded together so."""
    batch = batch_out(batches.group_jobs(body.jobs, caller.key_id, caller.sees), request)
    return json_response(batch, 201, {"Location": batch.links.self})


# Each read route answers HEAD too (FastAPI adds none).
@router.get("/{batch_id}", response_model=BatchOut, responses=ERRORS, summary="Batch progress and its jobs")
@router.head("/{batch_id}", include_in_schema=False)
def get_batch(batch: ValidBatch, request: Request) -> Response:
    return json_response(batch_out(batch, request))


@router.get(
    "/{batch_id}/results.zip",
    responses={**ERRORS, 200: {"content": {"application/zip": {}}}},
    response_class=StreamingResponse,
    summary="Every result of the batch in one zip archive, streamed",
)
@router.head("/{batch_id}/results.zip", include_in_schema=False)
def get_results(batch: ValidBatch, request: Request) -> Response:
    """Once every job has ended (`409 batch_not_finished` before): each file's results under its own name, and
    manifest.json listing every file, its entries, and the error of each that failed."""
    batches.require_finished(batch)
    headers = {"Content-Disposition": content_disposition(archive_name(batch), inline=False)}
    if request.method == "HEAD":
        return Response(media_type="application/zip", headers=headers)
    return StreamingResponse(zip_chunks(batch), media_type="application/zip", headers=headers)


@router.post("/{batch_id}/cancel", response_model=BatchOut, responses=ERRORS, summary="Cancel the batch's jobs")
def cancel_batch(batch: ValidBatch, request: Request) -> Response:
    return json_response(batch_out(batches.cancel_batch(batch), request))


@router.delete("/{batch_id}", status_code=204, responses=ERRORS, summary="Delete the batch, its jobs and their files")
def delete_batch(batch: ValidBatch) -> Response:
    batches.delete_batch(batch)
    return Response(status_code=204)
