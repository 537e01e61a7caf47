"""Result cache: a job whose input bytes and output-changing settings match an earlier succeeded job
gets a copy of that job's files instead of a second OCR run.

The key covers the input's sha256 and everything `steps.engine_info` records: engine name and version,
the sha256 of every model, lang, psm, dpi, formats and the job's options. A new engine, model or option
therefore changes the key by itself. OCR_RESULT_CACHE=false turns the cache off.

The cache is a tenant's own (OCR_RESULT_CACHE_SCOPE=tenant, the default): the key and the lookup include the
job's owner (jobs made without a key are one tenant, "open"), so nobody learns, from a result or from how fast
it came, that another key uploaded the same bytes. A copy names the new job and its file only: the JSON meta,
ALTO's <fileName> and the PDF's title are rewritten, and `engine.cache_hit_of` (the source job's id) is kept
only when both jobs have the same owner (OCR_RESULT_CACHE_SCOPE=global shares the cache across tenants).
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
from typing import Any

from ocr_client.options import MEDIA_TYPES
from sqlalchemy.orm import Session

from storage import ObjectNotFound, Storage, StorageError
from storage.objects.keys import input_key, job_prefix, result_key
from storage.records import jobs as repo
from storage.records.cached_jobs import ANY_OWNER, CachedJob
from storage.records.cached_jobs import find_cached_job as _find_cached_job
from storage.records.db import session_scope
from storage.records.job_reads import JobRecord
from workers import metrics
from workers.job_end import job_ended
from workers.settings import get_worker_settings

log = logging.getLogger(__name__)
# Bump when what a cached result contains changes without engine_info changing (2: the searchable PDF keeps
# the user's pages, boxes are on the page's own grid; 3: its layer leaves out the words a page has already, a
# TIFF page's JPEG data is kept, an MPO is one page).
KEY_VERSION = 3


OPEN_TENANT = "open"  # the one tenant of the jobs made without a key


def cache_tenant(job: JobRecord) -> str | None:
    """Whose results `job` may reuse: its owner ("open" without a key), or None when the cache is shared."""
    if get_worker_settings().result_cache_scope == "global":
        return None
    return job.owner or OPEN_TENANT


def cache_key(input_sha256: str, engine_info: dict[str, Any], tenant: str | None = None) -> str:
    material = {"key_version": KEY_VERSION, "input_sha256": input_sha256, **engine_info}
    if tenant is not None:
        material["tenant"] = tenant
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def find_cached_job(session: Session, key: str, job: JobRecord) -> CachedJob | None:
    """The earlier job whose results `job` may reuse (workers/steps.py): within its tenant unless shared."""
    owner = ANY_OWNER if cache_tenant(job) is None else job.owner
    return _find_cached_job(session, key, job.id, owner)


def _media_type(key: str) -> str | None:
    return MEDIA_TYPES.get(key.rsplit(".", 1)[-1])


def _rewrite_json_meta(data: bytes, job: JobRecord, engine_info: dict[str, Any]) -> bytes:
    """result.json names its job: point it at the new one."""
    document = json.loads(data)
    for name, value in (("job_id", job.id), ("filename", job.filename), ("engine", engine_info)):
        if name in document:
            document[name] = value
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


def _alto_file_name(filename: str | None) -> bytes:
    """ALTO's source element as outputs/alto.py writes it (nothing without a file name)."""
    if not filename:
        return b""
    escaped = html.escape(filename, quote=True)
    return f"<sourceImageInformation><fileName>{escaped}</fileName></sourceImageInformation>\n".encode()


def _rewrite_alto(data: bytes, source: CachedJob, job: JobRecord) -> bytes:
    """result.alto names its file: name the new job's."""
    old, new = _alto_file_name(source.filename), _alto_file_name(job.filename)
    if old:
        return data.replace(old, new, 1)
    return data.replace(b"<OCRProcessing ", new + b"<OCRProcessing ", 1)


def _rewrite_pdf(data: bytes, job: JobRecord) -> bytes:
    """result.pdf's title is its file's name (workers/steps.py): the new job's."""
    from workers.ocr.pdf.archive import retitle

    return retitle(data, job.filename)


def _copy_object(
    storage: Storage, key: str, target: str, source: CachedJob, job: JobRecord, info: dict[str, Any]
) -> None:
    if key == result_key(source.id, "json"):
        storage.put_bytes(target, _rewrite_json_meta(storage.read_bytes(key), job, info), _media_type(key))
    elif key == result_key(source.id, "alto"):
        storage.put_bytes(target, _rewrite_alto(storage.read_bytes(key), source, job), _media_type(key))
    elif key == result_key(source.id, "pdf") and source.filename != job.filename:
        storage.put_bytes(target, _rewrite_pdf(storage.read_bytes(key), job), _media_type(key))
    else:
        storage.copy(key, target)


def copy_job_files(storage: Storage, source: CachedJob, job: JobRecord, engine_info: dict[str, Any]) -> bool:
    """Copy every result and page object of `source` to `job`; False when one of them is gone."""
    wanted = set(job.format_list) | {"txt"}
    try:
        if not all(storage.exists(result_key(source.id, fmt)) for fmt in wanted):
            return False
        src_prefix, dst_prefix = job_prefix(source.id) + "/", job_prefix(job.id) + "/"
        for key in storage.list_keys(job_prefix(source.id)):
            if key == input_key(source.id):
                continue
            _copy_object(storage, key, dst_prefix + key[len(src_prefix) :], source, job, engine_info)
    except (ObjectNotFound, StorageError, ValueError) as exc:
        # Deleted or damaged while we copied: run OCR instead. The half-made copies are overwritten then.
        log.info("result cache: cannot reuse job %s for %s: %s", source.id, job.id, exc)
        return False
    return True


def complete_from_cache(storage: Storage, job: JobRecord, source: CachedJob, key: str) -> bool:
    """Finish a queued job with a copy of `source`'s results; False when they cannot be reused."""
    engine_info = dict(source.engine_info)
    engine_info.pop("cache_hit_of", None)
    if source.owner == job.owner:  # another tenant's job id is never shown (OCR_RESULT_CACHE_SCOPE=global)
        engine_info["cache_hit_of"] = source.id
    if not copy_job_files(storage, source, job, engine_info):
        return False
    ended = False
    with session_scope() as session:
        if repo.start_job(session, job.id, source.pages_total, engine_info, key) is not None:
            for page_no in range(1, source.pages_total + 1):
                repo.finish_page(session, job.id, page_no, source.page_info[page_no])
            ended = repo.succeed_job(session, job.id)
            log.info("job %s: results reused from job %s (same input and settings)", job.id, source.id)
            metrics.cache_hit()
    if ended:
        job_ended(job)
    # When start_job found the job no longer queued, another delivery of it is already on its way.
    return True
