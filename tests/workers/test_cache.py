"""The result cache, run through the real pipeline steps in this process: SQLite, local storage, tesserocr."""

from __future__ import annotations

import io
import json
import uuid

import pytest

from storage import get_storage
from storage.objects.keys import job_prefix, result_key
from storage.records import jobs as repo
from storage.records.db import session_scope
from storage.records.models import Job, JobStatus
from tests.support import corpus_file, insert_job, load_job
from workers import cache, steps
from workers.settings import get_worker_settings

SAMPLE = "tess_HelloGoogle.tif"


pytestmark = pytest.mark.usefixtures("local_env")


def submit(
    *,
    lang: str = "eng",
    psm: int | None = None,
    formats: str = "txt,json",
    owner: str | None = None,
    filename: str | None = None,
) -> str:
    job_id = str(uuid.uuid4())
    data = corpus_file(SAMPLE).read_bytes()
    name = filename or f"{job_id}.tif"
    return insert_job(data, "image/tiff", job_id, filename=name, lang=lang, psm=psm, formats=formats, owner=owner)


def all_objects(job_id: str) -> bytes:
    storage = get_storage()
    return b"".join(storage.read_bytes(key) for key in storage.list_keys(job_prefix(job_id)))


def pdf_title(job_id: str) -> str | None:
    """The PDF's title, the same in its document information and its XMP metadata (a PDF/A still)."""
    import pikepdf
    from pikepdf import pdfa

    data = get_storage().read_bytes(result_key(job_id, "pdf"))
    assert pdfa.validate_written(io.BytesIO(data), "2b").passed
    with pikepdf.open(io.BytesIO(data)) as pdf:
        title = str(pdf.docinfo["/Title"]) if "/Title" in pdf.docinfo else None
        assert pdf.open_metadata().get("dc:title") == title
    return title


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
        cache.cache_key("0" * 64, info, tenant="key-a"),
        cache.cache_key("0" * 64, info, tenant="key-b"),
        cache.cache_key("0" * 64, info, tenant=cache.OPEN_TENANT),
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


def test_another_tenant_does_not_reuse_a_result() -> None:
    first = submit(owner="key-a")
    assert run(first) == [1]
    assert run(submit(owner="key-b")) == [1], "another key's upload of the same bytes is recognized anew"
    assert run(submit()) == [1], "so is one made without a key (the open tenant)"
    assert run(submit()) == [], "the open tenant's jobs reuse each other's"
    again = submit(owner="key-a")
    assert run(again) == []
    assert (load_job(again).engine_info or {})["cache_hit_of"] == first


def test_a_hit_names_the_new_job_and_its_file_only() -> None:
    formats = "txt,json,alto,hocr,pdf"
    first = submit(owner="key-a", filename="first-secret.tif", formats=formats)
    assert run(first) == [1]
    assert b"first-secret.tif" in get_storage().read_bytes(result_key(first, "alto"))
    second = submit(owner="key-a", filename="second.tif", formats=formats)
    assert run(second) == []
    alto = get_storage().read_bytes(result_key(second, "alto"))
    assert b"<fileName>second.tif</fileName>" in alto and b"first-secret" not in alto
    assert pdf_title(second) == "second.tif"
    document = json.loads(get_storage().read_bytes(result_key(second, "json")))
    assert (document["job_id"], document["filename"]) == (second, "second.tif")
    assert first.encode() in all_objects(second), "the same key may see which of its jobs was reused"
    nameless = submit(owner="key-a", formats=formats)
    with session_scope() as session:
        session.get(Job, nameless).filename = None  # type: ignore[union-attr]
    assert run(nameless) == []
    assert b"<fileName>" not in get_storage().read_bytes(result_key(nameless, "alto"))
    assert pdf_title(nameless) is None


def test_a_shared_cache_never_names_the_other_tenants_job_or_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_RESULT_CACHE_SCOPE", "global")
    get_worker_settings.cache_clear()
    formats = "txt,json,alto,hocr,pdf"
    first = submit(owner="key-a", filename="a-secret.tif", formats=formats)
    assert run(first) == [1]
    second = submit(owner="key-b", filename="b.tif", formats=formats)
    assert run(second) == [], "OCR_RESULT_CACHE_SCOPE=global shares the cache on purpose"
    assert "cache_hit_of" not in (load_job(second).engine_info or {})
    objects = all_objects(second)
    assert first.encode() not in objects and b"a-secret" not in objects
    assert pdf_title(second) == "b.tif"
    assert b"<fileName>b.tif</fileName>" in get_storage().read_bytes(result_key(second, "alto"))
