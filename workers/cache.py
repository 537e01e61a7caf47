"""Result cache: a job whose input bytes and output-changing settings match an earlier succeeded job
gets a copy of that job's files instead of a second OCR run.

The key covers the input's sha256 and everything `steps.engine_info` records: engine name and version,
the sha256 of every model, lang, psm, dpi, formats and the job's options. A new engine, model or option
therefore changes the key by itself. OCR_RESULT_CACHE=false turns the cache off.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from ocr_client.options import MEDIA_TYPES

from storage import ObjectNotFound, Storage, StorageError
from storage.objects.keys import input_key, job_prefix, result_key
from storage.records import jobs as repo
from storage.records.cached_jobs import CachedJob
from storage.records.cached_jobs import find_cached_job as find_cached_job  # the step's lookup (workers/steps.py)
from storage.records.db import session_scope
from storage.records.job_reads import JobRecord
from workers import metrics
from workers.job_end import job_ended

log = logging.getLogger(__name__)
KEY_VERSION = 1  # bump when what a cached result contains changes without engine_info changing


def cache_key(input_sha256: str, engine_info: dict[str, Any]) -> str:
    material = {"key_version": KEY_VERSION, "input_sha256": input_sha256, **engine_info}
    encoded = json.dumps(material, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def _media_type(key: str) -> str | None:
    return MEDIA_TYPES.get(key.rsplit(".", 1)[-1])


def _rewrite_json_meta(data: bytes, job: JobRecord, engine_info: dict[str, Any]) -> bytes:
    """result.json names its job: point it at the new one."""
    document = json.loads(data)
    for name, value in (("job_id", job.id), ("filename", job.filename), ("engine", engine_info)):
        if name in document:
            document[name] = value
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


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
            target = dst_prefix + key[len(src_prefix) :]
            if key == result_key(source.id, "json"):
                data = _rewrite_json_meta(storage.read_bytes(key), job, engine_info)
                storage.put_bytes(target, data, _media_type(key))
            else:
                storage.copy(key, target)
    except (ObjectNotFound, StorageError, ValueError) as exc:
        # Deleted or damaged while we copied: run OCR instead. The half-made copies are overwritten then.
        log.info("result cache: cannot reuse job %s for %s: %s", source.id, job.id, exc)
        return False
    return True


def complete_from_cache(storage: Storage, job: JobRecord, source: CachedJob, key: str) -> bool:
    """Finish a queued job with a copy of `source`'s results; False when they cannot be reused."""
    engine_info = {**source.engine_info, "cache_hit_of": source.id}
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
