"""The result cache, run through the real pipeline steps in this process: SQLite, local storage, tesserocr."""

from __future__ import annotations

import json
import uuid

import pytest

from storage import get_storage
from storage.objects.keys import job_prefix, result_key
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.models import JobStatus
from tests.support import corpus_file, insert_job, load_job
from workers import cache, steps
from workers.settings import get_worker_settings

SAMPLE = "tess_HelloGoogle.tif"


pytestmark = pytest.mark.usefixtures("local_env")


def submit(*, lang: str = "eng", psm: int | None = None, formats: str = "txt,json") -> str:
    job_id = str(uuid.uuid4())
    data = corpus_file(SAMPLE).read_bytes()
    return insert_job(data, "image/tiff", job_id, filename=f"{job_id}.tif", lang=lang, psm=psm, formats=formats)


def run(job_id: str) -> list[int]:
    """Run the pipeline steps as the tasks would; returns the pages that prepare sent to OCR."""
    todo = steps.prepare(job_id).pages
    for page_no in todo:
        steps.process_page(job_id, page_no)
    if todo:
        steps.finalize_job(job_id)
    return todo


def test_key_changes_with_everything_that_changes_the_output() -> None:
    info = {
        "engine": "tesserocr",
        "tesseract_version": "5.5.4",
        "models": [{"name": "eng", "sha256": "a" * 64}],
        "options": {"lang": "eng", "psm": None, "dpi": None, "formats": ["txt"]},
    }
    base = cache.cache_key("0" * 64, info)
    assert cache.cache_key("0" * 64, dict(reversed(info.items()))) == base, "order must not matter"
    variants = [
        cache.cache_key("1" * 64, info),
        cache.cache_key("0" * 64, {**info, "engine": "pytesseract"}),
        cache.cache_key("0" * 64, {**info, "tesseract_version": "5.3.0"}),
        cache.cache_key("0" * 64, {**info, "models": [{"name": "eng", "sha256": "b" * 64}]}),
        *(
            cache.cache_key("0" * 64, {**info, "options": {**info["options"], name: value}})  # type: ignore[dict-item]
            for name, value in (("lang", "deu"), ("psm", 6), ("dpi", 300), ("formats", ["txt", "hocr"]))
        ),
        cache.cache_key("0" * 64, {**info, "options": {**info["options"], "deskew": True}}),  # type: ignore[dict-item]
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_identical_job_reuses_the_files_without_ocr() -> None:
    first = submit()
    assert run(first) == [1]
    second = submit()
    assert run(second) == [], "the second job must not be sent to OCR"

    old, new = load_job(first), load_job(second)
    assert new.status == JobStatus.SUCCEEDED and new.started_at and new.finished_at
    assert (new.pages_total, new.pages_done) == (1, 1)
    assert new.cache_key == old.cache_key and new.cache_key
    assert new.engine_info == {**(old.engine_info or {}), "cache_hit_of": first}
    storage = get_storage()
    assert storage.read_bytes(result_key(second, "txt")) == storage.read_bytes(result_key(first, "txt"))
    assert b"Hello" in storage.read_bytes(result_key(second, "txt"))
    # Every object of the first job is there for the second (a one-page job keeps no page JSON of its own).
    copied = {key.split("/", 2)[2] for key in storage.list_keys(job_prefix(second))}
    assert {key.split("/", 2)[2] for key in storage.list_keys(job_prefix(first))} <= copied
    document = json.loads(storage.read_bytes(result_key(second, "json")))
    assert document["job_id"] == second and document["filename"] == f"{second}.tif"
    assert document["engine"]["cache_hit_of"] == first
    assert document["pages"] == json.loads(storage.read_bytes(result_key(first, "json")))["pages"]
    with session_scope() as session:
        page, old_page = repo.get_page(session, second, 1), repo.get_page(session, first, 1)
        assert page is not None and old_page is not None
        assert page.status == "succeeded" and page.info == old_page.info
        events = [e.data for e in repo.events_after(session, second, 0)]
    assert [e.get("status") for e in events if "status" in e] == ["queued", "running", "succeeded"]


def test_other_settings_are_not_served_from_the_cache() -> None:
    assert run(submit()) == [1]
    assert run(submit(lang="deu")) == [1]
    assert run(submit(psm=7)) == [1]
    assert run(submit(formats="txt")) == [1]


def test_a_job_whose_files_are_gone_is_not_reused() -> None:
    first = submit()
    run(first)
    get_storage().delete(result_key(first, "json"))
    second = submit()
    assert run(second) == [1]
    assert "cache_hit_of" not in (load_job(second).engine_info or {})
    assert json.loads(get_storage().read_bytes(result_key(second, "json")))["job_id"] == second


def test_a_job_still_running_is_not_reused() -> None:
    first = submit()
    assert steps.prepare(first).pages == [1]
    assert run(submit()) == [1]


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    run(submit())
    monkeypatch.setenv("OCR_RESULT_CACHE", "false")
    get_worker_settings.cache_clear()
    second = submit()
    assert run(second) == [1]
    assert load_job(second).cache_key, "the key is still recorded, for when the cache is turned on again"
