"""API keys: made, listed and revoked by `ocr-service keys`, looked up by the API on each request.

Only the key's sha256 is stored. Keys are 256 random bits, so a plain (unsalted, fast) hash is the right one,
as for GitHub's tokens: nothing can be guessed from it, and a lookup is one indexed equality.

create_key, list_keys and revoke_key take the caller's session, as every repository function does
(storage/records/db.py). find_key and jobs_in_flight are the documented exception, as job_reads.read_job is:
they run on every authenticated request, and a session (setup, transaction, commit) costs several times their
one indexed SELECT, so each checks a connection out of the pool, runs a Core statement compiled once at import,
and gives it back.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.records.db import get_engine
from storage.records.models import API_KEYS, JOBS, ApiKey, JobStatus, utcnow

KEY_PREFIX = "ocr_"
SHOWN_PREFIX = 12  # characters of the key kept in clear (its "ocr_" and 8 random ones) to recognize it in a list
NAME_MAX = 64


class KeyNameTaken(ValueError):
    pass


class KeyNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """What the API needs of a key on each request."""

    id: str
    name: str
    admin: bool
    rate_per_minute: int | None
    max_in_flight: int | None


@dataclass(frozen=True)
class NewKey:
    record: KeyRecord
    key: str  # shown once, never stored
    webhook_secret: str


@dataclass(frozen=True)
class KeyListing:
    name: str
    prefix: str
    admin: bool
    rate_per_minute: int | None
    max_in_flight: int | None
    created_at: datetime
    revoked_at: datetime | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def create_key(
    session: Session,
    name: str,
    *,
    admin: bool = False,
    rate_per_minute: int | None = None,
    max_in_flight: int | None = None,
) -> NewKey:
    if not name or len(name) > NAME_MAX:
        raise ValueError(f"a key's name has 1 to {NAME_MAX} characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        id=str(uuid.uuid4()),
        name=name,
        key_hash=hash_key(key),
        prefix=key[:SHOWN_PREFIX],
        admin=admin,
        rate_per_minute=rate_per_minute,
        max_in_flight=max_in_flight,
        webhook_secret=secrets.token_urlsafe(32),
        created_at=utcnow(),
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise KeyNameTaken(f"a key named '{name}' exists already") from exc
    record = KeyRecord(row.id, name, admin, rate_per_minute, max_in_flight)
    return NewKey(record, key, row.webhook_secret)


def list_keys(session: Session) -> list[KeyListing]:
    rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.name)).all()
    return [
        KeyListing(r.name, r.prefix, r.admin, r.rate_per_minute, r.max_in_flight, r.created_at, r.revoked_at)
        for r in rows
    ]


def revoke_key(session: Session, name: str) -> None:
    """Revoke the key of this name (revoking it twice is harmless); KeyNotFound when there is none."""
    found = session.execute(select(ApiKey.id).where(ApiKey.name == name)).first()
    if found is None:
        raise KeyNotFound(f"no key named '{name}'")
    session.execute(update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow()))


_BY_HASH = select(
    API_KEYS.c.id, API_KEYS.c.name, API_KEYS.c.admin, API_KEYS.c.rate_per_minute, API_KEYS.c.max_in_flight
).where(API_KEYS.c.key_hash == bindparam("key_hash"), API_KEYS.c.revoked_at.is_(None))
_IN_FLIGHT = (
    select(func.count()).select_from(JOBS).where(JOBS.c.owner == bindparam("owner"), JOBS.c.status.in_(JobStatus.LIVE))
)


def find_key(key: str, engine: Engine | None = None) -> KeyRecord | None:
    """The live (not revoked) key, or None (default engine: the configured database). Blocking: call it from a
    thread."""
    with (engine or get_engine()).connect() as conn:
        row = conn.execute(_BY_HASH, {"key_hash": hash_key(key)}).first()
    return None if row is None else KeyRecord(row[0], row[1], bool(row[2]), row[3], row[4])


def jobs_in_flight(owner: str, engine: Engine | None = None) -> int:
    """The key's queued and running jobs (default engine: the configured database). Blocking: call it from a
    thread."""
    with (engine or get_engine()).connect() as conn:
        return int(conn.execute(_IN_FLIGHT, {"owner": owner}).scalar_one())
