"""Server-Timing: time spent on the database, storage and broker while one API request is handled.

The API's middleware puts a fresh `Timings` in the context of each request; code that waits on a dependency
wraps the wait in `timed(name)`. Threads started with anyio or Starlette copy the context, and the copy
refers to the same `Timings`, so work done in the thread pool is counted too. Outside a request it costs a
context variable lookup.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Timings:
    __slots__ = ("seconds",)

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def header(self, total_s: float | None = None) -> str:
        parts = [f"{name};dur={seconds * 1000:.1f}" for name, seconds in self.seconds.items()]
        if total_s is not None:
            parts.append(f"app;dur={total_s * 1000:.1f}")
        return ", ".join(parts)


current: ContextVar[Timings | None] = ContextVar("timings", default=None)


@contextmanager
def timed(name: str) -> Iterator[None]:
    timings = current.get()
    if timings is None:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        timings.add(name, time.perf_counter() - started)
