"""Ids, cursors and URLs checked at the edge, on SQLite and PostgreSQL: a job id that is no UUID is a 404 before
any query, a NUL in a cursor or a callback_url is a 422, and one bad id never fails the lookups batched with it.
Every text field is bounded to what both databases store."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from ocr_api.lookups import JobLookups
from storage.records import jobs as repo
from storage.records.db import make_engine
from storage.records.job_reads import JobRecord, read_jobs
from storage.records.models import Base, Job
from tests.support import Stack, base_env, corpus_file, temporary_pg_database

BAD_IDS = ["%00", "abc%00", f"{uuid.uuid4()}%00", "%2E%2E", "%0A", "x" * 300, str(uuid.uuid4()).upper()]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API on SQLite and on PostgreSQL with no worker (jobs stay queued); callback URLs to loopback allowed, so
    that what reaches the database is what the test sent."""
    data_dir = tmp_path_factory.mktemp(f"ids-{request.param}")
    env = base_env(data_dir, OCR_WEBHOOK_ALLOW_PRIVATE="true", OCR_WEBHOOK_SECRET="s" * 32)
    if request.param == "postgresql":
        env["OCR_DATABASE_URL"] = request.getfixturevalue("pg_database_url")
    stack = Stack(f"ids-{request.param}", env, data_dir).start(workers=0)
    yield stack
    stack.stop()


def _job(api: Stack, **fields: str) -> httpx.Response:
    png = corpus_file("paperless_simple.png").read_bytes()
    return api.client.post("/v1/jobs", files={"file": ("a.png", png, "image/png")}, data={"formats": "txt", **fields})


def _not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "job_not_found"


def test_an_id_that_is_no_uuid_is_404_on_every_job_route(api: Stack) -> None:
    for job_id in BAD_IDS:
        for method, path in [
            ("GET", "/v1/jobs/{}"),
            ("GET", "/v1/jobs/{}/result.txt"),
            ("GET", "/v1/jobs/{}/text"),
            ("GET", "/v1/jobs/{}/events"),
            ("GET", "/v1/jobs/{}/deliveries"),
            ("POST", "/v1/jobs/{}/cancel"),
            ("DELETE", "/v1/jobs/{}"),
        ]:
            _not_found(api.client.request(method, path.format(job_id)))
    assert api.client.get("/readyz").status_code == 200


def test_a_burst_with_nul_ids_mixed_in_answers_every_good_request(api: Stack) -> None:
    made = _job(api)
    assert made.status_code == 202, made.text
    job_id = made.json()["id"]

    async def bursts() -> list[tuple[str, httpx.Response]]:
        async with httpx.AsyncClient(base_url=api.base_url, timeout=60) as client:
            answers: list[tuple[str, httpx.Response]] = []
            for _ in range(20):  # 20 bursts of 20: 19 good, one NUL id in each
                wanted = [job_id] * 10 + ["%00"] + [job_id] * 9
                got = await asyncio.gather(*(client.get(f"/v1/jobs/{i}") for i in wanted))
                answers += zip(wanted, got, strict=True)
            return answers

    answers = asyncio.run(bursts())
    assert len(answers) == 400
    for wanted, response in answers:
        if wanted == job_id:
            assert response.status_code == 200 and response.json()["id"] == job_id, response.text
        else:
            _not_found(response)


def test_a_cursor_holding_nul_or_junk_is_422(api: Stack) -> None:
    nul_inside = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|\x00").decode().rstrip("=")
    not_an_id = base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|x' OR 1=1").decode().rstrip("=")
    for cursor in ["\x00", "abc\x00def", nul_inside, not_an_id, "%%%", "a" * 1000]:
        response = api.client.get("/v1/jobs", params={"cursor": cursor})
        assert response.status_code == 422, (cursor, response.text)
        assert response.json()["error"]["code"] in ("invalid_input", "invalid_request")  # the service's, FastAPI's
    listed = api.client.get("/v1/jobs", params={"limit": 1})
    assert listed.status_code == 200
    if cursor := listed.json()["next_cursor"]:
        assert api.client.get("/v1/jobs", params={"cursor": cursor}).status_code == 200


def test_a_callback_url_holding_nul_or_control_characters_is_422(api: Stack) -> None:
    assert _job(api, callback_url="http://127.0.0.1:9/hook").status_code == 202, "loopback is allowed here"
    for url in [
        "http://127.0.0.1:9/\x00",
        "http://127.0.0.1:9/a\x00b",
        "http://127.0.0.1:9/a\r\nX: y",
        "http://127.0.0.1:9/\t",
        "http://127.0.0.1:9/\x7f",
    ]:
        response = _job(api, callback_url=url)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["error"]["code"] == "invalid_input"
        assert response.json()["error"]["details"] == {"field": "callback_url"}


def test_text_options_longer_than_the_columns_are_422(api: Stack) -> None:
    long_lang = "+".join(["eng"] * 40)  # 159 characters of installed languages: SQLite would store it
    for field, value in [
        ("lang", long_lang),
        ("formats", ",".join(["txt"] * 20)),
        ("callback_url", "http://a/" + "x" * 2000),
    ]:
        response = _job(api, **{field: value})
        assert response.status_code == 422, (field, response.text)
        assert field in response.text
    at_the_limit = _job(api, lang="+".join(["eng"] * 32))  # 127 characters
    assert at_the_limit.status_code == 202, at_the_limit.text


def test_a_long_file_name_is_shortened_and_the_upload_works(api: Stack) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    for name in ["é" * 1000 + ".png", "a" * 1500, "\u202e" * 300 + "b.png", "../" * 300 + "c.png"]:
        made = api.client.post("/v1/jobs", files={"file": (name, png, "image/png")}, data={"formats": "txt"})
        assert made.status_code == 202, made.text
        stored = api.client.get(f"/v1/jobs/{made.json()['id']}").json()["filename"]
        assert 0 < len(stored) <= 200 and "\x00" not in stored
        assert stored.endswith(".png") == name.endswith(".png")


@pytest.fixture(params=["redis_stack", "rabbit_stack"])
def worked(request: pytest.FixtureRequest) -> Stack:
    """API and worker: Redis and SQLite, RabbitMQ and PostgreSQL."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_a_last_event_id_past_any_event_resumes_after_all_of_them(worked: Stack) -> None:
    job = worked.run(corpus_file("paperless_simple.png"), formats="txt")
    events = f"/v1/jobs/{job['id']}/events"
    whole = worked.client.get(events)
    assert whole.status_code == 200 and "event: status" in whole.text
    for huge in ["2147483648", "9223372036854775807", "9223372036854775808", "9" * 40]:
        resumed = worked.client.get(events, headers={"Last-Event-ID": huge})
        assert resumed.status_code == 200, (huge, resumed.text)
        assert resumed.text.startswith("retry: ") and "event:" not in resumed.text, "nothing after it, and no error"
    for junk in ["-1", "x", "1e3", "9" * 5000]:
        refused = worked.client.get(events, headers={"Last-Event-ID": junk})
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", junk
    assert worked.client.get(events, headers={"Last-Event-ID": "1"}).status_code == 200


# -- the batch itself: a query that fails for one id is read again id by id ---------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    with temporary_pg_database("ocr_ids") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()


def test_one_bad_id_fails_only_its_own_lookup(engine: Engine) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    with Session(engine) as session:
        for job_id in ids:
            repo.add_job(session, Job(id=job_id, media_type="image/png", input_key="k", input_size=1, input_sha256="0"))
        session.commit()
    calls: list[list[str]] = []

    def reads(job_ids: list[str]) -> dict[str, JobRecord]:
        calls.append(list(job_ids))
        if engine.dialect.name == "sqlite" and any("\x00" in job_id for job_id in job_ids):
            # What PostgreSQL itself does with a NUL in a text parameter (SQLite would find nothing).
            raise DataError("SELECT", None, ValueError("PostgreSQL text fields cannot contain NUL (0x00) bytes"))
        return read_jobs(job_ids, engine)

    async def scenario() -> list[object]:
        with ThreadPoolExecutor(2) as threads:
            lookups = JobLookups(threads, reads)
            wanted = [ids[0], "bad\x00", ids[1], "missing", ids[2]]
            return await asyncio.gather(*(lookups.get(i) for i in wanted), return_exceptions=True)

    got = asyncio.run(scenario())
    assert [r.id if isinstance(r, JobRecord) else r for r in got[:1] + got[2:3] + got[4:]] == ids
    assert isinstance(got[1], DataError) and "NUL" in str(got[1]) and got[3] is None
    assert len(calls) == 1 + 5, "the failed batch, then each id alone"


def test_a_nul_id_sent_to_postgresql_is_an_error_there() -> None:
    """Why ids are checked before any query: PostgreSQL refuses a NUL (SQLite just finds nothing)."""
    with temporary_pg_database("ocr_ids") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        with pytest.raises(DataError, match="NUL"):
            read_jobs(["bad\x00"], engine)
        engine.dispose()
