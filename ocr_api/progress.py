"""What the streaming endpoints read while a job runs: its progress, finished pages' text and its event log.

Plain blocking functions (database and storage calls); the routes run them in the thread pool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocr_client.options import PAGE_SEPARATOR

from storage import ObjectNotFound, get_storage
from storage.objects.keys import page_key, result_key
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.models import JobStatus, utcnow
from workers.ocr.outputs.txt import page_in_document

EVENT_BATCH = 200
DELETED = ("job_deleted", "the job was deleted while this stream was open")


@dataclass(frozen=True)
class Progress:
    status: str
    done_pages: list[int]
    error_code: str | None
    error_message: str | None


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]
    created_at: datetime

    @property
    def terminal(self) -> bool:
        return self.type == "status" and self.data.get("status") in JobStatus.FINISHED


def job_progress(job_id: str) -> Progress | None:
    """The job's status and finished pages, None once it is deleted.

    The status is read first: a job seen finished has all its pages in the list that follows.
    """
    with session_scope() as session:
        job = repo.get_job(session, job_id)
        if job is None:
            return None
        status, code, message = job.status, job.error_code, job.error_message
        return Progress(status, repo.done_pages(session, job_id), code, message)


def page_text(job_id: str, page_no: int) -> str:
    """A finished page's text as result.txt holds it (workers/ocr/outputs/txt.py), separator first after page 1."""
    try:
        text = str(json.loads(get_storage().read_bytes(page_key(job_id, page_no)))["text"])
    except ObjectNotFound:
        if page_no != 1:
            raise
        # A one-page job keeps no page output (workers/steps.py): its page is done with the job, and its
        # result.txt is that page's text.
        return get_storage().read_bytes(result_key(job_id, "txt")).decode("utf-8")
    return page_in_document(text, page_no)


def events_after(job_id: str, after_id: int) -> tuple[str | None, list[Event]]:
    """The job's status (None once deleted) and its events numbered above `after_id`, oldest first, at most
    EVENT_BATCH. The status is read first: a job seen finished has its last event in the list.

    Ids never arrive out of order: every event is written in the transaction that updated its job's row,
    so the row lock orders one job's events by commit as well as by id, and a resume misses none.
    """
    with session_scope() as session:
        job = repo.get_job(session, job_id)
        if job is None:
            return None, []
        status = job.status
        rows = repo.events_after(session, job_id, after_id, limit=EVENT_BATCH)
        return status, [Event(e.id, e.type, dict(e.data or {}), e.created_at) for e in rows]


# How the streams end when their job is deleted while they are open (docs/formats.md): with a line or an event
# that says so, never as if the job had finished.


def deleted_text(next_page: int) -> bytes:
    """The text stream's last line once its job is gone: like a failure's, after a form feed if pages were sent."""
    separator = PAGE_SEPARATOR if next_page > 1 else ""
    return f"{separator}ERROR {DELETED[0]}: {DELETED[1]}\n".encode()


def files_gone_text(job_id: str, next_page: int) -> bytes:
    """The text stream's last line when a page's stored text is missing: deleted with its job, or expired."""
    if job_progress(job_id) is None:
        return deleted_text(next_page)
    separator = PAGE_SEPARATOR if next_page > 1 else ""
    return f"{separator}ERROR result_not_available: the job's stored text is gone\n".encode()


def deleted_event() -> str:
    """The event stream's last message once its job is gone: an `error` event without an id (nothing to resume)."""
    data = {"code": DELETED[0], "message": DELETED[1], "at": utcnow().isoformat()}
    return f"event: error\ndata: {json.dumps(data)}\n\n"
