"""An unexpected error's 500 carries the security headers, X-Request-ID and the one JSON shape (the app as
create_app builds it, in this process, with a route that raises); HEAD answers where GET does, with GET's
headers and no body (a real API process and worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ocr_api.app import create_app
from ocr_api.settings import get_api_settings
from tests.support import Stack, corpus_file

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}


@pytest.fixture
def failing_app() -> Iterator[FastAPI]:
    get_api_settings.cache_clear()
    app = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.post("/v1/boom-async")
    async def boom_async() -> None:
        raise KeyError("another bug")

    yield app
    get_api_settings.cache_clear()


def call(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        # raise_app_exceptions=False: what a client would see, even where the app also raises.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(go())


@pytest.mark.parametrize(("method", "path"), [("GET", "/boom"), ("POST", "/v1/boom-async")])
def test_a_500_carries_the_security_headers_the_request_id_and_the_json_shape(
    failing_app: FastAPI, method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    response = call(failing_app, method, path, headers={"X-Request-ID": "req-500-check"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "unexpected server error; see the server log"}
    }
    assert "bug" not in response.text  # nothing of the exception reaches the client
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers["x-request-id"] == "req-500-check"
    assert "server-timing" in response.headers
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


# -- HEAD ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished_job(redis_stack: Stack) -> str:
    job = redis_stack.run(corpus_file("pyt_test.png"), formats="txt,json,pdf")
    assert job["status"] == "succeeded", job
    return str(job["id"])


def same_headers_no_body(client: httpx.Client, path: str) -> httpx.Response:
    got = client.get(path, headers={"Accept-Encoding": "identity"})
    head = client.head(path, headers={"Accept-Encoding": "identity"})
    assert head.status_code == got.status_code == 200, (path, head.status_code, got.status_code)
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert int(head.headers["content-length"]) == len(got.content), path
    assert head.headers["x-content-type-options"] == "nosniff" and head.headers["x-request-id"]
    return head


def test_head_answers_where_get_does(redis_stack: Stack, finished_job: str) -> None:
    client = redis_stack.client
    for path in ("/healthz", "/readyz", "/v1/languages", "/", "/v1/jobs", f"/v1/jobs/{finished_job}",
                 f"/v1/jobs/{finished_job}/deliveries"):  # fmt: skip
        same_headers_no_body(client, path)
    for fmt in ("txt", "json", "pdf"):
        head = same_headers_no_body(client, f"/v1/jobs/{finished_job}/result.{fmt}")
        assert "content-disposition" in head.headers
    assert "content-security-policy" in client.head("/").headers
    # The streams are not downloads: their HEAD stays 405, in the JSON shape.
    assert client.head(f"/v1/jobs/{finished_job}/events").status_code == 405


def test_head_of_a_missing_job_is_its_404_without_a_body(redis_stack: Stack) -> None:
    head = redis_stack.client.head("/v1/jobs/00000000-0000-4000-8000-000000000000")
    assert head.status_code == 404 and head.content == b""
    assert head.headers["content-type"] == "application/json"
