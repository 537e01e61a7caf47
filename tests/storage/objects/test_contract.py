"""The Storage contract: every backend passes the same tests (LocalStorage and S3Storage on moto)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from storage.errors import ChecksumMismatch, InvalidKey, ObjectNotFound
from storage.objects.base import Storage, StoredObject

MB = 1024 * 1024


class Unseekable(io.RawIOBase):
    """A pipe-like stream: no seek, no tell, and short reads."""

    def __init__(self, data: bytes, max_read: int = 64 * 1024) -> None:
        self._data = io.BytesIO(data)
        self._max_read = max_read

    def readable(self) -> bool:
        return True

    def read(self, n: int | None = -1) -> bytes:
        n = self._max_read if n is None or n < 0 else min(n, self._max_read)
        return self._data.read(n)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_implements_the_protocol(storage: Storage) -> None:
    assert isinstance(storage, Storage)
    assert storage.name in {"local", "s3"}


def test_put_bytes_then_read(storage: Storage) -> None:
    data = b"hello \x00 world" * 100
    stored = storage.put_bytes("jobs/j1/pages/00001.json", data, "application/json")
    assert stored == StoredObject(key="jobs/j1/pages/00001.json", size=len(data), sha256=sha(data))
    assert storage.read_bytes("jobs/j1/pages/00001.json") == data


def test_empty_object(storage: Storage) -> None:
    assert storage.put_bytes("jobs/j1/empty", b"").size == 0
    assert storage.read_bytes("jobs/j1/empty") == b""
    assert storage.save_stream("jobs/j1/empty2", io.BytesIO(b"")).sha256 == sha(b"")


def test_overwrite_replaces_content(storage: Storage) -> None:
    storage.put_bytes("jobs/j1/input", b"first")
    storage.put_bytes("jobs/j1/input", b"second")
    assert storage.read_bytes("jobs/j1/input") == b"second"
    assert storage.stat("jobs/j1/input").sha256 == sha(b"second")


@pytest.mark.parametrize(
    ("size", "unseekable"),
    [(1000, False), (1000, True), (12 * MB + 7, False), (12 * MB + 7, True)],
    ids=["small-seekable", "small-unseekable", "multipart-seekable", "multipart-unseekable"],
)
def test_save_stream(storage: Storage, size: int, unseekable: bool) -> None:
    data = os.urandom(size)
    stream = Unseekable(data) if unseekable else io.BytesIO(data)
    stored = storage.save_stream("jobs/j2/input", stream, "application/pdf")  # type: ignore[arg-type]
    assert (stored.size, stored.sha256) == (size, sha(data))
    assert storage.stat("jobs/j2/input") == stored
    assert storage.read_bytes("jobs/j2/input") == data


def test_save_stream_from_the_current_position(storage: Storage) -> None:
    stream = io.BytesIO(b"HEADERbody")
    stream.read(6)  # a caller that sniffed the first bytes and did not rewind
    stored = storage.save_stream("jobs/j2/input", stream)
    assert storage.read_bytes("jobs/j2/input") == b"body"
    assert stored.size == 4


def test_iter_chunks_streams_in_bounded_pieces(storage: Storage) -> None:
    data = os.urandom(3 * MB + 11)
    storage.put_bytes("jobs/j3/result.pdf", data)
    chunks = list(storage.iter_chunks("jobs/j3/result.pdf", chunk_size=MB))
    assert len(chunks) >= 4
    assert all(len(c) <= MB for c in chunks)
    assert b"".join(chunks) == data


def test_local_path_holds_the_object_for_the_context(storage: Storage) -> None:
    storage.put_bytes("jobs/j4/input", b"%PDF-1.7 ...")
    with storage.local_path("jobs/j4/input") as path:
        assert isinstance(path, Path)
        assert path.read_bytes() == b"%PDF-1.7 ..."
    if storage.name != "local":  # a downloaded copy is removed afterwards
        assert not path.exists()
    assert storage.exists("jobs/j4/input")


def test_stat_and_exists(storage: Storage) -> None:
    assert not storage.exists("jobs/j5/input")
    storage.put_bytes("jobs/j5/input", b"12345")
    assert storage.exists("jobs/j5/input")
    assert storage.stat("jobs/j5/input") == StoredObject("jobs/j5/input", 5, sha(b"12345"))
    assert not storage.exists("jobs/j5")  # a prefix is not an object


def test_delete_is_idempotent(storage: Storage) -> None:
    storage.put_bytes("jobs/j6/input", b"x")
    storage.delete("jobs/j6/input")
    assert not storage.exists("jobs/j6/input")
    storage.delete("jobs/j6/input")
    storage.delete("jobs/never/there")


def test_list_keys(storage: Storage) -> None:
    for key in ["jobs/j7/input", "jobs/j7/pages/00002.json", "jobs/j7/pages/00001.json", "jobs/j70/input"]:
        storage.put_bytes(key, b"x")
    assert storage.list_keys("jobs/j7") == [
        "jobs/j7/input",
        "jobs/j7/pages/00001.json",
        "jobs/j7/pages/00002.json",
    ]
    assert storage.list_keys("jobs/j7/") == storage.list_keys("jobs/j7")
    assert storage.list_keys("jobs/j7/pages") == ["jobs/j7/pages/00001.json", "jobs/j7/pages/00002.json"]
    assert storage.list_keys("jobs/none") == []


def test_delete_prefix_removes_only_that_prefix(storage: Storage) -> None:
    for key in ["jobs/j8/input", "jobs/j8/pages/00001.json", "jobs/j80/input", "jobs/j9/input"]:
        storage.put_bytes(key, b"x")
    assert storage.delete_prefix("jobs/j8") == 2
    assert storage.list_keys("jobs/j8") == []
    assert storage.exists("jobs/j80/input")  # shares the characters, not the folder
    assert storage.exists("jobs/j9/input")
    assert storage.delete_prefix("jobs/j8") == 0


def test_delete_prefix_beyond_one_batch(storage: Storage) -> None:
    # S3 lists and deletes at most 1000 keys per request.
    keys = [f"jobs/big/pages/{n:05d}.json" for n in range(1003)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: storage.put_bytes(k, b"{}"), keys))
    assert len(storage.list_keys("jobs/big")) == 1003
    assert storage.delete_prefix("jobs/big") == 1003
    assert storage.list_keys("jobs/big") == []


def test_copy_is_independent_of_its_source(storage: Storage) -> None:
    data = b"result text \n" * 1000
    storage.put_bytes("jobs/a/result.txt", data, "text/plain; charset=utf-8")
    copied = storage.copy("jobs/a/result.txt", "jobs/b/result.txt")
    assert copied == StoredObject(key="jobs/b/result.txt", size=len(data), sha256=sha(data))
    assert storage.stat("jobs/b/result.txt") == copied
    assert storage.read_bytes("jobs/b/result.txt") == data
    storage.put_bytes("jobs/a/result.txt", b"rewritten")  # a later write to the source ...
    assert storage.read_bytes("jobs/b/result.txt") == data  # ... leaves the copy as it was
    storage.copy("jobs/a/result.txt", "jobs/b/result.txt")  # copying over an existing object replaces it
    assert storage.read_bytes("jobs/b/result.txt") == b"rewritten"
    storage.delete_prefix("jobs/a")
    assert storage.read_bytes("jobs/b/result.txt") == b"rewritten"
    with pytest.raises(ObjectNotFound) as info:
        storage.copy("jobs/a/result.txt", "jobs/c/result.txt")
    assert info.value.key == "jobs/a/result.txt" and not storage.exists("jobs/c/result.txt")


def test_a_copy_of_a_tampered_object_fails_its_checksum(storage: Storage, tamper: Callable[[str, bytes], None]) -> None:
    storage.put_bytes("jobs/t/result.txt", b"the original text")
    tamper("jobs/t/result.txt", b"the altered text!")
    storage.copy("jobs/t/result.txt", "jobs/u/result.txt")
    with pytest.raises(ChecksumMismatch):
        storage.read_bytes("jobs/u/result.txt")


def test_missing_object(storage: Storage) -> None:
    key = "jobs/missing/input"
    with pytest.raises(ObjectNotFound) as info:
        storage.read_bytes(key)
    assert info.value.key == key
    with pytest.raises(ObjectNotFound):
        list(storage.iter_chunks(key))
    with pytest.raises(ObjectNotFound):
        storage.stat(key)
    with pytest.raises(ObjectNotFound), storage.local_path(key):
        pass


def test_tampered_object_fails_its_checksum(storage: Storage, tamper: Callable[[str, bytes], None]) -> None:
    storage.put_bytes("jobs/j10/result.txt", b"the original text")
    tamper("jobs/j10/result.txt", b"the altered text!")
    with pytest.raises(ChecksumMismatch):
        storage.read_bytes("jobs/j10/result.txt")
    chunks = storage.iter_chunks("jobs/j10/result.txt", chunk_size=4)
    with pytest.raises(ChecksumMismatch):
        for _ in chunks:
            pass


@pytest.mark.parametrize("key", ["../x", "/abs", "a/../../b", "a//b", "./a", "a/", "", "a\\b", "x" * 600])
def test_invalid_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        storage.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        storage.save_stream(key, io.BytesIO(b"x"))
    with pytest.raises(InvalidKey):
        storage.read_bytes(key)
    with pytest.raises(InvalidKey):
        list(storage.iter_chunks(key))
    with pytest.raises(InvalidKey), storage.local_path(key):
        pass
    with pytest.raises(InvalidKey):
        storage.stat(key)
    with pytest.raises(InvalidKey):
        storage.exists(key)
    with pytest.raises(InvalidKey):
        storage.delete(key)


@pytest.mark.parametrize("prefix", ["..", "../other", "/", "/abs", "a/../.."])
def test_invalid_prefixes_are_refused(storage: Storage, prefix: str) -> None:
    with pytest.raises(InvalidKey):
        storage.list_keys(prefix)
    with pytest.raises(InvalidKey):
        storage.delete_prefix(prefix)


def test_two_stores_on_one_medium_are_isolated(twin_storages: tuple[Storage, Storage]) -> None:
    a, b = twin_storages
    a.put_bytes("jobs/j12/input", b"from a")
    b.put_bytes("jobs/j12/input", b"from b")
    b.put_bytes("jobs/j13/input", b"only b")
    assert a.read_bytes("jobs/j12/input") == b"from a"
    assert b.read_bytes("jobs/j12/input") == b"from b"
    assert not a.exists("jobs/j13/input")
    assert a.list_keys("jobs") == ["jobs/j12/input"]
    assert a.delete_prefix("jobs") == 1
    assert b.list_keys("jobs") == ["jobs/j12/input", "jobs/j13/input"]


def test_large_object_through_save_stream(storage: Storage, generated_stream: Callable[[int], Any]) -> None:
    """More than 100 MB from an unseekable generator: S3 takes it in parts, never whole in memory."""
    size = 100 * MB + 12345
    stream = generated_stream(size)
    stored = storage.save_stream("jobs/large/input", stream, "application/pdf")
    assert stored.size == size
    assert stored.sha256 == stream.digest.hexdigest()
    assert storage.stat("jobs/large/input") == stored
    digest, total = hashlib.sha256(), 0
    for chunk in storage.iter_chunks("jobs/large/input"):  # verifies the stored sha256 at the end
        digest.update(chunk)
        total += len(chunk)
    assert (total, digest.hexdigest()) == (size, stored.sha256)
    assert storage.delete_prefix("jobs/large") == 1


def test_check_passes_on_a_usable_store(storage: Storage) -> None:
    storage.check()
