"""Status reads and uploads on the fast paths: a Core SELECT instead of the ORM, links built without a route
lookup, the body serialized once. The answers stay what they were."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ocr_api.schemas import JobOut
from storage.records import jobs as repo
from storage.records.db import make_engine
from storage.records.job_reads import JobRecord, read_job
from storage.records.models import Base, Job
from tests.support import Stack, corpus_file


def test_status_body_and_links_as_uploaded(api_only_stack: Stack) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    files = {"file": ("scan.png", png, "image/png")}
    created = api_only_stack.client.post("/v1/jobs", files=files, data={"formats": "txt,pdf", "deskew": "false"})
    assert created.status_code == 202, created.text
    assert created.headers["content-type"] == "application/json"
    job = JobOut.model_validate(created.json())
    base = f"{api_only_stack.base_url}/v1/jobs/{job.id}"
    assert created.headers["location"] == job.links.self == base
    assert job.links.results == {"txt": f"{base}/result.txt", "pdf": f"{base}/result.pdf"}
    assert (job.links.text, job.links.events) == (f"{base}/text", f"{base}/events")
    assert job.options == {"deskew": False} and job.formats == ["txt", "pdf"] and job.size == len(png)

    status = api_only_stack.client.get(f"/v1/jobs/{job.id}")
    assert status.status_code == 200 and status.headers["content-type"] == "application/json"
    assert status.json() == created.json()


def test_links_follow_the_host_the_client_used(api_only_stack: Stack) -> None:
    job_id = api_only_stack.client.post(
        "/v1/jobs", files={"file": ("a.png", corpus_file("paperless_simple.png").read_bytes())}
    ).json()["id"]
    # A loopback name: in open mode (this stack's) other names are refused (tests/api/test_open_mode.py).
    body = api_only_stack.client.get(f"/v1/jobs/{job_id}", headers={"host": "localhost:8443"}).json()
    assert body["links"]["self"] == f"http://localhost:8443/v1/jobs/{job_id}"


def test_unknown_job_is_404_in_the_error_shape(api_only_stack: Stack) -> None:
    response = api_only_stack.client.get(f"/v1/jobs/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    Base.metadata.create_all(engine)
    return engine


def test_read_job_sees_what_the_orm_sees(sqlite_engine: Engine) -> None:
    from sqlalchemy.orm import Session

    job = Job(id=str(uuid.uuid4()), media_type="image/png", input_key="k", input_size=3, input_sha256="0" * 64,
              formats="txt,json", options={"retry": False}, engine_info={"tesseract": "5"})  # fmt: skip
    with Session(sqlite_engine, expire_on_commit=False) as session:
        repo.add_job(session, job)
        session.commit()
        stored = session.get(Job, job.id)
        assert stored is not None
        expected = JobRecord.of(stored)
    record = read_job(job.id, sqlite_engine)
    assert record == expected
    assert record is not None and record.format_list == ["txt", "json"] and record.created_at.tzinfo is not None
    assert read_job("no-such-job", sqlite_engine) is None
