"""Fixtures: real services (Redis, RabbitMQ, PostgreSQL), real Celery workers, the real API process."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support import BUCKET, RABBIT_URL, REGION, Stack, base_env, forget_settings, temporary_pg_database


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    with temporary_pg_database() as url:
        yield url


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


@pytest.fixture(params=["redis_stack", "rabbit_stack", "s3_stack"])
def any_stack(request: pytest.FixtureRequest) -> Stack:
    """Every broker, database and storage combination."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


@pytest.fixture
def stack(redis_stack: Stack) -> Stack:
    return redis_stack


@pytest.fixture(scope="session")
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fake credentials, and no shared config that could point boto3 at a real account."""
    missing = tmp_path_factory.mktemp("aws") / "absent"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_SESSION_TOKEN", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_CONFIG_FILE", str(missing))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(missing))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


@pytest.fixture(scope="session")
def s3_endpoint(aws_env: None) -> Iterator[str]:
    """A moto S3 server on loopback, spoken to over HTTP like any S3-compatible store."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    """A raw client, for what the backend must not be able to prevent (tampering, bucket setup)."""
    client = boto3.session.Session().client("s3", endpoint_url=s3_endpoint, region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="session")
def s3_stack(tmp_path_factory: pytest.TempPathFactory, s3_client: Any, s3_endpoint: str) -> Iterator[Stack]:
    """Redis broker, SQLite job records, S3 storage on the moto server."""
    data_dir = tmp_path_factory.mktemp("s3-stack")
    env = base_env(
        data_dir,
        OCR_STORAGE="s3",
        OCR_S3_BUCKET=BUCKET,
        OCR_S3_ENDPOINT_URL=s3_endpoint,
        OCR_S3_REGION=REGION,
        OCR_S3_PREFIX=f"e2e-{uuid.uuid4().hex[:8]}/",
    )
    stack = Stack("redis-s3", env, data_dir).start()
    yield stack
    stack.stop()


@pytest.fixture
def local_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Steps, sweeps and deliveries run in this process: default settings (local storage, SQLite, result cache
    on) with the data dir in tmp_path, migrated."""
    from storage.records.migrate import migrate

    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    for name in ("OCR_DATABASE_URL", "OCR_STORAGE", "OCR_RESULT_CACHE"):
        monkeypatch.delenv(name, raising=False)
    forget_settings()
    migrate()
    yield tmp_path
    forget_settings()
