"""Webhooks and retention through the real service: `serve` as a subprocess, and the split mode (API process and
Celery worker) on RabbitMQ and PostgreSQL. A loopback receiver in this process gets the webhooks
(OCR_WEBHOOK_ALLOW_PRIVATE=true), checks their signatures, and answers 500 to the first two attempts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import (
    RABBIT_URL,
    Stack,
    api_process,
    base_env,
    corpus_file,
    serve_env,
    serve_process,
    temporary_pg_database,
    wait_for,
)
from tests.webhook_receiver import WebhookReceiver
from webhooks.signing import verify

pytestmark = pytest.mark.slow
SECRET = "test-webhook-secret"
HOOK_ENV = {
    "OCR_WEBHOOK_SECRET": SECRET,
    "OCR_WEBHOOK_ALLOW_PRIVATE": "true",
    "OCR_WEBHOOK_RETRY_FIRST_S": "0.5",
    "OCR_WEBHOOK_RETRY_MAX_S": "1",
    "OCR_RETENTION_INTERVAL_S": "1",
    # The webhook sweep, every second, resends a webhook whose message was lost 3 s after it was due; the
    # __lose_webhook__ fault (workers/faults.py) drops a job's first webhook message.
    "OCR_WEBHOOK_SWEEP_INTERVAL_S": "1",
    "OCR_WEBHOOK_SWEEP_AFTER_S": "3",
    "OCR_TEST_FAULTS": "1",
}
IMAGE = "tess_HelloGoogle.tif"


# -- the receiver ------------------------------------------------------------------------------------------


def flaky(path: str, earlier: int) -> int:
    """500 to the first `failures` POSTs to /flaky/<failures>/<anything>, 200 to the rest (and to other paths)."""
    parts = path.strip("/").split("/")
    failures = int(parts[1]) if parts[0] == "flaky" else 0
    return 500 if earlier < failures else 200


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(flaky) as receiver:
        yield receiver


# -- the two ways to run the service ---------------------------------------------------------------------


@dataclass
class Service:
    client: httpx.Client
    data_dir: Path  # where the local store keeps jobs/<id>/...

    def submit(self, filename: str = IMAGE, **fields: Any) -> httpx.Response:
        with corpus_file(IMAGE).open("rb") as fh:
            files = {"file": (filename, fh, "application/octet-stream")}
            return self.client.post("/v1/jobs", files=files, data={k: str(v) for k, v in fields.items()})

    def submit_ok(self, filename: str = IMAGE, **fields: Any) -> dict[str, Any]:
        response = self.submit(filename, **fields)
        assert response.status_code == 202, response.text
        return dict(response.json())

    def wait(self, job_id: str, done: Any, what: str, timeout: float = 90) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            body = self.client.get(f"/v1/jobs/{job_id}").json()
            return body if done(body) else None

        return dict(wait_for(check, timeout, what, interval=0.2))

    def job_files(self, job_id: str) -> list[Path]:
        root = self.data_dir / "files" / "jobs" / job_id
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture(scope="module")
def hooks_pg_url() -> Iterator[str]:
    with temporary_pg_database("ocr_hooks") as url:
        yield url


@pytest.fixture(scope="module")
def split_service(tmp_path_factory: pytest.TempPathFactory, hooks_pg_url: str) -> Iterator[Service]:
    data_dir = tmp_path_factory.mktemp("hooks-split")
    env = base_env(data_dir, OCR_BROKER_URL=RABBIT_URL, OCR_DATABASE_URL=hooks_pg_url, **HOOK_ENV)
    stack = Stack("hooks-pg", env, data_dir).start(workers=1)
    try:
        yield Service(stack.client, data_dir)
    finally:
        stack.stop()
        from kombu import Connection

        with Connection(RABBIT_URL) as conn:
            conn.default_channel.queue_delete(env["OCR_QUEUE_NAME"])


@pytest.fixture(scope="module")
def serve_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("hooks-serve")
    with (
        serve_process(root, serve_env(**HOOK_ENV), concurrency=1) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield Service(client, root / "data")


@pytest.fixture(params=["serve", "split-pg"])
def service(request: pytest.FixtureRequest) -> Service:
    name = "serve_service" if request.param == "serve" else "split_service"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


# -- webhooks ----------------------------------------------------------------------------------------------


def test_webhook_is_signed_retried_after_two_500s_and_listed(service: Service, receiver: WebhookReceiver) -> None:
    path = f"/flaky/2/{uuid.uuid4().hex}"
    job = service.submit_ok(callback_url=receiver.url + path)
    got = wait_for(lambda: len(r := receiver.for_path(path)) >= 3 and r, 90, "three webhook attempts")
    time.sleep(1.5)  # a fourth attempt, if one were (wrongly) made after the 200, would arrive by now
    attempts = receiver.for_path(path)
    assert [r.answered for r in attempts] == [500, 500, 200]

    for received in attempts:
        headers = {k.lower(): v for k, v in received.headers.items()}
        assert verify(SECRET, headers["x-ocr-timestamp"], received.body, headers["x-ocr-signature"])
        assert not verify("another secret", headers["x-ocr-timestamp"], received.body, headers["x-ocr-signature"])
        assert not verify(SECRET, headers["x-ocr-timestamp"], received.body + b" ", headers["x-ocr-signature"])
        assert headers["x-ocr-job-id"] == job["id"]
        assert headers["content-type"] == "application/json"
    assert [{k.lower(): v for k, v in r.headers.items()}["x-ocr-delivery"] for r in got] == [
        f"{job['id']}:{n}" for n in (1, 2, 3)
    ]

    # The body is the job's status JSON, as GET /v1/jobs/{id} answers it (links aside: no OCR_PUBLIC_URL).
    status = service.client.get(f"/v1/jobs/{job['id']}").json()
    sent = json.loads(attempts[-1].body)
    assert sent["status"] == "succeeded" and status["status"] == "succeeded"
    assert {k: v for k, v in sent.items() if k != "links"} == {k: v for k, v in status.items() if k != "links"}
    assert sent["links"]["self"] == f"/v1/jobs/{job['id']}"

    listed = service.client.get(f"/v1/jobs/{job['id']}/deliveries")
    assert listed.status_code == 200, listed.text
    deliveries = listed.json()["deliveries"]
    assert [d["attempt"] for d in deliveries] == [1, 2, 3]
    assert [d["status_code"] for d in deliveries] == [500, 500, 200]
    assert all(d["url"] == receiver.url + path and d["duration_ms"] is not None for d in deliveries)
    assert deliveries[0]["error"] == "the receiver answered HTTP 500" and deliveries[2]["error"] is None
    assert deliveries[0]["next_attempt_at"] is not None and deliveries[2]["next_attempt_at"] is None


def test_jobs_without_callback_have_no_deliveries(service: Service) -> None:
    job = service.submit_ok()
    service.wait(job["id"], lambda b: b["status"] == "succeeded", "the job")
    assert service.client.get(f"/v1/jobs/{job['id']}/deliveries").json() == {"deliveries": []}


def test_a_cancelled_job_sends_its_webhook(service: Service, receiver: WebhookReceiver) -> None:
    path = f"/ok/{uuid.uuid4().hex}"
    job = service.submit_ok(callback_url=receiver.url + path)
    service.client.post(f"/v1/jobs/{job['id']}/cancel")  # 409 if it finished first: its webhook comes anyway
    final = service.wait(job["id"], lambda b: b["status"] in ("succeeded", "cancelled"), "the job to end")
    got = wait_for(lambda: receiver.for_path(path), 60, "the webhook")
    assert len(got) == 1 and json.loads(got[0].body)["status"] == final["status"]


def test_a_webhook_whose_first_message_was_lost_is_sent_by_the_sweep(
    service: Service, receiver: WebhookReceiver
) -> None:
    path = f"/ok/{uuid.uuid4().hex}"
    job = service.submit_ok(filename="lost__lose_webhook__.tif", callback_url=receiver.url + path)
    done = service.wait(job["id"], lambda b: b["status"] == "succeeded", "the job")
    ended = time.time()
    got = wait_for(lambda: receiver.for_path(path), 30, "the webhook, sent again by the sweep")
    late_s = time.time() - ended
    # No message was queued when the job ended: the sweep sent it once the job had no attempt 3 s after its end.
    assert late_s >= 2, f"the webhook came {late_s:.1f} s after the job ended: was its message really dropped?"
    time.sleep(4)  # a second resend, if one were (wrongly) made after the delivery, would arrive by now
    got = receiver.for_path(path)
    assert [r.answered for r in got] == [200]
    headers = {k.lower(): v for k, v in got[0].headers.items()}
    assert verify(SECRET, headers["x-ocr-timestamp"], got[0].body, headers["x-ocr-signature"])
    assert headers["x-ocr-delivery"] == f"{job['id']}:1"
    assert json.loads(got[0].body)["status"] == done["status"]
    deliveries = service.client.get(f"/v1/jobs/{job['id']}/deliveries").json()["deliveries"]
    assert [(d["attempt"], d["status_code"], d["next_attempt_at"]) for d in deliveries] == [(1, 200, None)]


# Refused without OCR_WEBHOOK_ALLOW_PRIVATE: an API process with the default setting (no worker needed).
@pytest.fixture(scope="module")
def strict_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    env = base_env(tmp_path_factory.mktemp("hooks-strict"), OCR_WEBHOOK_SECRET=SECRET)
    with api_process(env) as client:
        yield client


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://10.0.0.1/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("ftp://example.com/hook", "http:// or https://"),
        ("http://user:pw@example.com/hook", "credentials"),
        ("not a url", "http:// or https://"),
    ],
)
def test_private_and_odd_callback_urls_are_refused(strict_api: httpx.Client, url: str, why: str) -> None:
    with corpus_file(IMAGE).open("rb") as fh:
        response = strict_api.post("/v1/jobs", files={"file": (IMAGE, fh)}, data={"callback_url": url})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and why in error["message"], error
    assert "callback_url" in error["message"]


def test_keyless_callback_needs_a_secret(tmp_path: Path) -> None:
    env = base_env(tmp_path, OCR_WEBHOOK_ALLOW_PRIVATE="true")
    with api_process(env) as client, corpus_file(IMAGE).open("rb") as fh:
        response = client.post("/v1/jobs", files={"file": (IMAGE, fh)}, data={"callback_url": "http://127.0.0.1/"})
    assert response.status_code == 422
    assert "OCR_WEBHOOK_SECRET" in response.json()["error"]["message"]


# -- retention ---------------------------------------------------------------------------------------------


def test_an_expired_job_loses_its_files_answers_410_and_stays_listed(service: Service) -> None:
    psm = 7  # a cache key no other test's job has: the second upload below must not find another job's results
    job = service.submit_ok(retain_hours=0, psm=psm, formats="txt,json")
    done = service.wait(job["id"], lambda b: b["status"] == "succeeded", "the job")
    assert done["expires_at"] is not None  # (the 1 s sweep may have expired it already)
    expired = service.wait(job["id"], lambda b: b["expired_at"] is not None, "the job to expire", timeout=30)
    assert expired["status"] == "succeeded" and expired["expires_at"] <= expired["expired_at"]
    wait_for(lambda: service.job_files(job["id"]) == [], 10, "the job's files to be deleted")

    for path in ("result.txt", "result.json", "text", "events"):
        response = service.client.get(f"/v1/jobs/{job['id']}/{path}")
        assert response.status_code == 410, (path, response.text)
        error = response.json()["error"]
        assert error["code"] == "expired"
        assert error["details"]["expired_at"].replace("+00:00", "Z") == expired["expired_at"].replace("+00:00", "Z")
        assert "expired at" in error["message"]

    listed = service.client.get("/v1/jobs", params={"limit": 500}).json()["jobs"]
    assert job["id"] in [j["id"] for j in listed]

    # The same input and settings again: the expired job's results are gone, so this one runs OCR itself.
    again = service.submit_ok(psm=psm, formats="txt,json")
    second = service.wait(again["id"], lambda b: b["status"] == "succeeded", "the second job")
    assert (second["engine"] or {}).get("cache_hit_of") != job["id"]
    assert "Hello" in service.client.get(f"/v1/jobs/{again['id']}/result.txt").text
    assert second["expires_at"] is not None and second["expired_at"] is None


def test_retain_hours_above_the_setting_is_refused(service: Service) -> None:
    response = service.submit(retain_hours=169)
    assert response.status_code == 422
    assert "at most 168" in response.json()["error"]["message"]
    assert service.submit(retain_hours=-1).status_code == 422


def test_retention_deletes_a_jobs_objects_from_s3(s3_stack: Stack, s3_client: Any) -> None:
    # The shared S3 stack sweeps every minute; a second API process on the same database and bucket, sweeping
    # every second, does it sooner (and shows that several API processes sweep side by side).
    with api_process({**s3_stack.env, "OCR_RETENTION_INTERVAL_S": "1"}):
        job = s3_stack.submit_ok(corpus_file(IMAGE), retain_hours=0, psm=8)
        prefix = f"{s3_stack.env['OCR_S3_PREFIX']}jobs/{job['id']}/"

        def objects() -> list[str]:
            listed = s3_client.list_objects_v2(Bucket=s3_stack.env["OCR_S3_BUCKET"], Prefix=prefix)
            return [o["Key"] for o in listed.get("Contents", [])]

        s3_stack.wait(job["id"])
        expired = wait_for(
            lambda: (b := s3_stack.client.get(f"/v1/jobs/{job['id']}").json())["expired_at"] and b, 30, "expiry"
        )
        assert expired["status"] == "succeeded"
        wait_for(lambda: objects() == [], 10, "the job's objects to be deleted")  # just after expired_at is set
        assert s3_stack.client.get(f"/v1/jobs/{job['id']}/result.txt").status_code == 410
