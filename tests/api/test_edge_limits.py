"""Limits of the connection itself (docs/security.md), with short settings: the request head's size and the time
it may take, idle keep-alive, a stalled body (408, nothing left behind), concurrent connections (503)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Stack, base_env

SHORT = {"OCR_HEADER_TIMEOUT_S": "2", "OCR_KEEP_ALIVE_S": "1", "OCR_BODY_TIMEOUT_S": "2", "OCR_MAX_HEADER_KB": "64"}


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A queued API (no worker), keys off, short edge limits, its own TMPDIR."""
    data_dir = tmp_path_factory.mktemp("edge")
    (data_dir / "tmp").mkdir()
    stack = Stack("edge", base_env(data_dir, TMPDIR=str(data_dir / "tmp"), **SHORT), data_dir).start(workers=0)
    yield stack
    stack.stop()


def _connect(stack: Stack, timeout: float = 10) -> socket.socket:
    host, port = stack.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def _closed_within(conn: socket.socket, seconds: float) -> bool:
    """Whether the server closes `conn` within `seconds` (whatever it sends before)."""
    deadline = time.monotonic() + seconds
    conn.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if not conn.recv(65536):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


def test_a_one_mib_header_is_refused_and_normal_requests_pass(edge: Stack) -> None:
    with httpx.Client(base_url=edge.base_url, timeout=10) as client:
        try:
            status = client.get("/healthz", headers={"X-Big": "a" * 1024 * 1024}).status_code
        except httpx.TransportError:
            status = 0  # the connection closed
        assert status in (0, 400, 431), status
        assert client.get("/healthz", headers={"X-Normal": "a" * 4000}).status_code == 200


def test_a_slow_or_silent_request_head_is_cut_off(edge: Stack) -> None:
    with _connect(edge) as silent, _connect(edge) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        try:
            for n in range(3):  # a header line a second keeps it going past the deadline without a limit
                time.sleep(1)
                slow.sendall(f"X-Slow-{n}: 1\r\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed already (OCR_HEADER_TIMEOUT_S=2)
        assert _closed_within(slow, 3) and time.monotonic() - started < 7
        assert _closed_within(silent, 1)


def test_an_idle_keep_alive_connection_is_closed(edge: Stack) -> None:
    with _connect(edge) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        conn.settimeout(5)
        assert conn.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert _closed_within(conn, 4)
        assert time.monotonic() - started < 3  # OCR_KEEP_ALIVE_S=1 (uvicorn's own default is 5)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_stalled_upload_is_408_and_leaves_nothing_behind(edge: Stack) -> None:
    objects = [p for p in _files(edge.data_dir) if "logs" not in p.parts and ".db" not in p.name]
    with _connect(edge) as conn:
        head = (b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3000000\r\n"
                b"Content-Type: multipart/form-data; boundary=edge\r\n\r\n")  # fmt: skip
        part = b'--edge\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        conn.sendall(head + part + b"\0" * 1_500_000)  # past the 1 MiB a spooled file keeps in memory
        started = time.monotonic()
        conn.settimeout(8)
        answer = b""
        while b"408" not in answer.split(b"\r\n", 1)[0] or b"}" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
        assert b"OCR_BODY_TIMEOUT_S" in answer
        assert 1.5 < time.monotonic() - started < 6
    time.sleep(0.5)
    assert _files(edge.data_dir / "tmp") == []
    assert [p for p in _files(edge.data_dir) if "logs" not in p.parts and ".db" not in p.name] == objects
    assert edge.client.get("/v1/jobs").json()["jobs"] == []


def test_connections_over_the_cap_get_503(tmp_path: Path) -> None:
    env = base_env(tmp_path, OCR_MAX_CONNECTIONS="4", OCR_HEADER_TIMEOUT_S="30")
    stack = Stack("edge-cap", env, tmp_path).start(workers=0)
    try:
        held = [_connect(stack) for _ in range(4)]
        time.sleep(0.3)
        try:
            with httpx.Client(base_url=stack.base_url, timeout=10) as client:
                assert client.get("/healthz").status_code == 503
        finally:
            for conn in held:
                conn.close()
        time.sleep(0.3)
        assert httpx.get(stack.base_url + "/healthz", timeout=10).status_code == 200
    finally:
        stack.stop()
