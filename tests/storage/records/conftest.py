"""The repositories' tests run on SQLite and on the PostgreSQL server, each on a schema of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.records.db import make_engine
from storage.records.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database_url")
    eng = make_engine(url)
    Base.metadata.create_all(eng)
    yield eng
    if request.param == "postgresql":
        Base.metadata.drop_all(eng)
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions as storage.records.db.session_scope makes them."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s
