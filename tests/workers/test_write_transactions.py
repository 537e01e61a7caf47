"""Write transactions per job: the workers' share of the database's single writer (SQLite) is what limits
small jobs at high concurrency (issue 14), so a one-page job must start and finish in one each.

The task runs in this process (nothing is enqueued for a one-page job); the queueing is tested end to end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from storage import get_storage
from storage.objects.keys import job_prefix, page_key, result_key
from storage.records.db import get_engine, session_scope
from storage.records.models import Page
from tests.support import corpus_file, insert_job, load_job
from workers import tasks, timings

WRITE = re.compile(r"\s*(INSERT INTO|UPDATE|DELETE FROM)\s+(\w+)", re.IGNORECASE)


@pytest.fixture
def write_transactions(local_env: Path) -> Iterator[list[list[str]]]:
    """The statements of every committed transaction that wrote something, in order."""
    engine = get_engine()
    current: dict[int, list[str]] = {}
    committed: list[list[str]] = []

    def on_execute(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if found := WRITE.match(statement):
            current.setdefault(id(conn.connection), []).append(f"{found[1].split()[0].upper()} {found[2]}")

    def on_commit(conn: Any) -> None:
        if statements := current.pop(id(conn.connection), None):
            committed.append(statements)

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    yield committed
    event.remove(engine, "before_cursor_execute", on_execute)
    event.remove(engine, "commit", on_commit)


def test_a_one_page_job_starts_and_finishes_in_one_write_transaction_each(
    write_transactions: list[list[str]],
) -> None:
    job_id = insert_job(corpus_file("tess_HelloGoogle.tif").read_bytes(), "image/tiff")
    write_transactions.clear()  # the upload's own
    tasks.prepare_job.apply(args=[job_id], task_id="the-task")
    job = load_job(job_id)
    assert job.status == "succeeded" and job.pages_done == 1
    start, finish = write_transactions  # exactly two
    assert start[0] == "UPDATE ocr_jobs" and "INSERT ocr_pages" in start, start
    assert "UPDATE ocr_pages" in finish[0] and finish.count("UPDATE ocr_jobs") == 2, finish
    with session_scope() as session:
        page = session.get(Page, (job_id, 1))
        assert page is not None
        # Claimed as the job started: one delivery counted, and the task a cancel would kill is known.
        assert (page.status, page.attempts, page.task_id) == ("succeeded", 1, "the-task")
        assert page.claimed_at is not None and page.finished_at is not None
    # Its results come from the output in memory: no page JSON is written for a one-page job.
    keys = set(get_storage().list_keys(job_prefix(job_id)))
    assert result_key(job_id, "txt") in keys and page_key(job_id, 1) not in keys, keys


def test_the_steps_of_a_one_page_job_are_timed(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = timings.observe
    monkeypatch.setattr(timings, "observe", lambda name, seconds: (seen.append(name), real(name, seconds)))
    job_id = insert_job(corpus_file("tess_HelloGoogle.tif").read_bytes(), "image/tiff")
    tasks.prepare_job.apply(args=[job_id])
    assert load_job(job_id).status == "succeeded"
    # ("between" too when an earlier test ran a task in this process: the gap since that one's end)
    steps = [name for name in seen if name != "between"]
    # (no "store": a one-page job keeps no page JSON, and its searchable PDF is made at finalize)
    assert steps == ["start", "prepare", "load", "recognize", "finalize", "finish", "task"]
