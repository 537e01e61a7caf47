"""The one runner of the periodic maintenance: each sweep in its own asyncio task, every interval, in a thread
(the sweeps block on the database and the broker), for as long as the API runs. Every API process runs every
sweep; each is safe to run in several processes at once. A sweep that fails is logged and tried again after its
interval; an interval of 0 turns that sweep off. Started and stopped by the app's lifespan (ocr_api/app.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio.to_thread

from maintenance import idempotency_purge, recovery, retention, webhook_resend
from maintenance.settings import MaintenanceSettings, get_maintenance_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sweep:
    name: str
    interval_s: float  # 0 (or less): off
    run: Callable[[], object]  # one pass, blocking


def scheduled(settings: MaintenanceSettings | None = None) -> list[Sweep]:
    """Every sweep the API runs, each with its interval setting."""
    settings = settings or get_maintenance_settings()
    return [
        Sweep("recovery sweep", settings.recovery_interval_s, recovery.sweep),
        Sweep("retention sweep", settings.retention_interval_s, retention.sweep),
        Sweep("idempotency key purge", settings.idempotency_purge_interval_s, idempotency_purge.purge),
        Sweep("webhook sweep", settings.webhook_sweep_interval_s, webhook_resend.sweep),
    ]


async def run_every(sweep: Sweep) -> None:
    """Run `sweep` every interval until cancelled; a failure is logged and the sweep runs again next time."""
    while True:
        await asyncio.sleep(sweep.interval_s)
        try:
            await anyio.to_thread.run_sync(sweep.run)
        except Exception:
            log.exception("%s failed; trying again in %s s", sweep.name, sweep.interval_s)


@contextlib.asynccontextmanager
async def running(sweeps: list[Sweep] | None = None) -> AsyncIterator[None]:
    """The sweeps (default: `scheduled()`) run while the block does, and are cancelled when it ends."""
    tasks = [
        asyncio.create_task(run_every(sweep), name=sweep.name)
        for sweep in (scheduled() if sweeps is None else sweeps)
        if sweep.interval_s > 0
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
