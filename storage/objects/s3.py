"""S3 (and MinIO, Ceph, ...) storage behind the Storage protocol; every object carries its sha256."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, NoReturn, cast
from urllib.parse import quote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage.errors import (
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
    TransientStorageError,
)
from storage.objects.base import CHUNK_SIZE, HashingReader, StoredObject, validate_key, validate_prefix, verify_chunks
from storage.settings import StorageSettings

MB = 1024 * 1024
PART_SIZE = 8 * MB  # S3's minimum part is 5 MiB; 8 MiB parts allow objects up to 80 GB.
MAX_SINGLE_COPY = 5 * 1024 * MB  # CopyObject's limit; larger objects are copied in parts.
SHA256_META = "sha256"
UPLOADS_DIR = ".uploads/"  # in-flight uploads of unseekable streams; never a valid user key

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_PERMANENT = {
    "403",
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidBucketName",
    "InvalidToken",
    "NoSuchBucket",
    "PermanentRedirect",
    "SignatureDoesNotMatch",
}
_TRANSIENT = {
    "InternalError",
    "RequestLimitExceeded",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
}


class S3Storage:
    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 60.0,
        max_attempts: int = 5,
        multipart_threshold_mb: int = 16,
        presigned_downloads: bool = False,
        presign_expiry_s: int = 900,
    ) -> None:
        self.bucket = bucket
        self.prefix = validate_prefix(prefix) if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self.presigned_downloads = presigned_downloads
        self.presign_expiry_s = presign_expiry_s
        self._threshold = max(1, multipart_threshold_mb) * MB
        self._config = Config(
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": max_attempts},  # first try included
            signature_version="s3v4",
            # Reads are checked against the object's own sha256; CRC checks on responses add nothing
            # and break on servers that report a multipart (composite) CRC as if it were whole.
            response_checksum_validation="when_required",
            # MinIO and most S3-compatible servers are addressed as endpoint/bucket/key.
            s3={"addressing_style": "path"} if endpoint_url else None,
        )
        self._transfer = TransferConfig(
            multipart_threshold=self._threshold,
            multipart_chunksize=PART_SIZE,
            max_concurrency=4,
            preferred_transfer_client="classic",
        )
        # Unseekable streams are read into memory part by part; bound how many parts wait there.
        self._transfer.max_in_memory_upload_chunks = 4
        self._probe_config = self._config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
        self._clients: dict[tuple[int, str], Any] = {}
        self._clients_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: StorageSettings) -> S3Storage:
        if not settings.s3_bucket:
            raise StorageUnavailable("OCR_STORAGE=s3 needs OCR_S3_BUCKET")
        return cls(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            connect_timeout_s=settings.s3_connect_timeout_s,
            read_timeout_s=settings.s3_read_timeout_s,
            max_attempts=settings.s3_max_attempts,
            multipart_threshold_mb=settings.s3_multipart_threshold_mb,
            presigned_downloads=settings.s3_presigned_downloads,
            presign_expiry_s=settings.s3_presign_expiry_s,
        )

    # -- client ----------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        return self._process_client("data", self._config)

    @property
    def _probe(self) -> Any:
        # One attempt: a health probe reports the state now instead of retrying for half a minute.
        return self._process_client("probe", self._probe_config)

    def _process_client(self, role: str, config: Config) -> Any:
        """One client per process and role: pooled connections must not be shared across a Celery fork."""
        pid = os.getpid()
        client = self._clients.get((pid, role))
        if client is None:
            with self._clients_lock:
                if self._clients and next(iter(self._clients))[0] != pid:
                    self._clients = {}
                client = self._clients.get((pid, role))
                if client is None:
                    client = self._clients[(pid, role)] = self._make_client(config)
        return client

    def _make_client(self, config: Config) -> Any:
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config)

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _where(self) -> str:
        return f"S3 bucket '{self.bucket}'" + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    # -- writes ----------------------------------------------------------------------------------
    def save_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> StoredObject:
        full_key = self._key(key)
        if _seekable(stream):
            return self._save_seekable(key, full_key, stream, content_type)
        head = _read_up_to(stream, self._threshold)
        if len(head) < self._threshold:
            return self._save_seekable(key, full_key, io.BytesIO(head), content_type)
        rest = cast(BinaryIO, _Prepended(head, stream))
        del head  # handed out part by part from now on; a name here would pin it for the whole upload
        return self._save_unseekable(key, full_key, rest, content_type)

    def _save_seekable(self, key: str, full_key: str, stream: BinaryIO, content_type: str | None) -> StoredObject:
        # Hash first so the sha256 goes up with the object itself: one upload, no server-side copy.
        start = stream.tell()
        digest = hashlib.sha256()
        size = 0
        while chunk := stream.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
        stream.seek(start)
        sha256 = digest.hexdigest()
        with self._errors(key):
            self.client.upload_fileobj(
                stream,
                self.bucket,
                full_key,
                ExtraArgs=_put_args(sha256, content_type),
                Config=self._transfer,
            )
        return StoredObject(key=key, size=size, sha256=sha256)

    def _save_unseekable(self, key: str, full_key: str, stream: BinaryIO, content_type: str | None) -> StoredObject:
        # The sha256 is known only once the last byte has gone up: upload under a temporary key,
        # then copy server-side to the real key with the checksum in its metadata.
        reader = HashingReader(stream)
        tmp_key = f"{self.prefix}{UPLOADS_DIR}{uuid.uuid4().hex}"
        try:
            with self._errors(key):
                self.client.upload_fileobj(
                    reader,
                    self.bucket,
                    tmp_key,
                    ExtraArgs=_put_args(None, content_type),
                    Config=self._transfer,
                )
                copy_args = {
                    **_put_args(reader.sha256, content_type),
                    "MetadataDirective": "REPLACE",
                }
                source = {"Bucket": self.bucket, "Key": tmp_key}
                if reader.size <= MAX_SINGLE_COPY:
                    self.client.copy_object(CopySource=source, Bucket=self.bucket, Key=full_key, **copy_args)
                else:
                    self.client.copy(source, self.bucket, full_key, ExtraArgs=copy_args, Config=self._transfer)
        finally:
            with contextlib.suppress(BotoCoreError, ClientError):
                self.client.delete_object(Bucket=self.bucket, Key=tmp_key)
        return StoredObject(key=key, size=reader.size, sha256=reader.sha256)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> StoredObject:
        full_key = self._key(key)
        sha256 = hashlib.sha256(data).hexdigest()
        with self._errors(key):
            self.client.put_object(Bucket=self.bucket, Key=full_key, Body=data, **_put_args(sha256, content_type))
        return StoredObject(key=key, size=len(data), sha256=sha256)

    def copy(self, source: str, target: str) -> StoredObject:
        # Server-side: the bytes never leave the store. A copy in parts (above CopyObject's 5 GiB) does
        # not carry the metadata over, so it is given the checksum and type the HEAD reported.
        copy_source = {"Bucket": self.bucket, "Key": self._key(source)}
        with self._errors(source):
            head = self.client.head_object(**copy_source)
            size, sha256 = int(head["ContentLength"]), head.get("Metadata", {}).get(SHA256_META, "")
            if size <= MAX_SINGLE_COPY:
                self.client.copy_object(
                    CopySource=copy_source, Bucket=self.bucket, Key=self._key(target), MetadataDirective="COPY"
                )
            else:
                extra = _put_args(sha256 or None, head.get("ContentType"))
                self.client.copy(copy_source, self.bucket, self._key(target), ExtraArgs=extra, Config=self._transfer)
        return StoredObject(key=target, size=size, sha256=sha256)

    # -- reads -----------------------------------------------------------------------------------
    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        # Not a generator itself: a missing object raises here, before a response has started.
        full_key = self._key(key)
        with self._errors(key):
            response = self.client.get_object(Bucket=self.bucket, Key=full_key)
        return self._verified_chunks(key, response, chunk_size)

    def _verified_chunks(self, key: str, response: dict[str, Any], chunk_size: int) -> Iterator[bytes]:
        body, expected = response["Body"], response.get("Metadata", {}).get(SHA256_META)
        try:
            with self._errors(key):
                yield from verify_chunks(key, body.iter_chunks(chunk_size), expected)
        finally:
            body.close()

    def read_bytes(self, key: str) -> bytes:
        return b"".join(self.iter_chunks(key))

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        chunks = self.iter_chunks(key)
        fd, name = tempfile.mkstemp(prefix="ocr-s3-", suffix=Path(key).suffix)
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            yield path
        finally:
            path.unlink(missing_ok=True)

    def stat(self, key: str) -> StoredObject:
        with self._errors(key):
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return StoredObject(key=key, size=head["ContentLength"], sha256=head.get("Metadata", {}).get(SHA256_META, ""))

    def exists(self, key: str) -> bool:
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def list_keys(self, prefix: str) -> list[str]:
        return sorted(key for page in self._pages(prefix) for key in page)

    def _pages(self, prefix: str) -> Iterator[list[str]]:
        """Relative keys under `prefix/`, one list per listing page (at most 1000 keys each)."""
        full_prefix = self.prefix + validate_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors(prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full_prefix):
                yield [item["Key"][len(self.prefix) :] for item in page.get("Contents", [])]

    # -- deletes ---------------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> int:
        removed = 0
        for keys in self._pages(prefix):
            if not keys:
                continue
            objects = [{"Key": self.prefix + key} for key in keys]
            with self._errors(prefix):
                response = self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
            if errors := response.get("Errors"):
                first = errors[0]
                raise StorageError(
                    f"{self._where()}: could not delete {len(errors)} objects under {prefix}/, "
                    f"first {first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                )
            removed += len(keys)
        return removed

    # -- downloads and health --------------------------------------------------------------------
    def presigned_url(self, key: str, filename: str | None = None, content_type: str | None = None) -> str | None:
        if not self.presigned_downloads:
            return None
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self._key(key)}
        if filename:
            params["ResponseContentDisposition"] = _attachment(filename)
        if content_type:
            params["ResponseContentType"] = content_type
        with self._errors(key):
            url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_expiry_s)
        return url

    def check(self) -> None:
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = _code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                reason = "does not exist"
            elif code in {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
                reason = "refused access: check the credentials and the bucket policy"
            elif code in {"301", "PermanentRedirect", "400"}:
                region = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
                reason = f"is in another region{f' ({region})' if region else ''}: set OCR_S3_REGION"
            else:
                reason = f"cannot be used: {code} {exc}"
            raise StorageUnavailable(f"{self._where()} {reason}") from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StorageUnavailable(f"{self._where()}: no usable AWS credentials: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"{self._where()} is unreachable: {exc}") from exc

    # -- error mapping ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            self._raise_client_error(key, exc)
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StorageUnavailable(f"{self._where()}: no usable AWS credentials: {exc}") from exc
        except (BotoConnectionError, HTTPClientError, IncompleteReadError) as exc:
            # Also covers connection refused, timeouts, and a body cut off mid-stream.
            raise TransientStorageError(f"{self._where()}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"{self._where()}: {exc}") from exc

    def _raise_client_error(self, key: str, exc: ClientError) -> NoReturn:
        code = _code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _NOT_FOUND:
            raise ObjectNotFound(key) from exc
        if code in _PERMANENT:
            raise StorageUnavailable(f"{self._where()} is not usable: {code}: {_message(exc)}") from exc
        if code in _TRANSIENT or status >= 500 or status == 429:
            raise TransientStorageError(f"{self._where()}: {code}: {_message(exc)} (key {key})") from exc
        raise StorageError(f"{self._where()}: {code}: {_message(exc)} (key {key})") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)


def _put_args(sha256: str | None, content_type: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {"ContentType": content_type or "application/octet-stream"}
    if sha256:
        args["Metadata"] = {SHA256_META: sha256}
    return args


def _attachment(filename: str) -> str:
    ascii_name = filename.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "") or "download"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """Read `size` bytes, or fewer only at the end of the stream (pipes and sockets return short reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


class _Prepended:
    """`head`, then the rest of `stream`; every read is filled up to `n` bytes unless the stream ends.

    s3transfer cuts parts at read boundaries, and a short read would make a part under S3's minimum.
    """

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            data, self._head = self._head + self._stream.read(), b""
            return data
        data, self._head = self._head[:n], self._head[n:]
        return data + _read_up_to(self._stream, n - len(data))
