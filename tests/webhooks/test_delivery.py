"""Webhook delivery in this process (SQLite, a loopback receiver): one POST per attempt however often the task
runs, the attempt rows, the schedule, giving up, and the per-key secret; and its pieces without a database: the
backoff, the body, the POST to the checked address, the address checked again."""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ocr_api.presenters import job_out
from storage.records import deliveries
from storage.records.db import session_scope
from storage.records.job_reads import JobRecord
from storage.records.models import ApiKey, WebhookDelivery, utcnow
from tests.support import insert_job
from tests.webhook_receiver import WebhookReceiver, always
from webhooks import delivery
from webhooks.signing import verify
from webhooks.urls import Target, check_callback
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
    assert delivery.deliver(job_id) is None
    assert delivery.deliver(job_id) is None  # the same message delivered again
    assert len(receiver.requests) == 1
    assert rows(job_id) == [(1, 200, None, False)]


def test_a_failed_attempt_is_scheduled_and_an_early_run_only_waits(hooks_env: Path, receiver: WebhookReceiver) -> None:
    receiver.answer = always(500)
    job_id = ended_job(receiver.url)
    wait = delivery.deliver(job_id)
    assert wait is not None and 24 <= wait <= 36  # OCR_WEBHOOK_RETRY_FIRST_S=30, +-20 % jitter
    again = delivery.deliver(job_id)  # a duplicate message, early: nothing is sent, it waits for the same time
    assert again is not None and again <= wait
    assert len(receiver.requests) == 1
    assert rows(job_id) == [(1, 500, "the receiver answered HTTP 500", True)]


def test_an_attempt_claimed_by_another_run_is_not_made_twice(hooks_env: Path, receiver: WebhookReceiver) -> None:
    job_id = ended_job(receiver.url)
    with session_scope() as session:  # another worker is making attempt 1 right now
        deliveries.add_attempt(session, job_id, 1, receiver.url, utcnow())
    wait = delivery.deliver(job_id)
    assert wait is not None and wait > 0 and receiver.requests == []  # looks again once that attempt would be stale

    with session_scope() as session:  # ... and that worker was lost long ago
        session.execute(update(WebhookDelivery).values(created_at=utcnow() - timedelta(hours=1)))
    assert delivery.deliver(job_id) is None
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
    assert delivery.deliver(job_id) is None  # the next attempt (30 s on) would be past the window
    [(attempt, code, error, scheduled)] = rows(job_id)
    assert (attempt, code, scheduled) == (1, 503, False)
    assert error is not None and "given up" in error and "OCR_WEBHOOK_RETRY_FOR_S" in error


def test_an_unreachable_receiver_is_recorded_without_a_status(hooks_env: Path) -> None:
    job_id = ended_job("http://127.0.0.1:9/hook")  # discard port: nothing listens
    assert delivery.deliver(job_id) is not None
    [(attempt, code, error, scheduled)] = rows(job_id)
    assert (attempt, code, scheduled) == (1, None, True) and error and "ConnectError" in error


def test_jobs_without_callback_or_not_ended_are_skipped(hooks_env: Path, receiver: WebhookReceiver) -> None:
    assert delivery.deliver(insert_job(b"x", "image/png", status="succeeded")) is None
    assert delivery.deliver(insert_job(b"x", "image/png", status="running", callback_url=receiver.url)) is None
    assert delivery.deliver(str(uuid.uuid4())) is None
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
    assert delivery.deliver(job_id) is None
    headers, body = receiver.requests[0].headers, receiver.requests[0].body
    timestamp, sig = headers["X-OCR-Timestamp"], headers["X-OCR-Signature"]
    assert verify("tenant-a-secret", timestamp, body, sig)
    assert not verify("keyless-secret", timestamp, body, sig)


def test_backoff_doubles_with_jitter_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_WEBHOOK_RETRY_FIRST_S", "30")
    monkeypatch.setenv("OCR_WEBHOOK_RETRY_MAX_S", "900")
    get_worker_settings.cache_clear()
    try:
        for failures, base in ((1, 30), (2, 60), (3, 120), (5, 480), (6, 900), (20, 900)):
            waits = [delivery.backoff_s(failures) for _ in range(50)]
            assert all(0.8 * base <= w <= 1.2 * base for w in waits), (failures, min(waits), max(waits))
            assert len(set(waits)) > 1  # jittered
    finally:
        get_worker_settings.cache_clear()


def record(**overrides: object) -> JobRecord:
    now = datetime(2026, 11, 27, 7, 0, 0, 123456, tzinfo=UTC)
    values: dict[str, object] = {
        "id": "8d3c2f1e-0000-4000-8000-000000000001",
        "status": "failed",
        "created_at": now,
        "started_at": now,
        "finished_at": now + timedelta(seconds=2),
        "pages_total": 1,
        "pages_done": 0,
        "error_code": "page_failed",
        "error_message": "page 1: boom",
        "filename": "scan.png",
        "media_type": "image/png",
        "input_key": "jobs/x/input",
        "input_size": 10,
        "input_sha256": "0" * 64,
        "lang": "eng",
        "psm": None,
        "dpi": None,
        "formats": "txt,json",
        "options": {"deskew": True},
        "engine_info": {"engine": "tesserocr"},
        "owner": None,
        "callback_url": "https://example.com/hook",
        "retain_hours": 2,
        "expires_at": None,
        "expired_at": None,
        **overrides,
    }
    return JobRecord(**values)  # type: ignore[arg-type]


def test_webhook_body_is_the_status_json_byte_for_byte() -> None:
    job = record()
    assert delivery.status_body(job) == job_out(job, "/v1/jobs").model_dump_json().encode()


def test_expiry_shows_from_the_end_until_the_sweep_records_it() -> None:
    job = record()
    assert job_out(job, "/v1/jobs").expires_at == job.finished_at + timedelta(hours=2)  # type: ignore[operator]
    assert job_out(record(finished_at=None, status="running"), "/v1/jobs").expires_at is None
    recorded = datetime(2026, 12, 1, tzinfo=UTC)
    assert job_out(record(expires_at=recorded), "/v1/jobs").expires_at == recorded


def test_the_post_goes_to_the_checked_address_with_the_name_as_host(receiver: WebhookReceiver) -> None:
    receiver.answer = always(204)
    port = receiver.address.rsplit(":", 1)[1]
    target = check_callback(f"http://localhost:{port}/hook?x=1", allow_private=True)
    target = Target(target.url, target.scheme, target.host, target.port, [ipaddress.ip_address("127.0.0.1")])
    outcome = delivery.post(target, b"{}", {"Content-Type": "application/json"}, timeout_s=5)
    assert outcome.delivered and outcome.status_code == 204
    assert receiver.requests[0].headers["Host"] == f"localhost:{port}"


def test_delivery_checks_the_address_again_and_sends_nothing_to_a_refused_one(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCR_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("OCR_WEBHOOK_ALLOW_PRIVATE", "false")
    get_worker_settings.cache_clear()
    try:
        outcome = delivery.attempt_delivery(record(callback_url=f"{receiver.url}/hook"), 1)
    finally:
        get_worker_settings.cache_clear()
    assert outcome.final and outcome.status_code is None and "loopback" in (outcome.error or "")
    assert receiver.requests == []


def test_delivery_without_a_secret_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCR_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("OCR_WEBHOOK_ALLOW_PRIVATE", "true")
    get_worker_settings.cache_clear()
    try:
        outcome = delivery.attempt_delivery(record(callback_url="http://127.0.0.1:9/hook"), 1)
    finally:
        get_worker_settings.cache_clear()
    assert outcome.final and "no signing secret" in (outcome.error or "")
