"""Idempotency-Key on POST /v1/jobs: a retried upload gets the job of the first one.

Per caller, a key names one upload: the same key with the same file and options answers 200 with the first
answer's body; with another file or options, 422; while the first request is still being stored, 409.
An empty key is a 422, not "no key": a client that sends the header means to be protected against a duplicate,
and an empty value is a bug on its side (every such upload would share one key); it is better told than ignored.
The key is reserved before the upload is stored (storage/records/idempotency.py) and released if that fails.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any, BinaryIO

from ocr_client.options import JobOptions

from ocr_api.errors import IdempotencyInFlight, IdempotencyMismatch, InvalidInput
from ocr_api.schemas import JobOut
from storage.records import idempotency as records
from storage.records.db import session_scope

CHUNK = 1024 * 1024
# A reservation still without its job after this long was left by an API process that died mid-upload.
STALE_AFTER = timedelta(minutes=10)


def fingerprint(stream: BinaryIO, options: JobOptions) -> str:
    """sha256 over the upload's bytes and the options given (canonical JSON); the stream is left at its start."""
    digest = hashlib.sha256()
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    stream.seek(0)
    digest.update(b"\0")
    digest.update(json.dumps(fingerprinted(options), sort_keys=True, separators=(",", ":")).encode())
    return digest.hexdigest()


def fingerprinted(options: JobOptions) -> dict[str, Any]:
    """The options as fingerprints have always held them: only the fields given (so a new optional field leaves
    earlier uploads' fingerprints as they were), the switches given grouped under "options" as the job records
    them."""
    switches = options.switches()
    given = {name: value for name, value in options.given().items() if name not in switches and value is not None}
    return {**given, "options": switches}


def submit_once(
    owner: str,
    key: str,
    stream: BinaryIO,
    options: JobOptions,
    submit: Callable[[], JobOut],
    *,
    ttl_hours: int,
) -> tuple[int, dict[str, Any]]:
    """The status and body to answer: (202, new job) the first time, (200, that same body) on a retry.
    Blocking: call it from a thread."""
    if not key.strip():
        raise InvalidInput("the Idempotency-Key header is empty: send a unique value per upload, or no header")
    digest = fingerprint(stream, options)
    with session_scope() as session:  # committed before the upload is stored: a concurrent retry sees it
        outcome = records.reserve(session, owner, key, digest, ttl=timedelta(hours=ttl_hours), stale_after=STALE_AFTER)
    if isinstance(outcome, records.Replay):
        return 200, outcome.response
    if isinstance(outcome, records.Mismatch):
        raise IdempotencyMismatch(
            "this Idempotency-Key was used for another upload (a different file or options); use a new key "
            "for a new upload"
        )
    if isinstance(outcome, records.InFlight):
        raise IdempotencyInFlight(
            "a request with this Idempotency-Key is in flight; retry later", headers={"Retry-After": "1"}
        )
    try:
        body = submit().model_dump(mode="json")
    except BaseException:
        with session_scope() as session:
            records.release(session, owner, key)
        raise
    with session_scope() as session:
        records.complete(session, owner, key, body["id"], body)
    return 202, body
