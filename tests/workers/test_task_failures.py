"""How task errors end up in the job's status.

The tasks run in this process, and only where they enqueue nothing; the queueing itself is tested end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.records import jobs as repo
from storage.records.db import session_scope
from tests.support import corpus_file, insert_job, load_job
from tests.workers.ocr.fakes import FlakyEngine, HookedEngine
from workers import steps, tasks
from workers.settings import get_worker_settings


def make_job(data: bytes | None, media_type: str = "image/png", lang: str = "eng") -> str:
    return insert_job(data, media_type, lang=lang)


def test_missing_input_fails_the_job_with_the_reason(local_env: Path) -> None:
    job_id = make_job(None)
    tasks.prepare_job.apply(args=[job_id])
    job = load_job(job_id)
    assert job.status == "failed" and job.error_code == "input_missing"
    assert "input" in (job.error_message or "")


def test_missing_language_model_fails_the_job(local_env: Path) -> None:
    job_id = make_job(corpus_file("tess_HelloGoogle.tif").read_bytes(), "image/tiff", lang="eng+zzz")
    assert steps.prepare(job_id).pages == [1]
    tasks.ocr_page.apply(args=[job_id, 1])
    job = load_job(job_id)
    assert job.status == "failed" and job.error_code == "engine_unavailable"
    assert "zzz" in (job.error_message or "")


def test_too_many_pages_fails_with_the_limit(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_MAX_PAGES", "2")
    get_worker_settings.cache_clear()
    job_id = make_job(corpus_file("paperless_multi-page-images.tiff").read_bytes(), "image/tiff")
    tasks.prepare_job.apply(args=[job_id])
    job = load_job(job_id)
    assert job.status == "failed" and job.error_code == "too_many_pages"
    assert "3 pages" in (job.error_message or "") and "OCR_MAX_PAGES=2" in (job.error_message or "")


def test_a_page_that_keeps_coming_back_fails_the_job(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_PAGE_MAX_ATTEMPTS", "1")
    get_worker_settings.cache_clear()
    job_id = make_job(corpus_file("tess_HelloGoogle.tif").read_bytes(), "image/tiff")
    assert steps.prepare(job_id).pages == [1]
    with session_scope() as session:
        assert repo.claim_page(session, job_id, 1) == repo.PageClaim(attempts=1, last_error=None)
        # as if a worker died on it once already
    tasks.ocr_page.apply(args=[job_id, 1])
    job = load_job(job_id)
    assert job.status == "failed" and job.error_code == "page_failed"
    assert (job.error_message or "").startswith("page 1: gave up after 1 attempts (the worker was lost each time)")


def test_a_failing_page_is_retried(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = make_job(corpus_file("paperless_multi-page-images.tiff").read_bytes(), "image/tiff")
    assert steps.prepare(job_id).pages == [1, 2, 3]
    flaky = FlakyEngine(failures=1)
    monkeypatch.setattr(steps, "get_engine", lambda: flaky)
    tasks.ocr_page.apply(args=[job_id, 1])
    with session_scope() as session:
        page = repo.get_page(session, job_id, 1)
        assert page is not None and page.status == "succeeded" and page.attempts == 2
    assert load_job(job_id).status == "running" and load_job(job_id).pages_done == 1


def test_a_page_that_keeps_failing_fails_the_job_with_its_number(
    local_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = make_job(corpus_file("paperless_multi-page-images.tiff").read_bytes(), "image/tiff")
    steps.prepare(job_id)
    flaky = FlakyEngine(failures=100)
    monkeypatch.setattr(steps, "get_engine", lambda: flaky)
    tasks.ocr_page.apply(args=[job_id, 2])
    job = load_job(job_id)
    assert job.status == "failed" and (job.error_message or "").startswith("page 2:")
    assert "RuntimeError: engine crashed" in (job.error_message or "")
    with session_scope() as session:
        page = repo.get_page(session, job_id, 2)
        assert page is not None and page.attempts == get_worker_settings().page_max_attempts


def cancel(job_id: str) -> None:
    with session_scope() as session:
        assert repo.cancel_job(session, job_id).cancelled


def delete(job_id: str) -> None:
    from storage import get_storage
    from storage.objects.keys import job_prefix

    with session_scope() as session:
        repo.delete_job(session, job_id)
    get_storage().delete_prefix(job_prefix(job_id))


def test_a_page_that_finishes_after_a_cancel_writes_nothing(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import stored_files

    job_id = insert_job(corpus_file("tess_HelloGoogle.tif").read_bytes(), "image/tiff", formats="txt,pdf")
    assert steps.prepare(job_id).pages == [1]
    monkeypatch.setattr(steps, "get_engine", lambda: HookedEngine(lambda: cancel(job_id)))
    tasks.ocr_page.apply(args=[job_id, 1])
    job = load_job(job_id)
    assert job.status == "cancelled" and job.pages_done == 0 and job.error_code is None
    assert [p.name for p in stored_files(local_env) if job_id in p.parts] == ["input"]
    with session_scope() as session:
        page = repo.get_page(session, job_id, 1)
        assert page is not None and page.status == "pending"


def test_a_page_that_finishes_after_a_delete_leaves_no_file(local_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support import stored_files

    job_id = make_job(corpus_file("tess_HelloGoogle.tif").read_bytes(), "image/tiff")
    assert steps.prepare(job_id).pages == [1]
    monkeypatch.setattr(steps, "get_engine", lambda: HookedEngine(lambda: delete(job_id)))
    tasks.ocr_page.apply(args=[job_id, 1])
    assert [p for p in stored_files(local_env) if job_id in p.parts] == []


def test_a_cancelled_job_is_not_started_or_finalized(local_env: Path) -> None:
    job_id = make_job(corpus_file("tess_HelloGoogle.tif").read_bytes(), "image/tiff")
    cancel(job_id)
    tasks.prepare_job.apply(args=[job_id])
    assert load_job(job_id).status == "cancelled" and load_job(job_id).pages_total is None
