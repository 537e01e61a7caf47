"""Webhooks: when a job with a callback_url ends, its status JSON is POSTed there, signed, and retried with
exponential backoff until the receiver answers 2xx or OCR_WEBHOOK_RETRY_FOR_S has passed since the first try.

Each attempt is a row of ocr_webhook_deliveries, inserted before the POST: the row's (job, attempt) is unique,
so of two deliveries of the same task message only one makes the attempt. The task (`ocr.deliver_webhook` in
workers/tasks.py, taking a job id) calls `deliver`, which makes at most one attempt; the task then sends itself
again with a countdown for the next one. This module knows no Celery.

The callback address is checked again before every attempt (webhooks/urls.py: DNS may have changed), and the
POST goes to the address that was checked (the host name stays in the Host header and in TLS), so a second DNS
answer cannot point it elsewhere. The body is signed (webhooks/signing.py).
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pydantic_core
from sqlalchemy.exc import IntegrityError

from storage.records import deliveries
from storage.records.db import session_scope
from storage.records.job_reads import JobRecord, read_job
from storage.records.job_view import job_status
from storage.records.models import JobStatus, utcnow
from webhooks.signing import signature, signing_secret
from webhooks.urls import CallbackRefused, Target, check_callback, pinned_request
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)

USER_AGENT = "ocr-service-webhook/1"


def backoff_s(failures: int) -> float:
    """The wait after the `failures`-th failed attempt: doubling from OCR_WEBHOOK_RETRY_FIRST_S, capped at
    OCR_WEBHOOK_RETRY_MAX_S, with up to 20 % jitter either way so that many receivers coming back at once are
    not all retried in the same second."""
    settings = get_worker_settings()
    wait = min(settings.webhook_retry_first_s * 2 ** (failures - 1), settings.webhook_retry_max_s)
    return wait * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not a secret


def status_body(job: JobRecord) -> bytes:
    """The job's status JSON exactly as GET /v1/jobs/{id} answers it."""
    base = (get_worker_settings().public_url or "").rstrip("/") + "/v1/jobs"
    return pydantic_core.to_json(job_status(job, base))


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    final: bool = False  # retrying cannot help (the address is refused, there is no secret)

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(target: Target, body: bytes, headers: dict[str, str], timeout_s: float) -> Outcome:
    """One POST to the first checked address, redirects not followed."""
    url, host, extensions = pinned_request(target)
    started = time.monotonic()
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
            # Streamed and closed unread: only the status matters, and a receiver's body could be any size.
            client.stream("POST", url, content=body, headers={**headers, **host}, extensions=extensions) as response,
        ):
            pass
        error = None if 200 <= response.status_code < 300 else f"the receiver answered HTTP {response.status_code}"
        return Outcome(response.status_code, error, _ms_since(started))
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}".rstrip(": "), _ms_since(started))


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def deliver(job_id: str) -> float | None:
    """Make the job's next webhook attempt if one is due. Returns the seconds until the next attempt is due
    when one is (the task sends itself again for then), None when there is nothing more to do: delivered,
    given up, no webhook, or another delivery of this message is making the attempt."""
    settings = get_worker_settings()
    job = read_job(job_id)
    if job is None or not job.callback_url or job.status not in JobStatus.FINISHED:
        return None
    now = utcnow()
    with session_scope() as session:
        history = [
            (d.attempt, d.created_at, d.duration_ms, d.next_attempt_at) for d in deliveries.attempts(session, job_id)
        ]
    if history:
        attempt, created_at, duration_ms, next_attempt_at = history[-1]
        if duration_ms is None:  # in progress, or its worker was lost mid-POST: look again once it is stale
            stale_at = created_at + timedelta(seconds=settings.webhook_attempt_stale_s)
            if now < stale_at:
                return (stale_at - now).total_seconds()
            next_attempt_at = now
            _record(job_id, attempt, Outcome(None, "no outcome: the worker was lost during the attempt", 0), now)
        if next_attempt_at is None:
            return None
        if next_attempt_at > now:
            return (next_attempt_at - now).total_seconds()
    number = history[-1][0] + 1 if history else 1
    first = history[0][1] if history else now
    try:
        with session_scope() as session:
            deliveries.add_attempt(session, job_id, number, job.callback_url, now)
    except IntegrityError:
        return None  # another delivery of this message claimed the attempt
    outcome = attempt_delivery(job, number)
    wait = None if outcome.delivered or outcome.final else backoff_s(number)
    if wait is not None and utcnow() + timedelta(seconds=wait) > first + timedelta(
        seconds=settings.webhook_retry_for_s
    ):
        wait = None
        outcome = Outcome(
            outcome.status_code,
            f"{outcome.error}; given up: no attempt later than OCR_WEBHOOK_RETRY_FOR_S={settings.webhook_retry_for_s:g}"
            " after the first",
            outcome.duration_ms,
        )
    _record(job_id, number, outcome, None if wait is None else utcnow() + timedelta(seconds=wait))
    level = logging.INFO if outcome.delivered else logging.WARNING
    log.log(level, "webhook of job %s, attempt %s: %s", job_id, number, outcome.error or outcome.status_code)
    return wait


def attempt_delivery(job: JobRecord, number: int) -> Outcome:
    settings = get_worker_settings()
    assert job.callback_url is not None
    try:
        target = check_callback(job.callback_url, settings.webhook_allow_private)
    except CallbackRefused as exc:
        return Outcome(None, str(exc), 0, final=not exc.transient)
    secret = signing_secret(job.owner)
    if not secret:
        why = "no signing secret: the job's API key is gone, or OCR_WEBHOOK_SECRET is unset"
        return Outcome(None, why, 0, final=True)
    body = status_body(job)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-OCR-Timestamp": str(timestamp),
        "X-OCR-Signature": signature(secret, timestamp, body),
        "X-OCR-Job-Id": job.id,
        "X-OCR-Delivery": f"{job.id}:{number}",
    }
    return post(target, body, headers, settings.webhook_timeout_s)


def _record(job_id: str, attempt: int, outcome: Outcome, next_attempt_at: datetime | None) -> None:
    with session_scope() as session:
        deliveries.record_outcome(
            session,
            job_id,
            attempt,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
            next_attempt_at=next_attempt_at,
        )
