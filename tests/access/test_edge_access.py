"""The edge with keys required (docs/security.md): unknown keys, however many and long, leave the API's memory
flat and are never kept as sent; a request without a valid key is refused before its body is read; open streams
are capped per key and end when their key is revoked; an empty Idempotency-Key is a 422. On SQLite and
PostgreSQL (edge_auth)."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import anyio
import httpx
import pytest

from ocr_api.auth import MAX_KEY_CHARS, Access
from ocr_api.errors import Unauthorized
from ocr_api.settings import ApiSettings
from tests.access.conftest import EdgeAccess, keys_cli, upload
from tests.support import corpus_file, wait_for

PNG = "pyt_test.png"


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _unknown_keys(client: httpx.Client, count: int, length: int) -> None:
    for n in range(count):
        key = f"ocr_{n:06d}_{uuid.uuid4().hex}".ljust(length, "x")
        response = client.get("/v1/jobs", headers={"X-API-Key": key})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"


def test_many_long_unknown_keys_leave_the_api_memory_flat(edge_auth: EdgeAccess) -> None:
    with httpx.Client(base_url=edge_auth.url, timeout=30) as client:
        _unknown_keys(client, 100, 40_000)  # warm up: allocator pools, connections, code paths
        _unknown_keys(client, 100, 200)
        before = _rss_kib(edge_auth.pid)
        _unknown_keys(client, 500, 48_000)  # 24 MB of keys over the length limit: refused before any lookup
        _unknown_keys(client, 500, 200)  # under it: looked up, remembered by their hash only
        after = _rss_kib(edge_auth.pid)
    assert after - before < 4 * 1024, f"RSS grew from {before} KiB to {after} KiB"
    # The good keys still work
    assert edge_auth["alice"].get("/v1/jobs").status_code == 200


def test_the_key_cache_holds_hashes_never_the_keys_as_sent(local_env: Path) -> None:
    access = Access(ApiSettings(auth="required", key_cache_s=60), "memory://")
    sent = [f"ocr_unknown-{n}-{uuid.uuid4().hex}" for n in range(20)]
    too_long = "ocr_" + "y" * MAX_KEY_CHARS

    async def present_all() -> None:
        for key in [*sent, too_long]:
            with pytest.raises(Unauthorized):
                await access.identify({"x-api-key": key})

    anyio.run(present_all)
    cache = access._cache
    assert len(cache) == len(sent)  # the over-long key was never looked up nor cached
    assert all(isinstance(k, bytes) and len(k) == 32 for k in cache)
    held = repr(cache)
    assert not any(key in held for key in sent)


def _post_head(url: str, headers: dict[str, str], length: int) -> bytes:
    host = url.removeprefix("http://")
    lines = ["POST /v1/jobs HTTP/1.1", f"Host: {host}", f"Content-Length: {length}",
             "Content-Type: multipart/form-data; boundary=edge"]  # fmt: skip
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer_within(url: str, head: bytes, seconds: float) -> bytes:
    """Send a request head and 16 KiB of a 50 MB body, then wait up to `seconds` for the answer (and the
    connection closed)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=seconds) as conn:
        conn.sendall(head + b'--edge\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n')
        conn.sendall(b"\0" * 16 * 1024)  # more would be left unread in the kernel: a reset, not a close
        answer = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # until the server closes the connection
            try:
                chunk = conn.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            answer += chunk
        return answer


def _spooled(edge: EdgeAccess) -> list[Path]:
    return [p for p in edge.tmp_dir.rglob("*") if p.is_file()]


def test_an_upload_without_a_valid_key_is_refused_before_its_body_is_read(edge_auth: EdgeAccess) -> None:
    jobs_before = edge_auth["root"].get("/v1/jobs", params={"limit": 500}).json()["jobs"]
    for headers in ({}, {"X-API-Key": "ocr_not-a-key"}, {"Authorization": "Bearer " + "z" * 4000}):
        answer = _answer_within(edge_auth.url, _post_head(edge_auth.url, headers, 50_000_000), 3)
        status_line = answer.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1.1 401"), (headers, answer[:300])
        assert b"\r\nwww-authenticate: bearer" in answer.lower()
        assert b"unauthorized" in answer
        assert _spooled(edge_auth) == []
    assert edge_auth["root"].get("/v1/jobs", params={"limit": 500}).json()["jobs"] == jobs_before
    # With a valid key the same request is read (and answered only once its body is complete or refused)
    key = {"X-API-Key": edge_auth.keys["alice"]}
    assert _answer_within(edge_auth.url, _post_head(edge_auth.url, key, 50_000_000), 1) == b""


def _queued_job(edge: EdgeAccess, client: httpx.Client) -> str:
    response = upload(client, corpus_file(PNG))
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_open_streams_per_key_are_capped_with_429_and_retry_after(edge_auth: EdgeAccess) -> None:
    client = edge_auth.add_key(f"streams-{uuid.uuid4().hex[:8]}")
    job_id = _queued_job(edge_auth, client)
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as first, \
            client.stream("GET", f"/v1/jobs/{job_id}/text") as second:  # fmt: skip
        assert first.status_code == 200 and second.status_code == 200
        for path in ("events", "text"):
            over = client.get(f"/v1/jobs/{job_id}/{path}")
            assert over.status_code == 429, over.text
            assert over.json()["error"]["code"] == "rate_limited"
            assert over.json()["error"]["details"] == {"limit": "max_streams_per_key", "value": 2}
            assert int(over.headers["retry-after"]) >= 1
        # Another key has slots of its own
        other = edge_auth.add_key(f"other-{uuid.uuid4().hex[:8]}")
        theirs = _queued_job(edge_auth, other)
        with other.stream("GET", f"/v1/jobs/{theirs}/events") as response:
            assert response.status_code == 200

    def slot_free() -> bool:
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as response:
            return response.status_code == 200

    wait_for(slot_free, 10, "a closed stream's slot to be free again")


def test_a_revoked_keys_open_streams_end(edge_auth: EdgeAccess) -> None:
    name = f"revoked-{uuid.uuid4().hex[:8]}"
    client = edge_auth.add_key(name)
    job_id = _queued_job(edge_auth, client)
    timeout = httpx.Timeout(30, read=20)
    with client.stream("GET", f"/v1/jobs/{job_id}/events", timeout=timeout) as events, \
            client.stream("GET", f"/v1/jobs/{job_id}/text", timeout=timeout) as text:  # fmt: skip
        assert events.status_code == 200 and text.status_code == 200
        chunks = events.iter_text()
        first = next(chunks)
        assert first.startswith("retry:")
        revoked = keys_cli(edge_auth.env, "revoke", name)
        assert revoked.returncode == 0, revoked.stderr
        started = time.monotonic()
        rest = ""
        for chunk in chunks:  # ends once the key is seen revoked; a keep-alive comes every 15 s meanwhile
            rest += chunk
            assert time.monotonic() - started < 10, "the revoked key's stream is still open"
        text_rest = "".join(text.iter_text())
        assert time.monotonic() - started < 10
        assert "queued" in first + rest and text_rest == ""  # what was there to send, then the end
    assert client.get(f"/v1/jobs/{job_id}").status_code == 401


def test_an_empty_idempotency_key_is_422(edge_auth: EdgeAccess) -> None:
    client = edge_auth.add_key(f"empty-idem-{uuid.uuid4().hex[:8]}")
    for value in ("",):  # (h11 strips surrounding blanks, so "  " arrives as this too)
        response = upload(client, corpus_file(PNG), {"Idempotency-Key": value})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_input"
        assert "Idempotency-Key" in response.json()["error"]["message"]
    assert client.get("/v1/jobs").json()["jobs"] == []


def test_uploads_in_progress_per_key_are_capped_before_their_bodies_are_read(edge_auth: EdgeAccess) -> None:
    """Two slow uploads of one key hold its two places: a third is 429 before its body is read, another key's
    upload goes through, and once the slow ones are gone the key uploads again."""
    host, port = edge_auth.url.removeprefix("http://").split(":")
    alice = {"X-API-Key": edge_auth.keys["alice"]}
    slow = []
    try:
        for _ in range(2):  # heads and a little of a 50 MB body each, then nothing: both stay in progress
            conn = socket.create_connection((host, int(port)), timeout=10)
            conn.sendall(_post_head(edge_auth.url, alice, 50_000_000) + b"--edge\r\n")
            slow.append(conn)
        time.sleep(0.5)  # both reached the API
        answer = _answer_within(edge_auth.url, _post_head(edge_auth.url, alice, 50_000_000), 3)
        assert answer.split(b"\r\n", 1)[0].startswith(b"HTTP/1.1 429"), answer[:300]
        assert b"\r\nretry-after: " in answer.lower() and b"OCR_MAX_UPLOADS_PER_KEY" in answer
        assert b'"details": {"limit": "max_uploads_per_key", "value": 2}' in answer
        assert upload(edge_auth["bob"], corpus_file("pyt_test.png")).status_code == 202
    finally:
        for conn in slow:
            conn.close()
    wait_for(lambda: upload(edge_auth["alice"], corpus_file("pyt_test.png")).status_code == 202, 10, "a free place")
