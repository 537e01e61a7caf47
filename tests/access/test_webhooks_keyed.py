"""Webhooks of jobs made with an API key are signed with that key's own secret (printed once by `keys create`),
through serve and through the split API + worker on RabbitMQ and PostgreSQL; no server-wide secret is set."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.access.conftest import Access, keys_cli, upload
from tests.support import corpus_file, wait_for
from tests.webhook_receiver import WebhookReceiver, always

PNG = "paperless_simple.png"


@pytest.fixture(scope="module")
def inbox() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(always(204)) as receiver:
        yield receiver


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-OCR-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers["X-OCR-Signature"])


def test_a_keyed_jobs_webhook_is_signed_with_its_keys_secret(any_access: Access, inbox: WebhookReceiver) -> None:
    assert "OCR_WEBHOOK_SECRET" not in any_access.env
    secrets = {}
    for who in ("hook-a", "hook-b"):
        name = f"{who}-{uuid.uuid4().hex[:8]}"
        made = keys_cli(any_access.env, "create", name)
        assert made.returncode == 0, made.stderr
        printed = dict(line.split(": ", 1) for line in made.stdout.splitlines() if ": " in line)
        any_access.keys[name] = printed["api_key"]
        secrets[who] = printed["webhook_secret"]
        any_access.clients[who] = httpx.Client(
            base_url=any_access.url, timeout=30, headers={"X-API-Key": printed["api_key"]}
        )
    path = f"/{uuid.uuid4().hex}"
    response = upload(any_access["hook-a"], corpus_file(PNG), callback_url=inbox.url + path)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    arrived = wait_for(lambda: inbox.for_path(path), 120, "the webhook")
    assert arrived[0].headers["X-OCR-Job-Id"] == job_id
    headers, body = arrived[0].headers, arrived[0].body
    assert signed_by(secrets["hook-a"], headers, body)
    assert not signed_by(secrets["hook-b"], headers, body)

    def outcomes() -> list[int | None] | None:
        deliveries = any_access["hook-a"].get(f"/v1/jobs/{job_id}/deliveries")
        assert deliveries.status_code == 200
        codes = [d["status_code"] for d in deliveries.json()["deliveries"]]
        return None if None in codes else codes  # the worker records the answer just after the receiver gave it

    assert wait_for(outcomes, 30, "the attempt's outcome") == [204]
    assert any_access["hook-b"].get(f"/v1/jobs/{job_id}/deliveries").status_code == 404
