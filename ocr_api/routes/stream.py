"""/v1/jobs/{id}/text and /v1/jobs/{id}/events: results and progress while the job runs.

Both poll the job records every POLL_INTERVAL_S; every database and storage call runs in the thread pool,
so an open stream costs the event loop nothing while it waits. docs/formats.md describes both streams.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from ocr_client.options import PAGE_SEPARATOR
from starlette.concurrency import run_in_threadpool

from ocr_api import progress
from ocr_api.auth import CurrentCaller, KeyRecheck, current_caller
from ocr_api.deps import ValidJob
from ocr_api.errors import JobNotFinished
from ocr_api.limits import StreamSlots
from ocr_api.schemas import ErrorResponse
from ocr_api.service import require_files
from storage import ObjectNotFound
from storage.records.models import JobStatus

router = APIRouter(prefix="/v1/jobs", tags=["jobs"], dependencies=[Depends(current_caller)])
POLL_INTERVAL_S = 0.3
# Event ids are INTEGER (32 bits on PostgreSQL): a Last-Event-ID above the largest one resumes after every event
# there can be, instead of overflowing the query (a 500 after the stream's 200).
MAX_EVENT_ID = 2**31 - 1
KEEPALIVE_S = 15.0
RECONNECT_MS = 2000  # the SSE `retry:` a client waits before reconnecting
KEY_RECHECK_S = 2.0  # an open stream asks this often whether its key was revoked (plus OCR_KEY_CACHE_S)
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering either
ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": ErrorResponse} for c in (401, 404, 409, 410, 422, 429)}


@router.get(
    "/{job_id}/text",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/plain": {}}}},
    summary="Stream the text page by page while the job runs",
)
async def stream_text(job: ValidJob, caller: CurrentCaller, request: Request) -> StreamingResponse:
    """Each page's text as soon as it and every page before it are done, pages separated by form feeds,
    exactly as result.txt. If the job fails or is cancelled meanwhile, the stream ends with a form feed and one
    line `ERROR <code>: <message>`."""
    require_files(job)
    if job.status == JobStatus.FAILED:
        raise JobNotFinished(
            f"job {job.id} failed: {job.error_message}", {"status": job.status, "error_code": job.error_code}
        )
    if job.status == JobStatus.CANCELLED:
        raise JobNotFinished(f"job {job.id} was cancelled", {"status": job.status})
    chunks = _held(request, caller, _text_chunks(job.id, _recheck(request)))
    return StreamingResponse(chunks, media_type="text/plain; charset=utf-8", headers=STREAM_HEADERS)


def _recheck(request: Request) -> KeyRecheck:
    return KeyRecheck(request.app.state.access, request.headers, KEY_RECHECK_S)


def _held(request: Request, caller: CurrentCaller, stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """The stream, counted against the caller's OCR_MAX_STREAMS_PER_KEY (429 when none is free)."""
    slots: StreamSlots = request.app.state.stream_slots
    return slots.hold(caller, stream)


async def _text_chunks(job_id: str, key: KeyRecheck) -> AsyncIterator[bytes]:
    # An empty first chunk makes the gzip middleware send the headers now rather than with the first page.
    yield b""
    next_page = 1
    while True:
        state = await run_in_threadpool(progress.job_progress, job_id)
        if state is None:  # deleted meanwhile
            yield progress.deleted_text(next_page)
            return
        for page_no in state.done_pages:
            if page_no != next_page:
                if page_no > next_page:
                    break
                continue
            try:
                text = await run_in_threadpool(progress.page_text, job_id, page_no)
            except ObjectNotFound:  # deleted (or expired) meanwhile
                yield await run_in_threadpool(progress.files_gone_text, job_id, next_page)
                return
            yield text.encode("utf-8")
            next_page += 1
        if state.status == JobStatus.FAILED:
            separator = PAGE_SEPARATOR if next_page > 1 else ""
            yield f"{separator}ERROR {state.error_code}: {state.error_message}\n".encode()
            return
        if state.status == JobStatus.CANCELLED:
            separator = PAGE_SEPARATOR if next_page > 1 else ""
            yield f"{separator}ERROR cancelled: the job was cancelled\n".encode()
            return
        if state.status == JobStatus.SUCCEEDED or not await key.still_valid():  # done, or the key was revoked
            return
        await anyio.sleep(POLL_INTERVAL_S)


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}},
    summary="Server-Sent Events: status changes and pages done",
)
async def stream_events(
    job: ValidJob,
    caller: CurrentCaller,
    request: Request,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, description="Resume after this event id")
    ] = None,
) -> StreamingResponse:
    """Every event of the job after Last-Event-ID (from the start without it), then new ones as they happen;
    the stream ends after the event that says the job succeeded or failed."""
    require_files(job)
    messages = _held(request, caller, _event_messages(job.id, min(last_event_id or 0, MAX_EVENT_ID), _recheck(request)))
    return StreamingResponse(messages, media_type="text/event-stream", headers=STREAM_HEADERS)


def format_event(event: progress.Event) -> str:
    data = {**event.data, "at": event.created_at.isoformat()}
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def _event_messages(job_id: str, after_id: int, key: KeyRecheck) -> AsyncIterator[str]:
    yield f"retry: {RECONNECT_MS}\n\n"
    last_sent = time.monotonic()
    while True:
        status, events = await run_in_threadpool(progress.events_after, job_id, after_id)
        if status is None:  # deleted meanwhile
            yield progress.deleted_event()
            return
        for event in events:
            yield format_event(event)
            after_id, last_sent = event.id, time.monotonic()
            if event.terminal:
                return
        if len(events) == progress.EVENT_BATCH:
            continue
        if status in JobStatus.FINISHED:  # its last event was sent before this stream resumed
            return
        if not await key.still_valid():  # the key was revoked meanwhile
            return
        if time.monotonic() - last_sent >= KEEPALIVE_S:
            yield ": keep-alive\n\n"
            last_sent = time.monotonic()
        await anyio.sleep(POLL_INTERVAL_S)
