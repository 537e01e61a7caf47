"""Schema migrations: the migrated schema is the models' schema, a database made by create_all before
migrations existed keeps its jobs and is upgraded, an older revision with data is upgraded, and several
processes migrating one fresh database at once do not race (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Table, insert, inspect, select, text

from storage.records.db import make_engine
from storage.records.migrate import BASELINE, current_revision, head_revision, migrate
from storage.records.models import Base, Job, JobEvent, utcnow
from tests.support import REPO, base_env, temporary_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
        return
    with temporary_pg_database("ocr_migrate") as url:
        yield url


def add_job_with_event(url: str) -> str:
    job_id = str(uuid.uuid4())
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(cast(Table, Job.__table__)).values(
                id=job_id,
                status="succeeded",
                created_at=utcnow(),
                pages_done=1,
                media_type="image/png",
                input_key=f"jobs/{job_id}/input",
                input_size=3,
                input_sha256="0" * 64,
                lang="eng",
                formats="txt",
                options={"deskew": True},
            )
        )
        conn.execute(
            insert(cast(Table, JobEvent.__table__)).values(job_id=job_id, type="status", data={"status": "queued"})
        )
    engine.dispose()
    return job_id


def schema_differences(url: str) -> list[object]:
    engine = make_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    return list(diffs)


def event_indexes(url: str) -> set[str]:
    engine = make_engine(url)
    names = {str(ix["name"]) for ix in inspect(engine).get_indexes("ocr_job_events")}
    engine.dispose()
    return names


def test_a_fresh_database_gets_the_models_schema(database_url: str) -> None:
    assert migrate(database_url) == head_revision()
    assert schema_differences(database_url) == []
    assert migrate(database_url) == head_revision(), "a second run changes nothing"


def test_a_database_made_by_create_all_before_migrations_is_stamped_and_upgraded(database_url: str) -> None:
    # What create_all made before this release: the baseline schema, no alembic_version table.
    migrate(database_url, BASELINE)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    job_id = add_job_with_event(database_url)
    assert current_revision(make_engine(database_url)) is None

    assert migrate(database_url) == head_revision()
    engine = make_engine(database_url)
    with engine.connect() as conn:
        row = conn.execute(select(Job.__table__.c.status, Job.__table__.c.options).where(Job.id == job_id)).one()
        events = conn.execute(select(JobEvent.__table__.c.type).where(JobEvent.job_id == job_id)).all()
    engine.dispose()
    assert tuple(row) == ("succeeded", {"deskew": True}) and len(events) == 1
    assert "ix_ocr_job_events_job_id_id" in event_indexes(database_url)
    assert schema_differences(database_url) == []


def test_the_previous_revision_with_data_is_upgraded(database_url: str) -> None:
    migrate(database_url, BASELINE)
    job_id = add_job_with_event(database_url)
    assert "ix_ocr_job_events_job_id" in event_indexes(database_url)
    assert migrate(database_url) == head_revision()
    assert event_indexes(database_url) == {"ix_ocr_job_events_job_id_id"}
    engine = make_engine(database_url)
    with engine.connect() as conn:
        assert conn.execute(select(Job.__table__.c.id)).scalars().all() == [job_id]
    engine.dispose()


def test_concurrent_migrate_commands_do_not_race(database_url: str, tmp_path: Path) -> None:
    env = base_env(tmp_path, OCR_DATABASE_URL=database_url, OCR_LOG_FORMAT="json")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ocr_api.cli", "migrate"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    assert all(f"job database at revision {head_revision()}" in out for out in outputs), outputs
    assert sum("migrated from empty" in out for out in outputs) == 1, outputs
    assert schema_differences(database_url) == []


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_api_commands_with_two_workers_each_start_together_on_a_fresh_database(
    database_url: str, tmp_path: Path
) -> None:
    """The race of the issue: `ocr-service api --workers 2` twice at once on an empty PostgreSQL database."""
    import httpx

    from tests.support import free_port, wait_for

    env = base_env(tmp_path, OCR_DATABASE_URL=database_url, OCR_LOG_FORMAT="json")
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ocr_api.cli", "api", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    try:
        for port in ports:
            wait_for(lambda p=port: httpx.get(f"http://127.0.0.1:{p}/v1/jobs").status_code == 200, 60, "the API")
    finally:
        for proc in procs:
            proc.terminate()
        outputs = [proc.communicate(timeout=30)[0] for proc in procs]
    assert sum("migrated from empty" in out for out in outputs) == 1, outputs
    assert not any('"level": "error"' in out for out in outputs), outputs
    assert schema_differences(database_url) == []
