"""Webhooks of jobs made with an API key are signed with that key's own secret (printed once by `keys create`),
through serve and through the split API + worker on RabbitMQ and PostgreSQL; no server-wide secret is set."""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.access.conftest import Access, keys_cli, upload
from tests.support import corpus_file, wait_for

PNG = "paperless_simple.png"


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def signed_by(secret: str, headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["X-OCR-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers["X-OCR-Signature"])


def test_a_keyed_jobs_webhook_is_signed_with_its_keys_secret(
    any_access: Access, inbox: tuple[str, list[tuple[dict[str, str], bytes]]]
) -> None:
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
    url, received = inbox
    path = f"/{uuid.uuid4().hex}"
    response = upload(any_access["hook-a"], corpus_file(PNG), callback_url=url + path)
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]

    def arrived() -> tuple[dict[str, str], bytes] | None:
        return next((r for r in received if r[0].get("X-OCR-Job-Id") == job_id), None)

    headers, body = wait_for(arrived, 120, "the webhook")
    assert signed_by(secrets["hook-a"], headers, body)
    assert not signed_by(secrets["hook-b"], headers, body)
    deliveries = any_access["hook-a"].get(f"/v1/jobs/{job_id}/deliveries")
    assert deliveries.status_code == 200
    assert [d["status_code"] for d in deliveries.json()["deliveries"]] == [204]
    assert any_access["hook-b"].get(f"/v1/jobs/{job_id}/deliveries").status_code == 404
