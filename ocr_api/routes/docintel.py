"""The Azure AI Document Intelligence "read" API (REST 2024-11-30), beside /v1: analyze a document, poll the
operation, download its searchable PDF, delete it. Each analyze is a job like any other (same keys, limits,
storage and retention); ocr_api/docintel/ turns requests and results into that API's shapes, and its errors
answer in that API's error shape (ocr_api/errors.py). docs/integrations.md describes what is supported.

Left out of /openapi.json on purpose: Microsoft publishes this API's own OpenAPI document (the REST reference
its SDKs are made from), and its requests (a raw body of any type, base64 in JSON) are checked here by hand.
"""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from ocr_client.options import MEDIA_TYPES, JobOptions

from ocr_api import service
from ocr_api.auth import CurrentCaller, current_caller, jobs_in_flight_slot
from ocr_api.deps import ValidJob
from ocr_api.docintel import analyze, operation
from ocr_api.settings import get_api_settings
from ocr_telemetry.timing import timed
from storage import get_storage
from storage.records.job_reads import JobRecord

PREFIX = "/documentintelligence"
router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(current_caller)])
ModelId = Annotated[str, Path(max_length=64)]


@router.post("/documentModels/{model_id}:analyze", status_code=202)
async def analyze_document(model_id: str, request: Request, caller: CurrentCaller) -> Response:
    params = analyze.check_params(model_id, request.query_params)
    document = await analyze.read_document(request, get_api_settings())
    given = {"lang": params.lang, "formats": params.formats, "pages": params.pages}
    options = JobOptions.model_validate({name: value for name, value in given.items() if value is not None})

    def submit() -> JobRecord:
        with document, jobs_in_flight_slot(caller):
            extra = {"analyze": params.record()}
            return service.submit_upload(document, None, options, owner=caller.key_id, extra_options=extra)

    job = await anyio.to_thread.run_sync(submit, limiter=request.app.state.upload_slots)
    base = str(request.base_url).rstrip("/")
    location = f"{base}{PREFIX}/documentModels/{model_id}/analyzeResults/{job.id}?api-version={params.api_version}"
    retry = str(operation.RETRY_AFTER_S)
    return Response(status_code=202, headers={"Operation-Location": location, "Retry-After": retry})


@router.get("/documentModels/{model_id}/analyzeResults/{job_id}")
def get_analyze_result(model_id: ModelId, job: ValidJob, request: Request) -> Response:
    analyze.check_model(model_id)
    analyze.check_api_version(request.query_params.get("api-version"))
    body, headers = operation.operation(job, model_id)
    return JSONResponse(body, headers=headers)


@router.get("/documentModels/{model_id}/analyzeResults/{job_id}/pdf")
def get_analyze_result_pdf(model_id: ModelId, job: ValidJob, request: Request) -> Response:
    analyze.check_model(model_id)
    analyze.check_api_version(request.query_params.get("api-version"))
    key = operation.pdf_key(job)
    storage = get_storage()
    with timed("storage"):
        size = storage.stat(key).size
    headers = {"Content-Length": str(size)}
    return StreamingResponse(storage.iter_chunks(key), media_type=MEDIA_TYPES["pdf"], headers=headers)


@router.delete("/documentModels/{model_id}/analyzeResults/{job_id}", status_code=204)
def delete_analyze_result(model_id: ModelId, job: ValidJob, request: Request) -> Response:
    analyze.check_model(model_id)
    analyze.check_api_version(request.query_params.get("api-version"))
    operation.analyze_record(job)
    service.delete_job(job.id)
    return Response(status_code=204)
