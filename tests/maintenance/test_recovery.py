"""The recovery sweep, in this process: which jobs it sends again, which it fails, and that it races safely.
The end-to-end case (a broker restarted empty) is in tests/e2e/test_recovery.py."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from PIL import Image

from maintenance import recovery
from maintenance.settings import get_maintenance_settings
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.models import utcnow
from tests.support import RABBIT_URL, REDIS_URL, corpus_file, insert_job, load_job
from workers import queue, steps
from workers.settings import get_worker_settings

LONG_AGO = utcnow() - timedelta(hours=1)


@pytest.fixture
def sent(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the sweep enqueues, instead of a broker; the queue is empty."""
    monkeypatch.setenv("OCR_RECOVERY_AFTER_S", "60")
    get_maintenance_settings.cache_clear()
    enqueued: list[str] = []
    monkeypatch.setattr(queue, "enqueue_job", enqueued.append)
    monkeypatch.setattr(queue, "queue_depth", lambda: 0)
    return enqueued


def tif() -> bytes:
    return corpus_file("tess_HelloGoogle.tif").read_bytes()


def test_a_job_recorded_but_never_enqueued_is_sent_again_once(sent: list[str]) -> None:
    lost = insert_job(tif(), "image/tiff", created_at=LONG_AGO)  # as if publish failed after the commit
    fresh = insert_job(tif(), "image/tiff")  # its message may still be on its way
    report = recovery.sweep()
    assert report.resent == [lost] and sent == [lost] and fresh not in sent
    assert recovery.sweep().resent == [], "marked as sent: not again before the deadline passes anew"
    assert load_job(lost).enqueued_at is not None


def test_a_running_job_whose_page_was_lost_is_sent_again(sent: list[str]) -> None:
    job_id = insert_job(tif(), "image/tiff", created_at=LONG_AGO)
    assert steps.prepare(job_id).pages == [1]
    with session_scope() as session:
        repo.claim_page(session, job_id, 1, "lost-task")
    assert recovery.sweep().resent == [], "a page that started a moment ago is still running"
    with session_scope() as session:  # the page was taken an hour ago by a worker that is gone
        page = repo.get_page(session, job_id, 1)
        assert page is not None
        page.claimed_at = LONG_AGO
        job = repo.get_job(session, job_id)
        assert job is not None
        job.started_at = LONG_AGO
    assert recovery.sweep().resent == [job_id]
    assert steps.prepare(job_id).pages == [1], "the prepare task it sends resends the unfinished page"


def test_a_page_that_used_its_attempts_fails_the_job_with_its_number(sent: list[str]) -> None:
    job_id = insert_job(tif(), "image/tiff", created_at=LONG_AGO)
    steps.prepare(job_id)
    with session_scope() as session:
        for _ in range(get_worker_settings().page_max_attempts):
            repo.claim_page(session, job_id, 1, "doomed")
        page = repo.get_page(session, job_id, 1)
        assert page is not None
        page.claimed_at = LONG_AGO
        job = repo.get_job(session, job_id)
        assert job is not None
        job.started_at = LONG_AGO
    report = recovery.sweep()
    assert report.failed == [job_id] and sent == []
    job = load_job(job_id)
    assert job.status == "failed" and job.error_code == "page_failed"
    assert job.error_message == "page 1: gave up after 3 attempts (the worker was lost each time)"


def test_finished_jobs_and_a_busy_queue_are_left_alone(sent: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    done = insert_job(tif(), "image/tiff", created_at=LONG_AGO, status="succeeded")
    cancelled = insert_job(tif(), "image/tiff", created_at=LONG_AGO, status="cancelled")
    waiting = insert_job(tif(), "image/tiff", created_at=LONG_AGO)
    monkeypatch.setattr(queue, "queue_depth", lambda: 12)
    assert recovery.sweep().skipped == "12 messages waiting in the queue"
    monkeypatch.setattr(queue, "queue_depth", lambda: 0)
    assert recovery.sweep().resent == [waiting]
    assert done not in sent and cancelled not in sent


def two_page_tif() -> bytes:
    image = Image.open(corpus_file("tess_HelloGoogle.tif"))
    out = io.BytesIO()
    image.save(out, format="TIFF", save_all=True, append_images=[image.copy()])
    return out.getvalue()


def test_a_job_with_every_page_done_but_never_finalized_is_finalized(sent: list[str]) -> None:
    # (A one-page job finishes its page and succeeds in one transaction: only a longer job can be left so.)
    job_id = insert_job(two_page_tif(), "image/tiff", created_at=LONG_AGO)
    assert steps.prepare(job_id).pages == [1, 2]
    steps.process_page(job_id, 1)
    assert steps.process_page(job_id, 2).last  # done, but the finalize step was lost with its worker
    assert load_job(job_id).status == "running"
    assert steps.prepare(job_id).pages == []
    assert load_job(job_id).status == "succeeded"


@pytest.mark.parametrize("broker", [REDIS_URL, RABBIT_URL], ids=["redis", "rabbitmq"])
def test_queue_depth_on_each_broker(broker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the sweep reads before it resends anything: messages waiting, 0 for a queue never declared."""
    from kombu import Connection, Queue

    name = f"ocr-depth-{uuid.uuid4().hex[:8]}"
    probe = Celery("probe", broker=broker)
    monkeypatch.setattr(queue, "app", probe)
    monkeypatch.setenv("OCR_QUEUE_NAME", name)
    get_worker_settings.cache_clear()
    try:
        assert queue.queue_depth() == 0
        # confirmed publishes (AMQP): each returns once the broker holds the message, so the depth read
        # next counts all three instead of racing the broker's enqueueing
        with Connection(broker, transport_options={"confirm_publish": True}) as conn:
            Queue(name, channel=conn.default_channel).declare()
            producer = conn.Producer()
            for n in range(3):
                producer.publish({"n": n}, routing_key=name)
        assert queue.queue_depth() == 3
    finally:
        with Connection(broker) as conn:
            conn.default_channel.queue_delete(name)
        get_worker_settings.cache_clear()
