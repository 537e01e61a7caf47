"""Reading an upload for S3: whether it can be hashed before it goes up (seekable), and how an unseekable one is
handed to s3transfer in full parts."""

from __future__ import annotations

from typing import BinaryIO


def seekable(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def read_up_to(stream: BinaryIO, size: int) -> bytes:
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


class Prepended:
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
        return data + read_up_to(self._stream, n - len(data))
