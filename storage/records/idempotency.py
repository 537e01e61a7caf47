"""Idempotency-Key records: one row per (owner, key), reserved before an upload is stored, completed with the
job and the answer it got.

The primary key makes two concurrent requests with one key race safely: one INSERT wins, the other finds the
winner's row (still without a job: in flight) and is told to retry later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage.records.db import session_scope
from storage.records.models import IdempotencyRecord, utcnow

_TABLE = cast(Table, IdempotencyRecord.__table__)


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


def reserve(owner: str, key: str, fingerprint: str, *, ttl: timedelta, stale_after: timedelta) -> Outcome:
    """Claim `key` for this upload, or say what the earlier request with it did. A record past its expiry, or a
    reservation left in flight longer than `stale_after` (its API process died), is replaced."""
    for _ in range(3):  # a replaced row can be claimed by a concurrent request in between
        now = utcnow()
        try:
            with session_scope() as session:
                session.execute(
                    insert(_TABLE).values(
                        owner=owner, key=key, fingerprint=fingerprint, created_at=now, expires_at=now + ttl
                    )
                )
            return Reserved()
        except IntegrityError:
            pass
        with session_scope() as session:
            row = session.execute(
                select(_TABLE.c.fingerprint, _TABLE.c.job_id, _TABLE.c.response, _TABLE.c.created_at,
                       _TABLE.c.expires_at).where(_TABLE.c.owner == owner, _TABLE.c.key == key)
            ).first()  # fmt: skip
            if row is None:  # deleted meanwhile: try again
                continue
            fp, job_id, response, created_at, expires_at = row
            stale = job_id is None and created_at < now - stale_after
            if expires_at <= now or stale:
                same = (_TABLE.c.owner == owner, _TABLE.c.key == key, _TABLE.c.created_at == created_at)
                session.execute(delete(_TABLE).where(*same))
                continue
        if fp != fingerprint:
            return Mismatch()
        if job_id is None or response is None:
            return InFlight()
        return Replay(job_id, response)
    return InFlight()


def complete(owner: str, key: str, job_id: str, response: dict[str, Any]) -> None:
    with session_scope() as session:
        session.execute(
            update(_TABLE).where(_TABLE.c.owner == owner, _TABLE.c.key == key).values(job_id=job_id, response=response)
        )


def release(owner: str, key: str) -> None:
    """Drop a reservation whose request failed, so that a retry can go through."""
    with session_scope() as session:
        session.execute(delete(_TABLE).where(_TABLE.c.owner == owner, _TABLE.c.key == key, _TABLE.c.job_id.is_(None)))


def purge_expired(now: datetime | None = None) -> int:
    """Delete the expired records (expires_at is indexed); how many went."""
    with session_scope() as session:
        result = session.execute(delete(_TABLE).where(_TABLE.c.expires_at <= (now or utcnow())))
        return int(getattr(result, "rowcount", 0) or 0)
