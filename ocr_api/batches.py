"""The service layer of /v1/batches: several uploads made (or existing jobs grouped) as one batch, followed and
downloaded together. Typed errors, never HTTPException; all SQL in storage/records/batches.py.

A batch's jobs are ordinary jobs (the same limits, tenancy, retention, cancel and results as any), each naming
its batch. Uploads are all-or-nothing: every file is checked (type, size, pixels) before any is stored, and a
failure while storing removes what the batch had stored, so a refused batch leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from ocr_client.options import JobOptions

from ocr_api.errors import (
    ApiError,
    BatchFinished,
    BatchNotFinished,
    BatchNotFound,
    InvalidInput,
    JobInBatch,
    JobNotFound,
    UploadTooLarge,
)
from ocr_api.service import JobRequest, cancel_job, delete_job, submit_job
from ocr_api.settings import get_api_settings
from ocr_api.uploads import sniff_media_type
from storage.records import batches as repo
from storage.records.db import session_scope
from storage.records.job_reads import JobRecord
from storage.records.models import JobStatus

STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class BatchRecord:
    id: str
    owner: str | None
    created_at: datetime
    jobs: list[JobRecord]

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(job.status for job in self.jobs)
        return {status: found.get(status, 0) for status in STATUSES}

    @property
    def status(self) -> str:
        """queued (no job has started), running (some job is queued or running), or finished."""
        counts = self.counts
        if counts[JobStatus.QUEUED] == len(self.jobs) and self.jobs:
            return "queued"
        return "running" if counts[JobStatus.QUEUED] + counts[JobStatus.RUNNING] else "finished"


Upload = tuple[BinaryIO, str | None]  # a file part's stream and the name the client gave it


def read_batch(batch_id: str) -> BatchRecord | None:
    with session_scope() as session:
        batch = repo.get_batch(session, batch_id)
        if batch is None:
            return None
        jobs = [JobRecord.of(job) for job in repo.batch_jobs(session, batch_id)]
        return BatchRecord(batch.id, batch.owner, batch.created_at, jobs)


def submit_batch(uploads: Sequence[Upload], options: JobOptions, owner: str | None) -> BatchRecord:
    """POST /v1/batches after form parsing: every file checked, then stored and recorded as a job of the batch."""
    settings = get_api_settings()
    if not uploads:
        raise InvalidInput("a batch needs at least one `file` part")
    if len(uploads) > settings.max_batch_files:
        raise InvalidInput(
            f"a batch holds at most {settings.max_batch_files} files (OCR_MAX_BATCH_FILES); this one has "
            f"{len(uploads)}: send them as several batches",
            {"files": len(uploads), "maximum": settings.max_batch_files},
        )
    request = JobRequest.checked(options, settings.default_lang, owner)
    for index, (stream, filename) in enumerate(uploads):
        try:
            check_size(stream, settings.max_upload_bytes)
            sniff_media_type(stream, settings.max_pixels_per_page)
        except ApiError as exc:  # the same error, naming the file: nothing of the batch is stored
            raise type(exc)(
                f"file {index + 1} ({filename or 'unnamed'}): {exc.message}",
                {"file": index + 1, "filename": filename, "error": exc.details},
                exc.headers,
            ) from exc
    batch_id = str(uuid.uuid4())
    with session_scope() as session:
        repo.add_batch(session, batch_id, owner)
    made: list[str] = []
    try:
        for stream, filename in uploads:
            job = submit_job(
                stream, filename, request, max_bytes=settings.max_upload_bytes,
                max_pixels=settings.max_pixels_per_page, owner=owner, batch_id=batch_id,
            )  # fmt: skip
            made.append(job.id)
    except BaseException:
        remove(batch_id, made)
        raise
    return _read_made(batch_id)


def check_size(stream: BinaryIO, max_bytes: int) -> None:
    """Each file of a batch within OCR_MAX_UPLOAD_MB, as a single upload must be (the parsed part's size)."""
    size = stream.seek(0, 2)
    stream.seek(0)
    if size > max_bytes:
        raise UploadTooLarge(f"larger than the limit of {max_bytes // (1024 * 1024)} MiB (OCR_MAX_UPLOAD_MB)")


def group_jobs(job_ids: Sequence[str], owner: str | None, sees: Callable[[str | None], bool]) -> BatchRecord:
    """A batch of existing jobs (the browser form's uploads of one go): each must be one the caller sees (`sees`
    takes a job's owner) and in no batch yet. Another key's job is answered as a missing one."""
    wanted = list(dict.fromkeys(job_ids))
    if not wanted:
        raise InvalidInput("name at least one job in `jobs`")
    if len(wanted) > get_api_settings().max_batch_files:
        raise InvalidInput(f"a batch holds at most {get_api_settings().max_batch_files} jobs (OCR_MAX_BATCH_FILES)")
    batch_id = str(uuid.uuid4())
    with session_scope() as session:
        found = {job.id: job for job in repo.jobs_to_group(session, wanted)}
        missing = [j for j in wanted if j not in found or not sees(found[j].owner)]
        if missing:
            raise JobNotFound(f"no job with id '{missing[0]}'", {"jobs": missing})
        taken = [j for j in wanted if found[j].batch_id is not None]
        if taken:
            raise JobInBatch(f"job {taken[0]} belongs to a batch already", {"jobs": taken})
        repo.add_batch(session, batch_id, owner)
        if repo.assign_jobs(session, batch_id, wanted) != len(wanted):
            raise JobInBatch("another request put some of these jobs in a batch meanwhile; try again")
    return _read_made(batch_id)


def _read_made(batch_id: str) -> BatchRecord:
    batch = read_batch(batch_id)
    if batch is None:  # deleted by another request already
        raise BatchNotFound(f"no batch with id '{batch_id}'")
    return batch


def remove(batch_id: str, job_ids: Sequence[str]) -> None:
    """The batch and these jobs gone, with their files (a job still queued or running is cancelled first)."""
    for job_id in job_ids:
        try:
            delete_job(job_id)
        except ApiError:  # gone already
            continue
    with session_scope() as session:
        repo.delete_batch(session, batch_id)


def cancel_batch(batch: BatchRecord) -> BatchRecord:
    """Every queued or running job of the batch cancelled; BatchFinished when none was."""
    live = [job.id for job in batch.jobs if job.status in JobStatus.LIVE]
    cancelled = 0
    for job_id in live:
        try:
            cancel_job(job_id)
            cancelled += 1
        except ApiError:  # it ended (or went) meanwhile
            continue
    if not cancelled:
        raise BatchFinished(f"batch {batch.id} has no queued or running job left to cancel", {"counts": batch.counts})
    return _read_made(batch.id)


def delete_batch(batch: BatchRecord) -> None:
    remove(batch.id, [job.id for job in batch.jobs])


def require_finished(batch: BatchRecord) -> None:
    if batch.status != "finished":
        raise BatchNotFinished(
            f"batch {batch.id} is {batch.status}; its results.zip is ready when every job has ended",
            {"status": batch.status, "counts": batch.counts},
        )
