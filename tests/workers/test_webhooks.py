"""Webhook pieces without a service: the signature, the address checks, the backoff, the body."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ocr_api.presenters import job_out
from storage.records.job_reads import JobRecord
from tests.support import REPO
from tests.webhook_receiver import WebhookReceiver, always
from webhooks import delivery as webhooks
from webhooks.delivery import CallbackRefused, check_callback, refusal, signature, verify
from workers.settings import get_worker_settings


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id": "abc", "status": "succeeded"}'
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("secret", 1700000000, body) == f"sha256={expected}"


def test_verify_rejects_other_secrets_bodies_and_old_or_odd_timestamps() -> None:
    body = b'{"status": "failed"}'
    now = int(time.time())
    header = signature("secret", now, body)
    assert verify("secret", str(now), body, header)
    assert not verify("secreT", str(now), body, header)
    assert not verify("secret", str(now), body + b"\n", header)
    assert not verify("secret", str(now + 1), body, header)
    old = now - 3600
    assert not verify("secret", str(old), body, signature("secret", old, body))
    assert not verify("secret", "yesterday", body, header)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2001:db8::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_a_name_is_checked_by_every_address_it_resolves_to() -> None:
    with pytest.raises(CallbackRefused, match="loopback"):
        check_callback("http://localhost:9000/hook", allow_private=False)
    target = check_callback("http://localhost:9000/hook", allow_private=True)
    assert target.port == 9000 and all(a.is_loopback for a in target.addresses)
    with pytest.raises(CallbackRefused, match="does not resolve") as refused:
        check_callback("https://no-such-host.invalid/hook", allow_private=True)
    assert refused.value.transient


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://example.com/", "http:// or https://"),
        ("http:///path-only", "no host"),
        ("http://a:b@example.com/", "credentials"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_malformed_callback_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(CallbackRefused, match=why):
        check_callback(url, allow_private=True)


def test_backoff_doubles_with_jitter_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_WEBHOOK_RETRY_FIRST_S", "30")
    monkeypatch.setenv("OCR_WEBHOOK_RETRY_MAX_S", "900")
    get_worker_settings.cache_clear()
    try:
        for failures, base in ((1, 30), (2, 60), (3, 120), (5, 480), (6, 900), (20, 900)):
            waits = [webhooks.backoff_s(failures) for _ in range(50)]
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
    assert webhooks.status_body(job) == job_out(job, "/v1/jobs").model_dump_json().encode()


def test_expiry_shows_from_the_end_until_the_sweep_records_it() -> None:
    job = record()
    assert job_out(job, "/v1/jobs").expires_at == job.finished_at + timedelta(hours=2)  # type: ignore[operator]
    assert job_out(record(finished_at=None, status="running"), "/v1/jobs").expires_at is None
    recorded = datetime(2026, 12, 1, tzinfo=UTC)
    assert job_out(record(expires_at=recorded), "/v1/jobs").expires_at == recorded


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(always(204)) as receiver:
        yield receiver


def test_the_post_goes_to_the_checked_address_with_the_name_as_host(receiver: WebhookReceiver) -> None:
    port = receiver.address.rsplit(":", 1)[1]
    target = check_callback(f"http://localhost:{port}/hook?x=1", allow_private=True)
    target = webhooks.Target(target.url, target.scheme, target.host, target.port, [ipaddress.ip_address("127.0.0.1")])
    outcome = webhooks.post(target, b"{}", {"Content-Type": "application/json"}, timeout_s=5)
    assert outcome.delivered and outcome.status_code == 204
    assert receiver.requests[0].headers["Host"] == f"localhost:{port}"


def test_delivery_checks_the_address_again_and_sends_nothing_to_a_refused_one(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCR_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("OCR_WEBHOOK_ALLOW_PRIVATE", "false")
    get_worker_settings.cache_clear()
    try:
        outcome = webhooks.attempt_delivery(record(callback_url=f"{receiver.url}/hook"), 1)
    finally:
        get_worker_settings.cache_clear()
    assert outcome.final and outcome.status_code is None and "loopback" in (outcome.error or "")
    assert receiver.requests == []


def test_delivery_without_a_secret_gives_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCR_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("OCR_WEBHOOK_ALLOW_PRIVATE", "true")
    get_worker_settings.cache_clear()
    try:
        outcome = webhooks.attempt_delivery(record(callback_url="http://127.0.0.1:9/hook"), 1)
    finally:
        get_worker_settings.cache_clear()
    assert outcome.final and "no signing secret" in (outcome.error or "")


def test_the_readme_receiver_verifies_what_the_service_signs() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Webhooks") :]
    code = section[section.index("```python\n") + len("```python\n") :]
    namespace: dict[str, object] = {"__name__": "readme_receiver"}
    exec(code[: code.index("```")], namespace)  # the README's own example
    readme_verify = namespace["verify"]
    body = b'{"id": "j", "status": "succeeded"}'
    now = int(time.time())
    headers = {"X-OCR-Timestamp": str(now), "X-OCR-Signature": signature("the webhook secret", now, body)}
    assert readme_verify(headers, body)  # type: ignore[operator]
    assert not readme_verify(headers, body + b"x")  # type: ignore[operator]
    assert not readme_verify({**headers, "X-OCR-Timestamp": str(now - 3600)}, body)  # type: ignore[operator]
    assert not readme_verify({}, body)  # type: ignore[operator]
