"""Job lookups for the routes, batched per turn of the event loop.

Every route that names a job reads its row first, and a thread hop costs more than the query (the thread
has to win the GIL back from a busy event loop). Lookups that arrive in the same turn of the loop therefore
share one hop and one `SELECT ... WHERE id IN (...)`: under load a batch holds about as many lookups as
there are requests in flight; alone, a lookup is a batch of one and costs what it did before.

A batch whose query fails is read again one id at a time, so one bad id fails its own request only, never the
others that happened to share its turn (ids are checked before they get here: ocr_api/deps.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from concurrent.futures import Executor
from functools import partial

from storage.records.job_reads import JobRecord

BATCH_LIMIT = 500  # ids per query: far below SQLite's and PostgreSQL's bound-parameter limits

ReadMany = Callable[[Collection[str]], dict[str, JobRecord]]
Waiters = dict[str, list[asyncio.Future[JobRecord | None]]]
Outcomes = dict[str, JobRecord | Exception | None]


class JobLookups:
    def __init__(self, executor: Executor, read_many: ReadMany) -> None:
        self._executor = executor
        self._read_many = read_many
        self._waiting: Waiters = {}

    async def get(self, job_id: str) -> JobRecord | None:
        """The job's current row, or None when there is no such job."""
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._flush, loop)
        future: asyncio.Future[JobRecord | None] = loop.create_future()
        self._waiting.setdefault(job_id, []).append(future)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting, self._waiting = self._waiting, {}
        ids = list(waiting)
        for start in range(0, len(ids), BATCH_LIMIT):
            batch = {job_id: waiting[job_id] for job_id in ids[start : start + BATCH_LIMIT]}
            read = loop.run_in_executor(self._executor, _read_batch, self._read_many, list(batch))
            read.add_done_callback(partial(_deliver, batch))


def _read_batch(read_many: ReadMany, ids: list[str]) -> Outcomes:
    """Each id's row (None: no such job), or the error its own query raised."""
    try:
        found = read_many(ids)
        return {job_id: found.get(job_id) for job_id in ids}
    except Exception as exc:  # handed to the request(s) it belongs to
        if len(ids) == 1:
            return {ids[0]: exc}
    outcomes: Outcomes = {}
    for job_id in ids:
        try:
            outcomes[job_id] = read_many([job_id]).get(job_id)
        except Exception as exc:
            outcomes[job_id] = exc
    return outcomes


def _deliver(batch: Waiters, read: asyncio.Future[Outcomes]) -> None:
    error = asyncio.CancelledError() if read.cancelled() else read.exception()
    outcomes: Outcomes = {} if error is not None else read.result()
    for job_id, futures in batch.items():
        outcome = error if error is not None else outcomes.get(job_id)
        for future in futures:
            if future.done():  # the request went away
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
