"""GET /v1/batches/{id}/results.zip: one archive of a batch's results, streamed as it is written (stream-zip):
each stored result is read in chunks straight into the archive, nothing is held whole in memory or on disk.

Inside: for each job that succeeded, its results (the formats its upload asked for) under the file's own name,
as the user gave it and the upload sanitised it (ocr_api/uploads.py clean_filename: last path component, no
control characters), its extension replaced by the format's (`scan.tif` -> `scan.txt`, `scan.pdf`); names that
meet (`a.png` and `a.tif`, two `scan.pdf`) become `a.txt`, `a (2).txt`. `manifest.json` lists every file of
the batch: its name, job, status, the entries it has in the archive, and the error of a job that failed, was
cancelled, or whose files retention has deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from stream_zip import ZIP_AUTO, Method, stream_zip

from ocr_api.batches import BatchRecord
from ocr_api.uploads import clean_filename
from storage import get_storage
from storage.objects.keys import result_key
from storage.records.job_reads import JobRecord
from storage.records.models import JobStatus

MANIFEST = "manifest.json"
FILE_MODE = 0o644
# Text results shrink several times at zlib's default; PDFs are compressed already, so the cheapest level.
LEVELS = {"pdf": 1}
DEFAULT_LEVEL = 6
Member = tuple[str, datetime, int, Method, Iterable[bytes]]


def archive_name(batch: BatchRecord) -> str:
    return f"batch-{batch.id}.zip"


def entry_stems(jobs: list[JobRecord]) -> dict[str, str]:
    """Each job's name in the archive without extension: the upload's name, made unique within the batch."""
    stems: dict[str, str] = {}
    taken: set[str] = {MANIFEST.rsplit(".", 1)[0].lower()}
    for job in jobs:
        name = clean_filename(job.filename) or "document"
        stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
        candidate, n = stem, 2
        while candidate.lower() in taken:  # case-insensitive: the archive may be unpacked on Windows or macOS
            candidate = f"{stem} ({n})"
            n += 1
        taken.add(candidate.lower())
        stems[job.id] = candidate
    return stems


def manifest(batch: BatchRecord, stems: dict[str, str]) -> dict[str, Any]:
    files = []
    for job in batch.jobs:
        entry: dict[str, Any] = {"filename": job.filename, "job_id": job.id, "status": job.status, "entries": []}
        if job.status == JobStatus.SUCCEEDED and job.expired_at is None:
            entry["entries"] = [f"{stems[job.id]}.{fmt}" for fmt in job.format_list]
        elif job.expired_at is not None:
            entry["error"] = {"code": "expired", "message": f"its files were deleted at {job.expired_at.isoformat()}"}
        elif job.status == JobStatus.FAILED:
            entry["error"] = {"code": job.error_code or "failed", "message": job.error_message or ""}
        elif job.status == JobStatus.CANCELLED:
            entry["error"] = {"code": "cancelled", "message": "the job was cancelled"}
        files.append(entry)
    return {"batch_id": batch.id, "created_at": batch.created_at.isoformat(), "counts": batch.counts, "files": files}


def members(batch: BatchRecord) -> Iterator[Member]:
    """The archive's files, each read from storage only when the archive reaches it."""
    storage = get_storage()
    stems = entry_stems(batch.jobs)
    listing = manifest(batch, stems)
    for job, entry in zip(batch.jobs, listing["files"], strict=True):
        for name in entry["entries"]:
            fmt = name.rsplit(".", 1)[1]
            key = result_key(job.id, fmt)
            size = storage.stat(key).size
            method = ZIP_AUTO(size, level=LEVELS.get(fmt, DEFAULT_LEVEL))
            yield name, job.finished_at or batch.created_at, FILE_MODE, method, storage.iter_chunks(key)
    body = json.dumps(listing, indent=2, ensure_ascii=False).encode()
    yield MANIFEST, batch.created_at, FILE_MODE, ZIP_AUTO(len(body), level=DEFAULT_LEVEL), (body,)


def zip_chunks(batch: BatchRecord) -> Iterator[bytes]:
    """The archive, chunk by chunk (blocking reads: Starlette runs the iteration in its thread pool)."""
    yield from stream_zip(members(batch))
