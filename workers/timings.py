"""Per-step timings of a worker's page task (claim, load, recognize, store, finalize, finish, ...), so the
service's overhead around recognition stays visible: each step goes to the ocr_page_step_seconds histogram
as it ends, and the task's steps are added to its end-of-task log line (workers/signals.py).

    with timings.step("load"):
        image = load_page(...)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

_steps: dict[str, float] = {}  # this process's current task: step -> seconds (a pool process runs one at a time)


def observe(name: str, seconds: float) -> None:
    from workers.metrics import STEP_SECONDS

    STEP_SECONDS.labels(name).observe(seconds)
    _steps[name] = _steps.get(name, 0.0) + seconds


@contextmanager
def step(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        observe(name, time.perf_counter() - started)


def take() -> dict[str, float]:
    """The current task's steps in ms, and a fresh start for the next task."""
    steps = {name: round(seconds * 1000, 2) for name, seconds in _steps.items()}
    _steps.clear()
    return steps
