"""Webhook delivery in this process (SQLite, a loopback receiver): one POST per attempt however often the task
runs, the attempt rows, the schedule, giving up, and the per-key secret."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from storage.records import deliveries
from storage.records.db import session_scope
from storage.records.models import ApiKey, WebhookDelivery, utcnow
from tests.support import insert_job
from tests.webhook_receiver import WebhookReceiver, always
from webhooks import delivery as webhooks
from workers.settings import get_worker_settings


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def hooks_env(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OCR_WEBHOOK_SECRET", "keyless-secret")
    monkeypatch.setenv("OCR_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("OCR_WEBHOOK_RETRY_FIRST_S", "30")
    get_worker_settings.cache_clear()
    return local_env


def ended_job(url: str, **fields: object) -> str:
    return insert_job(b"x", "image/png", status="succeeded", finished_at=utcnow(), callback_url=url, **fields)


def rows(job_id: str) -> list[tuple[int, int | None, str | None, bool]]:
    with session_scope() as session:
        return [
            (d.attempt, d.status_code, d.error, d.next_attempt_at is not None)
            for d in deliveries.attempts(session, job_id)
        ]


def test_a_delivered_webhook_is_not_sent_again_when_the_task_runs_twice(
    hooks_env: Path, receiver: WebhookReceiver
) -> None:
    job_id = ended_job(receiver.url)
    assert webhooks.deliver(job_id) is None
    assert webhooks.deliver(job_id) is None  # the same message delivered again
    assert len(receiver.requests) == 1
    assert rows(job_id) == [(1, 200, None, False)]


def test_a_failed_attempt_is_scheduled_and_an_early_run_only_waits(hooks_env: Path, receiver: WebhookReceiver) -> None:
    receiver.answer = always(500)
    job_id = ended_job(receiver.url)
    wait = webhooks.deliver(job_id)
    assert wait is not None and 24 <= wait <= 36  # OCR_WEBHOOK_RETRY_FIRST_S=30, +-20 % jitter
    again = webhooks.deliver(job_id)  # a duplicate message, early: nothing is sent, it waits for the same time
    assert again is not None and again <= wait
    assert len(receiver.requests) == 1
    assert rows(job_id) == [(1, 500, "the receiver answered HTTP 500", True)]


def test_an_attempt_claimed_by_another_run_is_not_made_twice(hooks_env: Path, receiver: WebhookReceiver) -> None:
    job_id = ended_job(receiver.url)
    with session_scope() as session:  # another worker is making attempt 1 right now
        deliveries.add_attempt(session, job_id, 1, receiver.url, utcnow())
    wait = webhooks.deliver(job_id)
    assert wait is not None and wait > 0 and receiver.requests == []  # looks again once that attempt would be stale

    with session_scope() as session:  # ... and that worker was lost long ago
        session.execute(update(WebhookDelivery).values(created_at=utcnow() - timedelta(hours=1)))
    assert webhooks.deliver(job_id) is None
    assert len(receiver.requests) == 1
    assert rows(job_id) == [
        (1, None, "no outcome: the worker was lost during the attempt", True),
        (2, 200, None, False),
    ]


def test_no_attempt_after_the_retry_window(
    hooks_env: Path, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCR_WEBHOOK_RETRY_FOR_S", "10")
    get_worker_settings.cache_clear()
    receiver.answer = always(503)
    job_id = ended_job(receiver.url)
    assert webhooks.deliver(job_id) is None  # the next attempt (30 s on) would be past the window
    [(attempt, code, error, scheduled)] = rows(job_id)
    assert (attempt, code, scheduled) == (1, 503, False)
    assert error is not None and "given up" in error and "OCR_WEBHOOK_RETRY_FOR_S" in error


def test_an_unreachable_receiver_is_recorded_without_a_status(hooks_env: Path) -> None:
    job_id = ended_job("http://127.0.0.1:9/hook")  # discard port: nothing listens
    assert webhooks.deliver(job_id) is not None
    [(attempt, code, error, scheduled)] = rows(job_id)
    assert (attempt, code, scheduled) == (1, None, True) and error and "ConnectError" in error


def test_jobs_without_callback_or_not_ended_are_skipped(hooks_env: Path, receiver: WebhookReceiver) -> None:
    assert webhooks.deliver(insert_job(b"x", "image/png", status="succeeded")) is None
    assert webhooks.deliver(insert_job(b"x", "image/png", status="running", callback_url=receiver.url)) is None
    assert webhooks.deliver(str(uuid.uuid4())) is None
    assert receiver.requests == []


def test_a_keyed_job_is_signed_with_its_keys_secret(hooks_env: Path, receiver: WebhookReceiver) -> None:
    key_id = str(uuid.uuid4())
    with session_scope() as session:
        session.add(
            ApiKey(
                id=key_id,
                name="tenant-a",
                key_hash=hashlib.sha256(b"ocr_k_tenant_a").hexdigest(),
                prefix="ocr_k_te",
                webhook_secret="tenant-a-secret",
                created_at=utcnow(),
            )
        )
    job_id = ended_job(receiver.url, owner=key_id)
    assert webhooks.deliver(job_id) is None
    headers, body = receiver.requests[0].headers, receiver.requests[0].body
    timestamp, sig = headers["X-OCR-Timestamp"], headers["X-OCR-Signature"]
    assert webhooks.verify("tenant-a-secret", timestamp, body, sig)
    assert not webhooks.verify("keyless-secret", timestamp, body, sig)
