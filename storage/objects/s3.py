"""S3 (and MinIO, Ceph, ...) storage behind the Storage protocol; every object carries its sha256.

Beside it: s3_client.py (timeouts, retries, transfer settings, a client per process), s3_errors.py (botocore's
errors as storage errors), s3_streams.py (unseekable uploads in full parts).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

from storage.errors import ObjectNotFound, StorageError, StorageUnavailable
from storage.objects.base import CHUNK_SIZE, HashingReader, StoredObject, validate_key, validate_prefix, verify_chunks
from storage.objects.headers import content_disposition
from storage.objects.s3_client import MB, ProcessClients, client_config, probe_config, transfer_config
from storage.objects.s3_errors import bucket_problem, storage_errors
from storage.objects.s3_streams import Prepended, read_up_to, seekable
from storage.settings import StorageSettings

MAX_SINGLE_COPY = 5 * 1024 * MB  # CopyObject's limit; larger objects are copied in parts.
SHA256_META = "sha256"
UPLOADS_DIR = ".uploads/"  # in-flight uploads of unseekable streams; never a valid user key


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
        self._config = client_config(connect_timeout_s, read_timeout_s, max_attempts, path_style=bool(endpoint_url))
        self._transfer = transfer_config(self._threshold)
        self._probe_config = probe_config(self._config)
        self._clients = ProcessClients()

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
        return self._process_client("probe", self._probe_config)

    def _process_client(self, role: str, config: Config) -> Any:
        return self._clients.get(role, lambda: self._make_client(config))

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
        if seekable(stream):
            return self._save_seekable(key, full_key, stream, content_type)
        head = read_up_to(stream, self._threshold)
        if len(head) < self._threshold:
            return self._save_seekable(key, full_key, io.BytesIO(head), content_type)
        rest = cast(BinaryIO, Prepended(head, stream))
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
            params["ResponseContentDisposition"] = content_disposition(filename)
        if content_type:
            params["ResponseContentType"] = content_type
        with self._errors(key):
            url: str = self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=self.presign_expiry_s)
        return url

    def check(self) -> None:
        try:
            self._probe.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            raise StorageUnavailable(f"{self._where()} {bucket_problem(exc)}") from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise StorageUnavailable(f"{self._where()}: no usable AWS credentials: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageUnavailable(f"{self._where()} is unreachable: {exc}") from exc

    def _errors(self, key: str) -> contextlib.AbstractContextManager[None]:
        return storage_errors(self._where(), key)


def _put_args(sha256: str | None, content_type: str | None) -> dict[str, Any]:
    args: dict[str, Any] = {"ContentType": content_type or "application/octet-stream"}
    if sha256:
        args["Metadata"] = {SHA256_META: sha256}
    return args
