"""The API's service layer: what routes call. Raises typed errors, never HTTPException."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from ocr_client.options import FORMATS, JobOptions, page_numbers

from ocr_api.errors import (
    InvalidInput,
    JobAlreadyFinished,
    JobExpired,
    JobFailed,
    JobNotFinished,
    JobNotFound,
    ResultNotAvailable,
    UploadTooLarge,
)
from ocr_api.group_commit import get_group_commit
from ocr_api.metrics import UPLOAD_BYTES
from ocr_api.settings import get_api_settings
from ocr_api.uploads import clean_filename, sniff_media_type
from ocr_telemetry import context
from ocr_telemetry.timing import timed
from storage import get_storage
from storage.objects.keys import input_key, job_prefix, result_key
from storage.records import deliveries
from storage.records import jobs as repo
from storage.records.db import check_database, session_scope
from storage.records.job_reads import JobRecord, read_job
from storage.records.models import Job, JobStatus
from storage.settings import get_storage_settings
from webhooks import urls as webhooks
from workers import queue
from workers.job_end import job_ended
from workers.ocr.tesseract import SCRIPT_PREFIX, installed_languages, valid_lang_spec
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobRequest:
    """An upload's options checked, as the job's row records them."""

    lang: str
    psm: int | None
    dpi: int | None
    formats: list[str]
    # The switches given (a switch left out takes its default in the workers), `pages` and the PDF's lossy
    # optimisation when given; the Document Intelligence API adds its own parameters under "analyze"
    # (ocr_api/docintel/analyze.py).
    options: dict[str, Any]
    callback_url: str | None = None
    retain_hours: int | None = None

    @classmethod
    def checked(cls, options: JobOptions, default_lang: str, owner: str | None) -> JobRequest:
        """InvalidInput names the first field the service cannot take."""
        return cls(
            lang=validate_lang(options.lang or default_lang),
            psm=options.psm,
            dpi=options.dpi,
            formats=parse_formats(options.formats),
            options={**check_switches(options), **check_pages(options.pages), **pdf_image_options(options)},
            callback_url=check_callback_url(options.callback_url, owner=owner),
            retain_hours=check_retain_hours(options.retain_hours),
        )


def check_switches(options: JobOptions) -> dict[str, bool]:
    """The switches given; skip_text and redo_ocr say opposite things of a page that has text."""
    if options.skip_text and options.redo_ocr:
        raise InvalidInput(
            "skip_text and redo_ocr cannot both be on: skip_text keeps a PDF page's own text, redo_ocr replaces"
            " its invisible text with new OCR; choose one",
            {"fields": ["skip_text", "redo_ocr"]},
        )
    return options.switches()


def pdf_image_options(options: JobOptions) -> dict[str, int]:
    """The searchable PDF's lossy optimisation, as far as it was asked for (JobOptions checked the limits)."""
    asked = {"pdf_jpeg_quality": options.pdf_jpeg_quality, "pdf_image_dpi": options.pdf_image_dpi}
    return {name: value for name, value in asked.items() if value is not None}


def parse_formats(raw: str | None) -> list[str]:
    wanted = [f.strip().lower() for f in (raw or "txt").split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise InvalidInput(
            f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}",
            {"allowed": list(FORMATS)},
        )
    ordered = [f for f in FORMATS if f in wanted]
    return ordered or ["txt"]


_known_languages: frozenset[str] = frozenset()


def validate_lang(lang: str) -> str:
    global _known_languages
    parts = lang.split("+") if valid_lang_spec(lang) else [lang]
    # Languages seen installed are remembered: listing the tessdata directory cost 4 % of an upload. A name
    # not among them makes it look again, so a model installed while the API runs is accepted at once.
    if not _known_languages.issuperset(parts):
        _known_languages = frozenset(installed_languages())
    missing = [p for p in parts if p not in _known_languages]
    if missing or not valid_lang_spec(lang):
        installed = sorted(_known_languages)
        raise InvalidInput(
            f"language '{lang}' is not installed; installed: {', '.join(installed)} (join several with '+')",
            {"installed": installed},
        )
    return lang


def listed_languages() -> list[str]:
    """The installed models, each once: where a script model lies beside the languages (Debian's
    tesseract-ocr-script-* packages), `Fraktur` and `script/Fraktur` name the same file and only `Fraktur` is
    listed; both are accepted as `lang`. Upstream's layout (tessdata/script/) lists `script/Fraktur` alone."""
    names = installed_languages()
    present = set(names)
    return [n for n in names if not (n.startswith(SCRIPT_PREFIX) and n.removeprefix(SCRIPT_PREFIX) in present)]


def submit_upload(
    stream: BinaryIO,
    filename: str | None,
    options: JobOptions,
    *,
    owner: str | None = None,
    extra_options: dict[str, Any] | None = None,
) -> JobRecord:
    """POST /v1/jobs after form parsing: check the options, store the file, record and enqueue the job.
    `extra_options`: recorded with the job's options (an analyze's parameters, ocr_api/docintel/analyze.py)."""
    settings = get_api_settings()
    request = JobRequest.checked(options, settings.default_lang, owner)
    if extra_options:
        request = replace(request, options={**request.options, **extra_options})
    return submit_job(
        stream,
        filename,
        request,
        max_bytes=settings.max_upload_bytes,
        max_pixels=settings.max_pixels_per_page,
        owner=owner,
    )


def submit_job(
    stream: BinaryIO,
    filename: str | None,
    request: JobRequest,
    *,
    max_bytes: int,
    max_pixels: int,
    owner: str | None = None,
    batch_id: str | None = None,
) -> JobRecord:
    media_type = sniff_media_type(stream, max_pixels)
    job_id = str(uuid.uuid4())
    context.job_id.set(job_id)  # for this thread's log lines and the task message's headers
    storage = get_storage()
    with timed("storage"):
        stored = storage.save_stream(input_key(job_id), stream, media_type)
    if stored.size > max_bytes:
        storage.delete_prefix(job_prefix(job_id))
        raise UploadTooLarge(f"upload larger than the limit of {max_bytes // (1024 * 1024)} MiB (OCR_MAX_UPLOAD_MB)")
    job = Job(
        id=job_id,
        owner=owner,
        status=JobStatus.QUEUED,
        filename=clean_filename(filename),
        media_type=media_type,
        input_key=stored.key,
        input_size=stored.size,
        input_sha256=stored.sha256,
        lang=request.lang,
        psm=request.psm,
        dpi=request.dpi,
        formats=",".join(request.formats),
        options=request.options,
        callback_url=request.callback_url,
        retain_hours=request.retain_hours,
        batch_id=batch_id,
    )
    try:
        # The row committed and the message published (together with other uploads ready at the same time)
        # before this returns; where either fails, the row is gone again.
        get_group_commit().record_and_enqueue(job)
    except BaseException:
        # Nothing half-made stays behind: no file without a row.
        storage.delete_prefix(job_prefix(job_id))
        raise
    UPLOAD_BYTES.labels(media_type).observe(stored.size)
    log.info("job accepted", extra={"media_type": media_type, "size": stored.size, "lang": request.lang})
    return JobRecord.of(job)


_CURSOR = re.compile(r"[A-Za-z0-9_-]{1,200}")  # base64url of "<created_at>|<job id>" (storage/records/jobs.py)
# C0 and C1 controls (NUL, CR, LF, tab ...): never part of a URL the service stores and POSTs to.
_URL_JUNK = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INVALID_CURSOR = "invalid cursor; pass the next_cursor value of a previous page"


def check_cursor(cursor: str | None) -> None:
    """InvalidInput unless `cursor` is one this service could have issued (checked before any query)."""
    if not cursor:
        return
    if not _CURSOR.fullmatch(cursor):
        raise InvalidInput(_INVALID_CURSOR)
    try:
        _, job_id = repo.decode_cursor(cursor)
        uuid.UUID(job_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(_INVALID_CURSOR) from exc


def list_jobs(limit: int, cursor: str | None, owner: str | None = None) -> tuple[list[JobRecord], str | None]:
    """A page of jobs, newest first: only those of `owner`, or every job when it is None."""
    check_cursor(cursor)
    try:
        with session_scope() as session:
            jobs, next_cursor = repo.list_jobs(session, limit, cursor, owner=owner)
            return [JobRecord.of(j) for j in jobs], next_cursor
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(_INVALID_CURSOR) from exc


def cancel_job(job_id: str) -> JobRecord:
    """Stop a queued or running job: its pages stop (the one being recognized is killed), it ends cancelled."""
    with session_scope() as session:
        outcome = repo.cancel_job(session, job_id)
    if outcome.status is None:
        raise JobNotFound(f"no job with id '{job_id}'")
    if not outcome.cancelled:
        raise JobAlreadyFinished(
            f"job {job_id} is {outcome.status} already; only queued or running jobs can be cancelled",
            {"status": outcome.status},
        )
    queue.stop_tasks(outcome.running_tasks)
    job = read_job(job_id)
    if job is None:  # deleted meanwhile
        raise JobNotFound(f"no job with id '{job_id}'")
    job_ended(job)
    return job


def delete_job(job_id: str) -> None:
    """Delete a job and its files; a job still queued or running is cancelled first (its pages stopped)."""
    with session_scope() as session:
        outcome = repo.cancel_job(session, job_id)
        if not repo.delete_job(session, job_id):
            raise JobNotFound(f"no job with id '{job_id}'")
    queue.stop_tasks(outcome.running_tasks)
    get_storage().delete_prefix(job_prefix(job_id))


def check_callback_url(url: str | None, owner: str | None) -> str | None:
    """A callback_url the service may POST to (None when none was given); InvalidInput says why not.
    `owner`: the uploading API key's id, whose secret signs the webhooks; keyless jobs need OCR_WEBHOOK_SECRET."""
    if not url:
        return None
    if _URL_JUNK.search(url):
        raise InvalidInput(
            "callback_url must not hold control characters (percent-encode them)", {"field": "callback_url"}
        )
    settings = get_worker_settings()
    if owner is None and not settings.webhook_secret:
        raise InvalidInput(
            "callback_url needs a secret to sign the webhook: upload with an API key (its own secret signs it), "
            "or set OCR_WEBHOOK_SECRET on the server"
        )
    try:
        webhooks.check_callback(url, settings.webhook_allow_private)
    except webhooks.CallbackRefused as exc:
        raise InvalidInput(str(exc), {"field": "callback_url"}) from exc
    return url


def check_pages(pages: str | None) -> dict[str, str]:
    """The job's `pages` option (nothing when every page is read); InvalidInput beyond OCR_MAX_PAGES pages."""
    if not pages:
        return {}
    limit = get_worker_settings().max_pages
    if len(page_numbers(pages)) > limit:
        raise InvalidInput(f"pages names more than {limit} pages (OCR_MAX_PAGES)", {"field": "pages", "maximum": limit})
    return {"pages": pages}


def check_retain_hours(hours: int | None) -> int | None:
    limit = get_storage_settings().retention_hours
    if hours is not None and hours > limit:
        raise InvalidInput(
            f"retain_hours may be at most {limit} (OCR_RETENTION_HOURS)", {"field": "retain_hours", "maximum": limit}
        )
    return hours


def require_files(job: JobRecord) -> None:
    """Raise JobExpired when the retention sweep has deleted the job's files."""
    if job.expired_at is not None:
        at = job.expired_at.isoformat()
        raise JobExpired(f"job {job.id}'s input and results were deleted: it expired at {at}", {"expired_at": at})


def list_deliveries(job_id: str) -> list[dict[str, Any]]:
    """The job's webhook attempts, first to last, as GET /v1/jobs/{id}/deliveries lists them."""
    with session_scope() as session:
        return [{name: getattr(d, name) for name in DELIVERY_FIELDS} for d in deliveries.attempts(session, job_id)]


DELIVERY_FIELDS = ("attempt", "url", "status_code", "error", "duration_ms", "created_at", "next_attempt_at")


def result_object_key(job: JobRecord, fmt: str) -> str:
    require_files(job)
    if job.status == JobStatus.FAILED:
        raise JobFailed(
            f"job {job.id} failed, so it has no results: {job.error_message}",
            {"status": job.status, "error": {"code": job.error_code, "message": job.error_message}},
        )
    if job.status != JobStatus.SUCCEEDED:
        raise JobNotFinished(
            f"job {job.id} is {job.status}; results are ready when status is 'succeeded'",
            {"status": job.status, "pages_done": job.pages_done, "pages_total": job.pages_total},
        )
    if fmt != "txt" and fmt not in job.format_list:
        raise ResultNotAvailable(
            f"format '{fmt}' was not requested for this job; upload again with formats={fmt}",
            {"formats": job.format_list},
        )
    return result_key(job.id, fmt)


def readiness() -> dict[str, str]:
    """Each dependency "ok" or why not; "workers" (some worker consumes the job queue: a fresh heartbeat on
    Redis, a consumer on RabbitMQ) unless OCR_READY_REQUIRES_WORKERS=false."""
    probes: list[tuple[str, Any]] = [
        ("database", check_database),
        ("broker", queue.check_broker),
        ("storage", lambda: get_storage().check()),
    ]
    if get_api_settings().ready_requires_workers:
        probes.append(("workers", queue.check_workers))
    checks: dict[str, str] = {}
    for name, probe in probes:
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"unavailable: {exc}"
    return checks
