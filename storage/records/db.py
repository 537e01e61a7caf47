"""Database engine and sessions for the job records (SQLite for one machine, PostgreSQL for many).

The session convention of every repository in storage/records: a function takes the caller's `session: Session`
as its first parameter and never opens, commits or rolls back one of its own; the caller opens
`with session_scope() as session:` around one unit of work (committed when the block ends, rolled back when it
raises). The one exception are the per-request reads on the API's hot path (job_reads.read_job/read_jobs,
api_keys.find_key/jobs_in_flight): one Core SELECT on a pooled connection, without the cost of a session
(their module docstrings say why).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.settings import get_storage_settings

log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            make_private_sqlite_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the API read while workers write; foreign keys make page rows follow their job.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_private_sqlite_file(path: Path) -> None:
    """The job records hold webhook secrets and every job's file name: the SQLite file is the service user's
    alone (0600), made so before SQLite opens it, which gives its -wal and -shm files the file's own mode. A
    file left readable by an older version is closed up too; a directory made for it is 0700."""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except FileNotFoundError:
            pass
        except PermissionError as exc:  # another user's file: it works, but say it is not private
            log.warning("cannot make %s private to this user: %s", file, exc)


@lru_cache
def get_engine() -> Engine:
    # No create_all here: the schema is made and changed by storage.records.migrate (`ocr-service migrate`), once.
    return make_engine(get_storage_settings().effective_database_url)


@lru_cache
def _sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    session = _sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_database() -> None:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def reset_engine() -> None:
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()
    _sessionmaker.cache_clear()


def rows_changed(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. `Session.execute` is typed as returning a plain `Result`; for
    these statements it is a `CursorResult`, which has the count."""
    return int(cast(CursorResult[Any], result).rowcount)
