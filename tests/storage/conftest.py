"""Backends for the storage contract suite: LocalStorage on tmp_path, S3Storage on a real moto server."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storage.objects.base import Storage
from storage.objects.local import LocalStorage
from storage.objects.s3 import S3Storage
from storage.settings import StorageSettings
from tests.support import BUCKET, REGION

Tamper = Callable[[str, bytes], None]


def s3_settings(endpoint: str, **overrides: Any) -> StorageSettings:
    values: dict[str, Any] = {
        "storage": "s3",
        "s3_bucket": BUCKET,
        "s3_endpoint_url": endpoint,
        "s3_region": REGION,
        "s3_prefix": f"test-{uuid.uuid4().hex[:12]}/",
        # Small parts so the multipart paths run on megabytes, not gigabytes.
        "s3_multipart_threshold_mb": 5,
        "s3_max_attempts": 2,
        "s3_connect_timeout_s": 2.0,
        "s3_read_timeout_s": 30.0,
        **overrides,
    }
    return StorageSettings(**values)


@pytest.fixture
def make_s3_storage(s3_endpoint: str, s3_client: Any) -> Callable[..., S3Storage]:
    """S3Storage on the moto server (or `endpoint`), in a fresh prefix unless told otherwise."""

    def make(endpoint: str | None = None, **overrides: Any) -> S3Storage:
        return S3Storage.from_settings(s3_settings(endpoint or s3_endpoint, **overrides))

    return make


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(request.param)


@pytest.fixture
def storage(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Storage:
    if backend == "local":
        return LocalStorage(tmp_path / "files")
    make: Callable[..., S3Storage] = request.getfixturevalue("make_s3_storage")
    return make()


@pytest.fixture
def twin_storages(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Storage, Storage]:
    """Two stores over the same medium: two roots on one disk, two prefixes in one bucket."""
    if backend == "local":
        return LocalStorage(tmp_path / "a"), LocalStorage(tmp_path / "b")
    make: Callable[..., S3Storage] = request.getfixturevalue("make_s3_storage")
    return make(s3_prefix="tenant-a/"), make(s3_prefix="tenant-b/")


@pytest.fixture
def tamper(storage: Storage, request: pytest.FixtureRequest) -> Tamper:
    """Rewrite an object's bytes behind the backend's back, leaving its recorded sha256 alone."""
    if isinstance(storage, LocalStorage):
        local = storage

        def rewrite_file(key: str, data: bytes) -> None:
            (local.root / key).write_bytes(data)

        return rewrite_file

    assert isinstance(storage, S3Storage)
    s3 = storage
    client = request.getfixturevalue("s3_client")

    def rewrite_object(key: str, data: bytes) -> None:
        full_key = s3.prefix + key
        head = client.head_object(Bucket=s3.bucket, Key=full_key)
        client.put_object(Bucket=s3.bucket, Key=full_key, Body=data, Metadata=head["Metadata"])

    return rewrite_object


class GeneratedStream:
    """An unseekable stream of `size` distinct bytes made on demand; its sha256 is known once read."""

    def __init__(self, size: int, block_size: int = 1024 * 1024) -> None:
        self.size = size
        self._block = bytearray(hashlib.sha256(b"seed").digest() * (block_size // 32))
        self._block_no = 0
        self._buffer = b""
        self._sent = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        want = self.size - self._sent if n is None or n < 0 else min(n, self.size - self._sent)
        while len(self._buffer) < want:
            # Each block differs (its number up front), so swapped or repeated parts change the hash.
            self._block[:8] = self._block_no.to_bytes(8, "big")
            self._block_no += 1
            self._buffer += bytes(self._block)
        data, self._buffer = self._buffer[:want], self._buffer[want:]
        self._sent += len(data)
        self.digest.update(data)
        return data


@pytest.fixture
def generated_stream() -> type[GeneratedStream]:
    return GeneratedStream
