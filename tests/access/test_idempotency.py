"""Idempotency-Key on POST /v1/jobs: a retry gets the first job (200, the first body), another upload under the
same key is 422, a duplicate while the first is in flight is 409; per API key; through both stacks."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from ocr_client import Client, RetryPolicy
from tests.access.conftest import Access, upload
from tests.support import corpus_file

PNG = "pyt_test.png"


def _jobs(client: httpx.Client) -> list[str]:
    return [j["id"] for j in client.get("/v1/jobs", params={"limit": 500}).json()["jobs"]]


@pytest.fixture(params=["queued_auth", "split_auth"])
def access(request: pytest.FixtureRequest) -> Access:
    """SQLite behind one API (queued_auth), and PostgreSQL (split_auth)."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_a_retry_gets_the_same_job_and_another_upload_under_the_key_is_422(access: Access) -> None:
    client = access.add_key(f"retry-{uuid.uuid4().hex[:8]}")
    key = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}
    first = upload(client, corpus_file(PNG), key, formats="txt,pdf")
    assert first.status_code == 202, first.text
    again = upload(client, corpus_file(PNG), key, formats="txt,pdf")
    assert again.status_code == 200, again.text
    assert again.json() == first.json() and again.headers["location"] == first.headers["location"]
    assert _jobs(client) == [first.json()["id"]]

    other_file = upload(client, corpus_file("tess_HelloGoogle.tif"), key, formats="txt,pdf")
    other_options = upload(client, corpus_file(PNG), key, formats="txt")
    for response in (other_file, other_options):
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert _jobs(client) == [first.json()["id"]]

    # The same Idempotency-Key of another API key is another upload altogether
    stranger = access.add_key(f"stranger-{uuid.uuid4().hex[:8]}")
    theirs = upload(stranger, corpus_file(PNG), key, formats="txt,pdf")
    assert theirs.status_code == 202 and theirs.json()["id"] != first.json()["id"]


def test_a_failed_first_request_leaves_the_key_free(access: Access) -> None:
    client = access.add_key(f"fail-{uuid.uuid4().hex[:8]}")
    key = {"Idempotency-Key": "k"}
    refused = upload(client, corpus_file(PNG), key, lang="xyz")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_input"
    assert upload(client, corpus_file(PNG), key).status_code == 202


def test_concurrent_identical_requests_make_one_job(access: Access) -> None:
    """Eight at once: one makes the job (202); each other one gets that job (200) or, while the first is still
    being stored, 409 with Retry-After. Never a second job."""
    client = access.add_key(f"burst-{uuid.uuid4().hex[:8]}")
    key = {"Idempotency-Key": f"burst-{uuid.uuid4()}"}
    data = corpus_file(PNG).read_bytes()
    start = threading.Barrier(8)
    answers: list[httpx.Response] = []

    def send() -> None:
        start.wait()
        answers.append(client.post("/v1/jobs", files={"file": (PNG, data)}, headers=key))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(202) == 1 and set(statuses) <= {200, 202, 409}, statuses
    job_id = next(a for a in answers if a.status_code == 202).json()["id"]
    for answer in answers:
        if answer.status_code == 200:
            assert answer.json()["id"] == job_id
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "idempotency_key_in_flight"
            assert answer.headers["retry-after"] == "1"
    assert _jobs(client) == [job_id]


def _owner_of(access: Access, name: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(_database_url(access))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT id FROM ocr_api_keys WHERE name = :n"), {"n": name}).scalar_one())
    finally:
        engine.dispose()


def _database_url(access: Access) -> str:
    return access.env.get("OCR_DATABASE_URL") or f"sqlite:///{Path(access.env['OCR_DATA_DIR']) / 'jobs.sqlite3'}"


def _execute(access: Access, sql: str, **params: Any) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(_database_url(access))
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def test_a_duplicate_of_a_request_in_flight_is_409_and_the_client_waits_it_out(access: Access) -> None:
    """The first request's reservation is made by hand here (the window between it and the job is short): the
    duplicate gets 409 until the reservation is gone; ocr_client retries the 409 and then gets a job."""
    name = f"inflight-{uuid.uuid4().hex[:8]}"
    client = access.add_key(name)
    owner = _owner_of(access, name)
    from ocr_api.idempotency import fingerprint

    with corpus_file(PNG).open("rb") as fh:
        fields = {"lang": None, "psm": None, "dpi": None, "formats": None, "options": {}}
        print_ = fingerprint(fh, fields)
    _execute(
        access,
        "INSERT INTO ocr_idempotency_keys (owner, key, fingerprint, created_at, expires_at) "
        "VALUES (:o, 'held', :f, CURRENT_TIMESTAMP, '2999-01-01 00:00:00')",
        o=owner,
        f=print_,
    )
    held = upload(client, corpus_file(PNG), {"Idempotency-Key": "held"})
    assert held.status_code == 409, held.text
    assert held.headers["retry-after"] == "1" and "in flight" in held.json()["error"]["message"]
    assert _jobs(client) == []

    result: dict[str, Any] = {}
    told_to_wait = threading.Event()

    class Watch(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if response.status_code == 409:
                told_to_wait.set()
            return response

    def submit() -> None:
        policy = RetryPolicy(attempts=10)
        with Client(access.url, api_key=access.keys[name], retry=policy, transport=Watch()) as ocr:
            result["job"] = ocr.submit(corpus_file(PNG), idempotency_key="held")

    waiting = threading.Thread(target=submit)
    waiting.start()
    assert told_to_wait.wait(30), "the client saw the 409"
    _execute(access, "DELETE FROM ocr_idempotency_keys WHERE owner = :o AND key = 'held'", o=owner)
    waiting.join(60)
    assert result["job"].id in _jobs(client)


def test_a_lost_202_retried_by_the_client_gets_the_same_job(access: Access) -> None:
    """The service made the job but its answer never arrived: ocr_client sends the upload again with the same
    Idempotency-Key and gets that job, not a second one."""
    name = f"lost-{uuid.uuid4().hex[:8]}"
    client = access.add_key(name)

    class LoseFirstAnswer(httpx.HTTPTransport):
        lost = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.method == "POST" and not self.lost:
                self.lost += 1
                response.read()
                raise httpx.ReadError("connection reset before the answer arrived", request=request)
            return response

    transport = LoseFirstAnswer()
    with Client(access.url, api_key=access.keys[name], retry=RetryPolicy(attempts=3), transport=transport) as ocr:
        job = ocr.submit(corpus_file(PNG), idempotency_key="lost-answer")
    assert transport.lost == 1
    assert _jobs(client) == [job.id]
