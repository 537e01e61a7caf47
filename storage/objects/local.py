"""Local-disk storage: atomic writes (temp file, fsync, rename), never outside its root."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from storage.errors import InvalidKey, ObjectNotFound, StorageUnavailable
from storage.objects.base import CHUNK_SIZE, HashingReader, StoredObject, validate_key, validate_prefix, verify_chunks

log = logging.getLogger(__name__)
_SUM_SUFFIX = ".sha256"


class LocalStorage:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self._tmp = self.root / ".tmp"
        self._tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        _make_private(self.root)

    # -- paths -----------------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        path = (self.root / validate_key(key)).resolve()
        if self.root not in path.parents:
            raise InvalidKey(f"key escapes the storage root: {key!r}")
        return path

    @staticmethod
    def _sum_path(path: Path) -> Path:
        return path.with_name(path.name + _SUM_SUFFIX)

    # -- writes ----------------------------------------------------------------------------------
    def save_stream(self, key: str, stream: BinaryIO, content_type: str | None = None) -> StoredObject:
        path = self._path(key)
        new_dir = not path.parent.is_dir()
        path.parent.mkdir(parents=True, exist_ok=True)
        reader = HashingReader(stream)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix=uuid.uuid4().hex)
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(reader, out, CHUNK_SIZE)
                out.flush()
                os.fsync(out.fileno())
            self._write_sum(path, reader.sha256)
            os.replace(tmp_name, path)
            # The new name is durable only once its directory is (and a new directory's own name in its parent).
            _fsync_dir(path.parent)
            if new_dir:
                _fsync_dir(path.parent.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        return StoredObject(key=key, size=reader.size, sha256=reader.sha256)

    def _write_sum(self, path: Path, sha256: str) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp)
        with os.fdopen(fd, "w") as out:
            out.write(sha256)
        os.replace(tmp_name, self._sum_path(path))

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> StoredObject:
        return self.save_stream(key, io.BytesIO(data), content_type)

    def copy(self, source: str, target: str) -> StoredObject:
        # A hard link shares the file: safe, because every write here makes a new file and renames it
        # over the key, and a delete only removes a name. Where links are not possible, a plain copy.
        src, dst = self._path(source), self._path(target)
        if not src.is_file():
            raise ObjectNotFound(source)
        sha256 = self._expected_sum(src)
        if sha256 is None:  # an object without its checksum file: store it afresh, which computes one
            with src.open("rb") as stream:
                return self.save_stream(target, stream)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / uuid.uuid4().hex
        try:
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            self._write_sum(dst, sha256)
            os.replace(tmp, dst)
        except FileNotFoundError:
            raise ObjectNotFound(source) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        return StoredObject(key=target, size=dst.stat().st_size, sha256=sha256)

    # -- reads -----------------------------------------------------------------------------------
    def _expected_sum(self, path: Path) -> str | None:
        try:
            return self._sum_path(path).read_text().strip()
        except FileNotFoundError:
            return None

    def iter_chunks(self, key: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        # Not a generator itself: a missing object raises here, before a response has started.
        path = self._path(key)
        try:
            handle = path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            raise ObjectNotFound(key) from None
        return verify_chunks(key, _file_chunks(handle, chunk_size), self._expected_sum(path))

    def read_bytes(self, key: str) -> bytes:
        return b"".join(self.iter_chunks(key))

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFound(key)
        yield path

    def stat(self, key: str) -> StoredObject:
        path = self._path(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(key) from None
        return StoredObject(key=key, size=size, sha256=self._expected_sum(path) or "")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str) -> list[str]:
        base = self._path(validate_prefix(prefix).rstrip("/"))
        if not base.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file() and not p.name.endswith(_SUM_SUFFIX)
        )

    # -- deletes ---------------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        path = self._path(key)
        for candidate in (path, self._sum_path(path)):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        base = self._path(validate_prefix(prefix).rstrip("/"))
        shutil.rmtree(base, ignore_errors=True)
        return len(keys)

    def presigned_url(self, key: str, filename: str | None = None, content_type: str | None = None) -> None:
        return None

    def check(self) -> None:
        probe = self._tmp / f"probe-{uuid.uuid4().hex}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailable(f"local storage at {self.root} is not writable: {exc}") from exc


def _file_chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _make_private(root: Path) -> None:
    """The root is the service user's alone (0700): nobody else lists job ids or reads a document. Every object
    is written through mkstemp, so each file is 0600 already; a closed root keeps the folders below private too."""
    try:
        if root.stat().st_mode & 0o077:
            root.chmod(0o700)
    except PermissionError as exc:  # another user's directory: it works, but say it is not private
        log.warning("cannot make the storage root %s private to this user: %s", root, exc)
