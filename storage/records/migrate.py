"""Schema migrations of the job database, applied in one place, once, under a lock.

`ocr-service migrate` (and `serve`/`api` with OCR_AUTO_MIGRATE=true) call `migrate()`. Concurrent starters
queue on a lock (a PostgreSQL advisory lock; on SQLite an exclusive lock on a file beside the database), so
the second one finds the schema current and does nothing. A database that `create_all` made before
migrations existed (tables, no alembic_version) is stamped with the baseline first, keeping its rows.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from storage.records.db import make_engine
from storage.settings import get_storage_settings

log = logging.getLogger(__name__)
BASELINE = "0001"
# Any constant shared by every process of this service: pg_advisory_lock takes a 64-bit key.
ADVISORY_LOCK_KEY = 0x4F43525F4D4947  # "OCR_MIG"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        yield


@contextmanager
def migration_lock(engine: Engine) -> Iterator[Connection]:
    """A connection held under the service-wide migration lock."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        with _file_lock(Path(database + ".migrate.lock")), engine.connect() as conn:
            yield conn
        return
    with engine.connect() as conn:
        yield conn


def migrate(url: str | None = None, revision: str = "head") -> str:
    """Bring the database at `url` (default: the configured one) to `revision`; returns the revision it is at."""
    engine = make_engine(url or get_storage_settings().effective_database_url)
    try:
        with migration_lock(engine) as conn:
            config = alembic_config(conn)
            before = MigrationContext.configure(conn).get_current_revision()
            if before is None and inspect(conn).has_table("ocr_jobs"):
                # Made by create_all before migrations existed: that schema is the baseline.
                log.info("job database has tables but no alembic_version: stamping baseline %s", BASELINE)
                command.stamp(config, BASELINE)
                conn.commit()
            command.upgrade(config, revision)
            conn.commit()
            after = MigrationContext.configure(conn).get_current_revision()
        if after != before:
            log.info("job database migrated from %s to %s", before or "empty", after)
        return str(after)
    finally:
        engine.dispose()
