"""An analyze's job as Document Intelligence's AnalyzeOperation: its status (notStarted, running, succeeded,
failed), when it was made and last changed, its error, and once it succeeded its analyzeResult."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ocr_client.options import page_numbers

from ocr_api.docintel.errors import OutputNotRequested
from ocr_api.docintel.result import analyze_result
from ocr_api.errors import JobNotFinished, JobNotFound
from ocr_api.service import require_files
from ocr_telemetry.timing import timed
from storage import get_storage
from storage.objects.keys import result_key
from storage.records.job_reads import JobRecord
from storage.records.models import JobStatus

# A client polls again after this many seconds (the SDKs wait 30 s when an answer names none).
RETRY_AFTER_S = 1
_STATUS = {
    JobStatus.QUEUED: "notStarted",
    JobStatus.RUNNING: "running",
    JobStatus.SUCCEEDED: "succeeded",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "failed",
}
# Job error codes that mean the document is at fault (workers/ocr/errors.py InputError)
_INPUT_ERRORS = frozenset(
    {"unreadable_input", "encrypted_pdf", "no_pages", "too_many_pages", "too_many_pixels", "pages_out_of_range"}
)


def analyze_record(job: JobRecord) -> dict[str, Any]:
    """The analyze's parameters; JobNotFound for a job that was not made by an analyze."""
    record = (job.options or {}).get("analyze")
    if not isinstance(record, dict):
        raise JobNotFound(f"no analyze operation with id '{job.id}' (a job made through /v1 has no analyzeResult)")
    return record


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(job: JobRecord) -> dict[str, Any]:
    if job.status == JobStatus.CANCELLED:
        return {"code": "OperationCanceled", "message": f"the job {job.id} was cancelled"}
    code = job.error_code or "InternalServerError"
    message = job.error_message or "the analysis failed"
    outer = "InvalidRequest" if code in _INPUT_ERRORS else "InternalServerError"
    return {"code": outer, "message": message, "innererror": {"code": code, "message": message}}


def operation(job: JobRecord, model_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The operation's body and headers (Retry-After while it runs). Blocking (reads result.json)."""
    record = analyze_record(job)
    status = _STATUS.get(job.status, "running")
    changed = job.finished_at or job.started_at or job.created_at
    body: dict[str, Any] = {
        "status": status,
        "createdDateTime": _timestamp(job.created_at),
        "lastUpdatedDateTime": _timestamp(changed),
    }
    if status == "failed":
        body["error"] = _error(job)
    if status == "succeeded":
        require_files(job)
        with timed("storage"):
            document = json.loads(get_storage().read_bytes(result_key(job.id, "json")))
        pages = (job.options or {}).get("pages")
        body["analyzeResult"] = analyze_result(
            document,
            model_id=model_id,
            record=record,
            page_numbers=page_numbers(pages) if isinstance(pages, str) else None,
            in_inches=job.media_type == "application/pdf",
        )
    headers = {} if status in ("succeeded", "failed") else {"Retry-After": str(RETRY_AFTER_S)}
    return body, headers


def pdf_key(job: JobRecord) -> str:
    """The stored searchable PDF of an analyze; typed errors while it is not there."""
    analyze_record(job)
    require_files(job)
    if "pdf" not in job.format_list:
        raise OutputNotRequested(f"the analyze {job.id} was not asked for a PDF: analyze with output=pdf")
    if job.status != JobStatus.SUCCEEDED:
        raise JobNotFinished(
            f"the analyze {job.id} is {_STATUS.get(job.status, job.status)}; its PDF is ready once it succeeded",
            {"status": job.status},
        )
    return result_key(job.id, "pdf")
