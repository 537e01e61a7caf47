"""Fixtures: real services (Redis, RabbitMQ, PostgreSQL), real Celery workers, the real API process."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest

from tests.support import PG_ADMIN_URL, RABBIT_URL, Stack, base_env


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    import psycopg

    name = f"ocr_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    admin = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"postgresql+psycopg://{admin.split('://', 1)[1]}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis broker, SQLite job records, local storage."""
    data_dir = tmp_path_factory.mktemp("redis-stack")
    stack = Stack("redis-sqlite", base_env(data_dir), data_dir).start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def rabbit_stack(tmp_path_factory: pytest.TempPathFactory, pg_database_url: str) -> Iterator[Stack]:
    """RabbitMQ broker, PostgreSQL job records, local storage."""
    data_dir = tmp_path_factory.mktemp("rabbit-stack")
    env = base_env(data_dir, OCR_BROKER_URL=RABBIT_URL, OCR_DATABASE_URL=pg_database_url)
    stack = Stack("rabbit-pg", env, data_dir).start()
    yield stack
    stack.stop()
    _delete_amqp_queue(env["OCR_QUEUE_NAME"])


def _delete_amqp_queue(name: str) -> None:
    from kombu import Connection

    with contextlib.suppress(Exception), Connection(RABBIT_URL) as conn:
        conn.default_channel.queue_delete(name)


@pytest.fixture(scope="session")
def api_only_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The API with no worker on its queue: jobs stay queued. Upload limit 1 MiB."""
    data_dir = tmp_path_factory.mktemp("api-only")
    stack = Stack("api-only", base_env(data_dir, OCR_MAX_UPLOAD_MB="1"), data_dir).start(workers=0)
    yield stack
    stack.stop()


@pytest.fixture(params=["redis_stack", "rabbit_stack"])
def any_stack(request: pytest.FixtureRequest) -> Stack:
    """Both broker/database combinations."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def stack(redis_stack: Stack) -> Stack:
    return redis_stack
