"""The webhook sweep (maintenance/webhook_resend.py) in this process, on SQLite and on PostgreSQL: which lost webhooks
it sends again (an overdue retry, an attempt that never recorded an outcome, a job with no attempt at all), which
it leaves alone (no callback, not ended, not yet overdue, delivered, outside the retry window, sent again a moment
ago), racing sweeps, a broker that is down, and a resend racing a slow original. The task messages it sends are
recorded here instead of going to a broker; the real round trip is in tests/e2e/test_webhooks_retention.py."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from kombu.exceptions import OperationalError
from sqlalchemy import update

from maintenance import webhook_resend
from storage.records import deliveries
from storage.records.db import session_scope
from storage.records.migrate import migrate
from storage.records.models import Job, WebhookDelivery, utcnow
from tests.support import forget_settings, insert_job, load_job, temporary_pg_database
from tests.webhook_receiver import WebhookReceiver, always
from webhooks import delivery as webhooks

URL = "http://127.0.0.1:9/hook"  # nothing listens: only tests that deliver use a real receiver
AFTER = timedelta(seconds=60)  # OCR_WEBHOOK_SWEEP_AFTER_S
WINDOW = timedelta(hours=1)  # OCR_WEBHOOK_RETRY_FOR_S
STALE = timedelta(seconds=10 + 60)  # OCR_WEBHOOK_TIMEOUT_S + 60: an attempt with no outcome is stale


@pytest.fixture(params=["sqlite", "postgresql"])
def sweep_env(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Local storage in tmp_path, job records in a fresh SQLite or PostgreSQL database, short sweep settings."""
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    for name in ("OCR_DATABASE_URL", "OCR_STORAGE", "OCR_RESULT_CACHE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OCR_WEBHOOK_SECRET", "keyless-secret")
    monkeypatch.setenv("OCR_WEBHOOK_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("OCR_WEBHOOK_TIMEOUT_S", "10")
    monkeypatch.setenv("OCR_WEBHOOK_SWEEP_AFTER_S", str(AFTER.total_seconds()))
    monkeypatch.setenv("OCR_WEBHOOK_RETRY_FOR_S", str(WINDOW.total_seconds()))
    with contextlib.ExitStack() as databases:
        if request.param == "postgresql":
            url = databases.enter_context(temporary_pg_database("ocr_whsweep"))
            monkeypatch.setenv("OCR_DATABASE_URL", url)
        forget_settings()
        migrate()
        yield request.param
        forget_settings()


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The job ids whose delivery task the sweep sends, in order."""
    calls: list[str] = []
    lock = threading.Lock()

    def record(job_id: str) -> None:
        with lock:
            calls.append(job_id)

    monkeypatch.setattr(webhook_resend, "send_webhook", record)
    return calls


def ended(ago: timedelta, url: str | None = URL, status: str = "succeeded") -> str:
    return insert_job(b"x", "image/png", status=status, finished_at=utcnow() - ago, callback_url=url)


def attempt(
    job_id: str, number: int, made_ago: timedelta, next_in: timedelta | None, outcome: bool = True, code: int = 500
) -> None:
    """An attempt row as webhooks.deliver leaves it: with an outcome (and the next attempt's time, None when it
    was the last), or without one (in progress, or its worker was lost)."""
    now = utcnow()
    with session_scope() as session:
        deliveries.add_attempt(session, job_id, number, URL, now - made_ago)
        if outcome:
            deliveries.record_outcome(
                session,
                job_id,
                number,
                status_code=code,
                error=None if code < 300 else f"the receiver answered HTTP {code}",
                duration_ms=5,
                next_attempt_at=None if next_in is None else now + next_in,
            )


def resent_at(job_id: str) -> datetime | None:
    return load_job(job_id).webhook_resent_at  # type: ignore[no-any-return]


def age_marks(by: timedelta) -> None:
    """Time passes for the sweep's marks: as if every resend was made `by` earlier."""
    with session_scope() as session:
        for job in session.query(Job).filter(Job.webhook_resent_at.is_not(None)):
            session.execute(update(Job).where(Job.id == job.id).values(webhook_resent_at=job.webhook_resent_at - by))


def test_a_job_whose_first_message_was_lost_is_sent_again_once(sweep_env: str, sent: list[str]) -> None:
    lost = ended(AFTER * 2)
    recent = ended(AFTER / 2)  # its first message may be waiting in the queue yet
    ended(AFTER * 2, url=None)  # no callback
    ended(WINDOW + AFTER)  # too late for any attempt
    insert_job(b"x", "image/png", status="running", callback_url=URL)  # not ended (no finished_at)
    delivered = ended(AFTER * 2)
    attempt(delivered, 1, AFTER, None, code=200)

    report = webhook_resend.sweep()
    assert report.resent == [lost] and report.unsent == [] and sent == [lost]
    assert resent_at(lost) is not None and resent_at(recent) is None

    assert webhook_resend.sweep().resent == []  # the resend may still be queued: not sent twice
    age_marks(AFTER / 2)
    assert webhook_resend.sweep().resent == []
    age_marks(AFTER)  # ... but a resend lost in turn is sent again once it is overdue itself
    assert webhook_resend.sweep().resent == [lost]
    assert sent == [lost, lost]


def test_an_overdue_retry_is_sent_again_once(sweep_env: str, sent: list[str]) -> None:
    overdue = ended(AFTER * 5)
    attempt(overdue, 1, AFTER * 4, -AFTER * 2)  # its next attempt was due two sweep-delays ago
    waiting = ended(AFTER * 5)
    attempt(waiting, 1, AFTER * 4, -AFTER / 2)  # due a moment ago: its message may be on its way
    scheduled = ended(AFTER * 5)
    attempt(scheduled, 1, AFTER * 4, AFTER)
    superseded = ended(AFTER * 5)  # an earlier attempt's time stays on its row; the latest one counts
    attempt(superseded, 1, AFTER * 4, -AFTER * 3)
    attempt(superseded, 2, AFTER * 3, None, code=200)
    given_up = ended(AFTER * 5)
    attempt(given_up, 1, AFTER * 4, None, code=503)
    stale = ended(AFTER * 5)  # an attempt that never recorded an outcome: its worker was lost mid-POST
    attempt(stale, 1, STALE + AFTER * 2, None, outcome=False)
    in_progress = ended(AFTER * 5)
    attempt(in_progress, 1, STALE, None, outcome=False)
    old = ended(WINDOW + AFTER * 2)  # its first attempt was longer ago than OCR_WEBHOOK_RETRY_FOR_S
    attempt(old, 1, WINDOW + AFTER, -WINDOW)
    late = ended(WINDOW + AFTER * 2)  # ... this one's first attempt came late (its first message was lost)
    attempt(late, 1, WINDOW - AFTER * 4, -AFTER * 2)

    report = webhook_resend.sweep()
    assert sorted(report.resent) == sorted([overdue, stale, late]) and sorted(sent) == sorted(report.resent)
    assert webhook_resend.sweep().resent == []  # in flight: not sent again


def test_racing_sweeps_send_each_lost_webhook_once(sweep_env: str, sent: list[str]) -> None:
    lost = {ended(AFTER * 2) for _ in range(10)}
    for job_id in [ended(AFTER * 3) for _ in range(10)]:
        attempt(job_id, 1, AFTER * 3, -AFTER * 2)
        lost.add(job_id)
    reports: list[webhook_resend.WebhookSweepReport] = []
    threads = [threading.Thread(target=lambda: reports.append(webhook_resend.sweep())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(sent) == sorted(lost)  # every one, none twice
    assert sorted(j for r in reports for j in r.resent) == sorted(lost)


def test_a_resend_the_broker_refused_is_tried_at_the_next_sweep(
    sweep_env: str, sent: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lost = ended(AFTER * 2)
    record = webhook_resend.send_webhook

    def down(job_id: str) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(webhook_resend, "send_webhook", down)
    report = webhook_resend.sweep()
    assert report.resent == [] and report.unsent == [lost] and resent_at(lost) is None
    monkeypatch.setattr(webhook_resend, "send_webhook", record)
    assert webhook_resend.sweep().resent == [lost] and sent == [lost]


# -- the task a resend runs: one POST per attempt, however many messages race --------------------------------


@pytest.fixture
def slow_receiver() -> Iterator[WebhookReceiver]:
    """Answers every POST with 200 after 1.5 s."""
    with WebhookReceiver(always(200), delay_s=1.5) as receiver:
        yield receiver


def test_a_resend_racing_a_slow_original_posts_once(sweep_env: str, slow_receiver: WebhookReceiver) -> None:
    job_id = ended(timedelta(0), url=slow_receiver.url)
    results: list[float | None] = []
    original = threading.Thread(target=lambda: results.append(webhooks.deliver(job_id)))
    original.start()
    assert slow_receiver.started.wait(10)  # the original is in the middle of its POST
    wait = webhooks.deliver(job_id)  # the resend: the attempt is claimed, so it only waits for its outcome
    assert wait is not None and wait > 0
    original.join()
    assert results == [None]  # delivered
    assert webhooks.deliver(job_id) is None  # the resend, when it looks again: delivered, nothing to do
    assert [r.headers["X-OCR-Delivery"] for r in slow_receiver.requests] == [f"{job_id}:1"]
    with session_scope() as session:
        rows = [(d.attempt, d.status_code) for d in session.query(WebhookDelivery).filter_by(job_id=job_id)]
    assert rows == [(1, 200)]


def test_a_resent_lost_first_message_delivers(sweep_env: str, sent: list[str], slow_receiver: WebhookReceiver) -> None:
    slow_receiver.delay_s = 0
    job_id = ended(AFTER * 2, url=slow_receiver.url)
    assert webhook_resend.sweep().resent == [job_id]
    assert webhooks.deliver(sent[0]) is None  # what the resent task does
    assert [r.headers["X-OCR-Delivery"] for r in slow_receiver.requests] == [f"{job_id}:1"]
    age_marks(AFTER * 2)
    assert webhook_resend.sweep().resent == []  # delivered: never again
