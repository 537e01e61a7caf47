"""Job lookups batched per turn of the event loop (ocr_api/lookups.py), against the real read_jobs on SQLite,
and through the API under concurrent status reads."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from ocr_api.lookups import JobLookups
from storage.records import jobs as repo
from storage.records.db import make_engine
from storage.records.job_reads import JobRecord, read_jobs
from storage.records.models import Base, Job
from tests.support import Stack, corpus_file


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.sqlite3'}")
    Base.metadata.create_all(engine)
    return engine


def add_jobs(engine: Engine, count: int) -> list[str]:
    from sqlalchemy.orm import Session

    ids = [str(uuid.uuid4()) for _ in range(count)]
    with Session(engine) as session:
        for job_id in ids:
            repo.add_job(session, Job(id=job_id, media_type="image/png", input_key="k", input_size=1, input_sha256="0"))
        session.commit()
    return ids


class CountingReads:
    """read_jobs on the test database, recording the ids of every call (from the executor's threads)."""

    def __init__(self, engine: Engine, fail: bool = False) -> None:
        self.engine = engine
        self.fail = fail
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, job_ids: Collection[str]) -> dict[str, JobRecord]:
        with self.lock:
            self.calls.append(sorted(job_ids))
        if self.fail:
            raise RuntimeError("database gone")
        return read_jobs(job_ids, self.engine)


def test_lookups_in_one_turn_share_one_query(sqlite_engine: Engine) -> None:
    ids = add_jobs(sqlite_engine, 5)
    reads = CountingReads(sqlite_engine)

    async def scenario() -> tuple[list[JobRecord | None], JobRecord | None]:
        with ThreadPoolExecutor(2) as threads:
            lookups = JobLookups(threads, reads)
            together = await asyncio.gather(*(lookups.get(i) for i in [*ids, ids[0], "no-such-job"]))
            later = await lookups.get(ids[1])
        return together, later

    together, later = asyncio.run(scenario())
    assert [r.id if r else None for r in together] == [*ids, ids[0], None]
    assert later is not None and later.id == ids[1] and later.status == "queued"
    assert reads.calls == [sorted([*ids, "no-such-job"]), [ids[1]]], "one query per turn, each id once"


def test_a_failed_query_fails_every_lookup_of_its_batch(sqlite_engine: Engine) -> None:
    ids = add_jobs(sqlite_engine, 2)
    reads = CountingReads(sqlite_engine, fail=True)

    async def scenario() -> list[object]:
        with ThreadPoolExecutor(1) as threads:
            lookups = JobLookups(threads, reads)
            return await asyncio.gather(*(lookups.get(i) for i in ids), return_exceptions=True)

    results = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) and str(r) == "database gone" for r in results)


def test_read_jobs_leaves_out_unknown_ids(sqlite_engine: Engine) -> None:
    ids = add_jobs(sqlite_engine, 3)
    found = read_jobs([ids[0], ids[2], "nope"], sqlite_engine)
    assert sorted(found) == sorted([ids[0], ids[2]]) and found[ids[2]].id == ids[2]
    assert read_jobs([], sqlite_engine) == {}


def test_concurrent_status_reads_each_get_their_own_job(api_only_stack: Stack) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    ids = [
        api_only_stack.client.post("/v1/jobs", files={"file": (f"{n}.png", png)}, data={"formats": "txt"}).json()["id"]
        for n in range(6)
    ]

    async def read_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api_only_stack.base_url, timeout=30) as client:
            wanted = [*ids * 5, "no-such-job"]
            return await asyncio.gather(*(client.get(f"/v1/jobs/{job_id}") for job_id in wanted))

    responses = asyncio.run(read_all())
    assert [r.json()["id"] for r in responses[:-1]] == ids * 5
    assert [r.json()["filename"] for r in responses[:6]] == [f"{n}.png" for n in range(6)]
    assert responses[-1].status_code == 404 and responses[-1].json()["error"]["code"] == "job_not_found"
