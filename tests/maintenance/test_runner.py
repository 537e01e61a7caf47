"""The one runner of the periodic sweeps: one interval setting per sweep, 0 turns a sweep off, a failed pass is
logged and tried again next interval, the sweeps stop with the block (the app's lifespan), and the idempotency
purge runs on its own interval, started by the app."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from maintenance import idempotency_purge, recovery, retention, runner, webhook_resend
from maintenance.settings import get_maintenance_settings
from ocr_api.app import create_app, lifespan
from storage.records import idempotency
from storage.records.db import session_scope
from storage.records.models import IdempotencyRecord

INTERVALS = {
    "OCR_RECOVERY_INTERVAL_S": "11",
    "OCR_RETENTION_INTERVAL_S": "12",
    "OCR_IDEMPOTENCY_PURGE_INTERVAL_S": "13",
    "OCR_WEBHOOK_SWEEP_INTERVAL_S": "14",
}


def _set_intervals(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    get_maintenance_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings() -> None:
    get_maintenance_settings.cache_clear()


def test_every_sweep_runs_on_its_own_interval_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in INTERVALS:
        monkeypatch.delenv(name, raising=False)
    assert {s.name: s.interval_s for s in runner.scheduled()} == {
        "recovery sweep": 60,
        "retention sweep": 60,
        "idempotency key purge": 60,
        "webhook sweep": 60,
    }
    _set_intervals(monkeypatch, **INTERVALS)
    assert {s.name: (s.interval_s, s.run) for s in runner.scheduled()} == {
        "recovery sweep": (11, recovery.sweep),
        "retention sweep": (12, retention.sweep),
        "idempotency key purge": (13, idempotency_purge.purge),
        "webhook sweep": (14, webhook_resend.sweep),
    }


async def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_failed_pass_is_logged_and_the_sweep_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def flaky() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            raise RuntimeError("database unreachable")

    async def main() -> None:
        async with runner.running([runner.Sweep("flaky sweep", 0.01, flaky)]):
            await _wait(lambda: len(calls) >= 3)

    with caplog.at_level(logging.ERROR, logger="maintenance.runner"):
        asyncio.run(main())
    [failure] = [r for r in caplog.records if r.name == "maintenance.runner"]
    assert failure.getMessage() == "flaky sweep failed; trying again in 0.01 s"
    assert failure.exc_info is not None and "database unreachable" in str(failure.exc_info[1])


def test_an_interval_of_0_turns_a_sweep_off(monkeypatch: pytest.MonkeyPatch) -> None:
    off: list[int] = []
    on: list[int] = []

    async def main() -> set[str]:
        sweeps = [runner.Sweep("off", 0, lambda: off.append(1)), runner.Sweep("on", 0.01, lambda: on.append(1))]
        async with runner.running(sweeps):
            await _wait(lambda: len(on) >= 3)
        _set_intervals(monkeypatch, **{**INTERVALS, "OCR_RECOVERY_INTERVAL_S": "0"})
        async with runner.running():  # the real sweeps, never due within this block
            return {task.get_name() for task in asyncio.all_tasks()}

    names = asyncio.run(main())
    assert off == []
    assert {"retention sweep", "idempotency key purge", "webhook sweep"} <= names
    assert "recovery sweep" not in names


def test_the_sweeps_stop_when_the_block_ends() -> None:
    calls: list[int] = []

    async def main() -> int:
        async with runner.running([runner.Sweep("tick", 0.01, lambda: calls.append(1))]):
            await _wait(lambda: len(calls) >= 2)
        stopped_at = len(calls)
        await asyncio.sleep(0.1)
        assert not [t for t in asyncio.all_tasks() if t.get_name() == "tick"]
        return stopped_at

    stopped_at = asyncio.run(main())
    assert len(calls) == stopped_at


def _idempotency_keys() -> set[str]:
    with session_scope() as session:
        return set(session.scalars(select(IdempotencyRecord.key)))


def test_the_app_purges_expired_idempotency_keys_on_their_own_interval(
    local_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every other sweep off, the recovery sweep's interval among them: the purge no longer borrows it.
    _set_intervals(
        monkeypatch,
        OCR_RECOVERY_INTERVAL_S="0",
        OCR_RETENTION_INTERVAL_S="0",
        OCR_WEBHOOK_SWEEP_INTERVAL_S="0",
        OCR_IDEMPOTENCY_PURGE_INTERVAL_S="1",
    )
    day, stale = timedelta(hours=24), timedelta(minutes=10)
    with session_scope() as session:
        idempotency.reserve(session, "owner", "expired", "f", ttl=-day, stale_after=stale)
        idempotency.reserve(session, "owner", "live", "f", ttl=day, stale_after=stale)
    assert _idempotency_keys() == {"expired", "live"}
    app = create_app()

    async def serving() -> None:
        async with lifespan(app):  # what the app runs at start; it starts the runner
            await _wait(lambda: "expired" not in _idempotency_keys(), timeout=10)

    asyncio.run(serving())
    assert _idempotency_keys() == {"live"}
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1
