"""What only S3Storage does: temporary copies, presigned URLs, health checks and error mapping."""

from __future__ import annotations

import io
import os
import socket
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from botocore.stub import Stubber

from storage.errors import (
    ChecksumMismatch,
    InvalidKey,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    TransientStorageError,
)
from storage.objects.factory import build_storage
from storage.objects.s3 import UPLOADS_DIR, S3Storage
from storage.settings import StorageSettings

MakeS3 = Callable[..., S3Storage]
MB = 1024 * 1024
BUCKET = "ocr-contract"  # made by the s3_client fixture


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_factory_builds_s3_from_settings(s3_endpoint: str) -> None:
    settings = StorageSettings(
        storage="s3",
        s3_bucket=BUCKET,
        s3_endpoint_url=s3_endpoint,
        s3_prefix="ocr",
        s3_connect_timeout_s=2.0,
        s3_read_timeout_s=30.0,
        s3_max_attempts=3,
    )
    storage = build_storage(settings)
    assert isinstance(storage, S3Storage)
    assert storage.prefix == "ocr/"
    config = storage.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.0, 30.0)
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}


def test_bucket_is_required() -> None:
    with pytest.raises(StorageUnavailable, match="OCR_S3_BUCKET"):
        S3Storage.from_settings(StorageSettings(storage="s3", s3_bucket=None))


@pytest.mark.parametrize(("prefix", "expected"), [("", ""), ("/", ""), ("ocr", "ocr/"), ("a/b/", "a/b/")])
def test_prefix_is_normalised(prefix: str, expected: str) -> None:
    assert S3Storage("bucket", prefix=prefix).prefix == expected


@pytest.mark.parametrize("prefix", ["../x", "a/../../b", "/abs"])
def test_prefix_that_could_escape_is_refused(prefix: str) -> None:
    with pytest.raises(InvalidKey):
        S3Storage("bucket", prefix=prefix)


def test_unseekable_upload_leaves_no_temporary_object(make_s3_storage: MakeS3, s3_client: Any) -> None:
    storage = make_s3_storage()

    class Pipe:
        def __init__(self) -> None:
            self._data = io.BytesIO(os.urandom(6 * MB))

        def read(self, n: int = -1) -> bytes:
            return self._data.read(n)

    storage.save_stream("jobs/t1/input", Pipe())  # type: ignore[arg-type]
    listed = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=storage.prefix)
    assert [o["Key"] for o in listed["Contents"]] == [f"{storage.prefix}jobs/t1/input"]


def test_copy_in_parts_keeps_checksum_and_type(
    make_s3_storage: MakeS3, s3_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Above CopyObject's limit (lowered here from 5 GiB) the copy goes in parts, which do not carry the
    # source's metadata over by themselves.
    monkeypatch.setattr("storage.objects.s3.MAX_SINGLE_COPY", 1 * MB)
    storage = make_s3_storage(s3_multipart_threshold_mb=5)
    data = os.urandom(11 * MB)
    stored = storage.put_bytes("jobs/c1/result.pdf", data, "application/pdf")
    assert storage.copy("jobs/c1/result.pdf", "jobs/c2/result.pdf") == stored.__class__(
        key="jobs/c2/result.pdf", size=stored.size, sha256=stored.sha256
    )
    head = s3_client.head_object(Bucket=BUCKET, Key=f"{storage.prefix}jobs/c2/result.pdf")
    assert head["ContentType"] == "application/pdf" and "-" in head["ETag"], "copied in parts"
    assert storage.read_bytes("jobs/c2/result.pdf") == data


def test_failed_upload_leaves_nothing_behind(make_s3_storage: MakeS3, s3_client: Any) -> None:
    storage = make_s3_storage()

    class BrokenPipe:
        sent = 0

        def read(self, n: int = -1) -> bytes:
            if self.sent > 12 * MB:
                raise OSError("client went away")
            self.sent += n
            return b"x" * n

    with pytest.raises(OSError, match="client went away"):
        storage.save_stream("jobs/t2/input", BrokenPipe())  # type: ignore[arg-type]
    assert "Contents" not in s3_client.list_objects_v2(Bucket=BUCKET, Prefix=storage.prefix)
    uploads = s3_client.list_multipart_uploads(Bucket=BUCKET, Prefix=storage.prefix + UPLOADS_DIR)
    assert not uploads.get("Uploads")


def test_local_path_verifies_and_removes_the_copy(make_s3_storage: MakeS3, s3_client: Any) -> None:
    storage = make_s3_storage()
    storage.put_bytes("jobs/t3/input.pdf", b"original input")
    with pytest.raises(RuntimeError), storage.local_path("jobs/t3/input.pdf") as path:
        assert path.suffix == ".pdf"
        raise RuntimeError("the worker failed")
    assert not path.exists()

    key = storage.prefix + "jobs/t3/input.pdf"
    head = s3_client.head_object(Bucket=BUCKET, Key=key)
    s3_client.put_object(Bucket=BUCKET, Key=key, Body=b"altered input!", Metadata=head["Metadata"])
    with pytest.raises(ChecksumMismatch), storage.local_path("jobs/t3/input.pdf"):
        pytest.fail("a tampered input reached the worker")


def test_local_path_streams_the_object_into_a_file(make_s3_storage: MakeS3, monkeypatch: pytest.MonkeyPatch) -> None:
    """What finalize grafts the searchable PDF onto (workers/results.py) comes through a temporary file, a chunk
    at a time, never as one bytes object in memory."""
    storage = make_s3_storage()
    data = os.urandom(3 * MB + 5)
    storage.put_bytes("jobs/t4/input.pdf", data)
    monkeypatch.setattr(storage, "read_bytes", lambda key: pytest.fail("the object was read into memory"))
    chunks: list[int] = []
    stream = storage.iter_chunks

    def counted(key: str, chunk_size: int = MB) -> Any:
        for chunk in stream(key, chunk_size):
            chunks.append(len(chunk))
            yield chunk

    monkeypatch.setattr(storage, "iter_chunks", counted)
    with storage.local_path("jobs/t4/input.pdf") as path:
        assert path.read_bytes() == data
    assert len(chunks) >= 4 and max(chunks) <= MB
    assert not path.exists()


def test_presigned_url_is_off_unless_configured(make_s3_storage: MakeS3) -> None:
    storage = make_s3_storage(s3_presigned_downloads=False)
    storage.put_bytes("jobs/t4/result.txt", b"text")
    assert storage.presigned_url("jobs/t4/result.txt", filename="scan.txt") is None


def test_presigned_url_downloads_the_object(make_s3_storage: MakeS3) -> None:
    storage = make_s3_storage(s3_presigned_downloads=True, s3_presign_expiry_s=120)
    data = os.urandom(300_000)
    storage.put_bytes("jobs/t5/result.pdf", data, "application/pdf")
    url = storage.presigned_url("jobs/t5/result.pdf", filename="Résumé scan.pdf", content_type="application/pdf")
    assert url is not None
    assert "X-Amz-Expires=120" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == data
        assert response.headers["Content-Type"] == "application/pdf"
        disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="Rsum scan.pdf"')
    assert "filename*=UTF-8''R%C3%A9sum%C3%A9%20scan.pdf" in disposition


def test_check_names_a_missing_bucket(make_s3_storage: MakeS3) -> None:
    storage = make_s3_storage(s3_bucket="no-such-bucket")
    with pytest.raises(StorageUnavailable, match=r"^S3 bucket 'no-such-bucket' at http://\S+ does not exist$"):
        storage.check()


def test_check_names_an_unreachable_endpoint(make_s3_storage: MakeS3) -> None:
    endpoint = closed_port_url()
    storage = make_s3_storage(endpoint, s3_max_attempts=5)
    with pytest.raises(StorageUnavailable, match=rf"^S3 bucket '{BUCKET}' at {endpoint} is unreachable: "):
        storage.check()


def test_check_explains_refused_credentials(make_s3_storage: MakeS3, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = make_s3_storage()
    probe = storage._make_client(storage.client.meta.config)
    stubber = Stubber(probe)
    stubber.add_client_error("head_bucket", service_error_code="403", http_status_code=403)
    monkeypatch.setattr(storage, "_make_client", lambda config: probe)
    with (
        stubber,
        pytest.raises(StorageUnavailable, match=f"'{BUCKET}' .*refused access: check the credentials"),
    ):
        storage.check()


def test_unreachable_endpoint_is_transient(make_s3_storage: MakeS3) -> None:
    storage = make_s3_storage(closed_port_url(), s3_max_attempts=1)
    with pytest.raises(TransientStorageError):
        storage.read_bytes("jobs/t6/input")
    with pytest.raises(TransientStorageError):
        storage.put_bytes("jobs/t6/input", b"x")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchKey", 404, ObjectNotFound),
        ("SlowDown", 503, TransientStorageError),
        ("Throttling", 400, TransientStorageError),
        ("RequestTimeout", 400, TransientStorageError),
        ("InternalError", 500, TransientStorageError),
        ("SomethingNew", 502, TransientStorageError),
        ("AccessDenied", 403, StorageUnavailable),
        ("InvalidAccessKeyId", 403, StorageUnavailable),
        ("NoSuchBucket", 404, StorageUnavailable),
        ("InvalidArgument", 400, StorageError),
    ],
)
def test_errors_are_mapped(make_s3_storage: MakeS3, code: str, status: int, expected: type[Exception]) -> None:
    storage = make_s3_storage()
    with Stubber(storage.client) as stubber:
        stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
        with pytest.raises(StorageError) as info:
            storage.read_bytes("jobs/t7/input")
    assert type(info.value) is expected
    if expected is not ObjectNotFound:
        assert f"S3 bucket '{BUCKET}'" in str(info.value)


def test_one_client_per_process(make_s3_storage: MakeS3, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = make_s3_storage()
    parent = storage.client
    assert storage.client is parent
    monkeypatch.setattr(os, "getpid", lambda: -1)  # as if in a forked worker
    child = storage.client
    assert child is not parent
    assert storage.client is child
