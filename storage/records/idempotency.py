"""Idempotency-Key records: one row per (owner, key), reserved before an upload is stored, completed with the
job and the answer it got.

The primary key makes two concurrent requests with one key race safely: one INSERT wins, the other finds the
winner's row (still without a job: in flight) and is told to retry later. Every function takes the caller's
session (storage/records/db.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.records.db import rows_changed
from storage.records.models import IDEMPOTENCY_KEYS, utcnow

_TABLE = IDEMPOTENCY_KEYS  # short: every statement here names it


@dataclass(frozen=True)
class Reserved:
    """The key is this request's now: go on, then complete() or release() it."""


@dataclass(frozen=True)
class InFlight:
    """Another request with this key and the same upload has not finished yet."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used for another upload or other options."""


@dataclass(frozen=True)
class Replay:
    job_id: str
    response: dict[str, Any]


Outcome = Reserved | InFlight | Mismatch | Replay


def reserve(
    session: Session, owner: str, key: str, fingerprint: str, *, ttl: timedelta, stale_after: timedelta
) -> Outcome:
    """Claim `key` for this upload, or say what the earlier request with it did. A record past its expiry, or a
    reservation left in flight longer than `stale_after` (its API process died), is replaced. The caller commits
    the reservation (ends its session) before storing the upload, so that a concurrent request sees it."""
    for _ in range(3):  # a replaced row can be claimed by a concurrent request in between
        now = utcnow()
        try:
            with session.begin_nested():  # a SAVEPOINT: a key taken already leaves the caller's transaction usable
                session.execute(
                    insert(_TABLE).values(
                        owner=owner, key=key, fingerprint=fingerprint, created_at=now, expires_at=now + ttl
                    )
                )
            return Reserved()
        except IntegrityError:
            pass
        row = session.execute(
            select(_TABLE.c.fingerprint, _TABLE.c.job_id, _TABLE.c.response, _TABLE.c.created_at,
                   _TABLE.c.expires_at).where(_TABLE.c.owner == owner, _TABLE.c.key == key)
        ).first()  # fmt: skip
        if row is None:  # deleted meanwhile: try again
            continue
        fp, job_id, response, created_at, expires_at = row
        if expires_at <= now or (job_id is None and created_at < now - stale_after):
            same = (_TABLE.c.owner == owner, _TABLE.c.key == key, _TABLE.c.created_at == created_at)
            session.execute(delete(_TABLE).where(*same))
            continue
        return _earlier(fp == fingerprint, job_id, response)
    return InFlight()


def _earlier(same_upload: bool, job_id: str | None, response: dict[str, Any] | None) -> Outcome:
    """What the live record of an earlier request with the key says to this one."""
    if not same_upload:
        return Mismatch()
    if job_id is None or response is None:
        return InFlight()
    return Replay(job_id, response)


def complete(session: Session, owner: str, key: str, job_id: str, response: dict[str, Any]) -> None:
    session.execute(
        update(_TABLE).where(_TABLE.c.owner == owner, _TABLE.c.key == key).values(job_id=job_id, response=response)
    )


def release(session: Session, owner: str, key: str) -> None:
    """Drop a reservation whose request failed, so that a retry can go through."""
    session.execute(delete(_TABLE).where(_TABLE.c.owner == owner, _TABLE.c.key == key, _TABLE.c.job_id.is_(None)))


def purge_expired(session: Session, now: datetime | None = None) -> int:
    """Delete the expired records (expires_at is indexed); how many went."""
    return rows_changed(session.execute(delete(_TABLE).where(_TABLE.c.expires_at <= (now or utcnow()))))
