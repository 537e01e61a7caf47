"""`ocr-client submit`'s engine: bounded workers over a streaming walk, one pooled AsyncClient, a state file.

A file is hashed, skipped when its results are there for the same bytes and options, otherwise uploaded (or,
when a job id was recorded for it and never finished, waited for instead), followed to the end and its
results downloaded next to where it sits in the input tree.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

import httpx

from ocr_client._requests import finished_or_raise
from ocr_client.client import AsyncClient
from ocr_client.discover import Input
from ocr_client.errors import ApiError, JobFailed, OcrClientError, ServerUnreachable
from ocr_client.models import Event, Job
from ocr_client.options import JobOptions
from ocr_client.state import Entry, StateFile, file_sha256


def result_formats(options: JobOptions) -> tuple[str, ...]:
    """The results a job made with `options` has, in their order (the server's default: txt)."""
    return tuple(f.strip() for f in (options.formats or "txt").split(",") if f.strip())


def options_key(options: JobOptions) -> str:
    """A stable text of the options: results made with other options are not reused."""
    return json.dumps(options.given(), sort_keys=True, separators=(",", ":"))


def idempotency_key(sha256: str, options_key: str) -> str:
    return hashlib.sha256(f"{sha256}\n{options_key}".encode()).hexdigest()


@dataclass
class Outcome:
    rel: str
    status: Literal["done", "skipped", "failed"]
    job_id: str | None = None
    pages: int = 0
    reason: str = ""
    resumed: bool = False  # waited for the job a previous run had submitted
    unreached: bool = False  # failed because the server could not be reached: worth trying again later


class Reporter(Protocol):
    def discovered(self, count: int, complete: bool) -> None: ...
    def page_done(self) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...


@dataclass
class Batch:
    client: AsyncClient
    outdir: Path
    options: JobOptions
    reporter: Reporter
    concurrency: int = 8
    stream_events: bool = True
    outcomes: list[Outcome] = field(default_factory=list)
    _unreachable: str | None = field(default=None, init=False)  # set once the server stays away

    @property
    def unreachable(self) -> str | None:
        """Why the run stopped taking inputs (the server stayed away), or None."""
        return self._unreachable

    async def run(self, inputs: Iterator[Input] | AsyncIterator[Input]) -> list[Outcome]:
        """OCR every input until `inputs` ends: a walk (a blocking iterator, read in a thread) or the files a
        folder watch finds (an async iterator, ocr_client.watch)."""
        state = StateFile(self.outdir)
        queue: asyncio.Queue[Input | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        workers = [asyncio.create_task(self._worker(queue, state)) for _ in range(self.concurrency)]
        try:
            found = 0
            while self._unreachable is None:
                item = await _next_input(inputs)
                if item is None:
                    break
                found += 1
                self.reporter.discovered(found, complete=False)
                await queue.put(item)
            self.reporter.discovered(found, complete=True)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            state.close()
        return self.outcomes

    async def _worker(self, queue: asyncio.Queue[Input | None], state: StateFile) -> None:
        while (item := await queue.get()) is not None:
            if self._unreachable is not None:
                outcome = Outcome(
                    item.rel.as_posix(), "failed", reason=f"not tried: {self._unreachable}", unreached=True
                )
            else:
                outcome = await self._process(item, state)
            self.outcomes.append(outcome)
            self.reporter.finished(outcome)

    async def _process(self, item: Input, state: StateFile) -> Outcome:
        rel = item.rel.as_posix()
        key = options_key(self.options)
        outputs = {fmt: item.output(self.outdir, fmt) for fmt in result_formats(self.options)}
        job_id: str | None = None
        try:
            sha256 = await asyncio.to_thread(file_sha256, item.path)
            entry = state.get(rel)
            if entry and entry.same_input(sha256, key):
                if entry.done and all(p.exists() for p in outputs.values()):
                    return Outcome(rel, "skipped", entry.job_id)
                job_id = entry.job_id
            resumed = job_id is not None and await self._still_there(job_id)
            if not resumed:
                job_id = await self._submit(item, Entry(rel, sha256, key, "", done=False), state)
            assert job_id is not None
            job = await self._finish(job_id, outputs)
            state.record(Entry(rel, sha256, key, job_id, done=True))
            return Outcome(rel, "done", job_id, job.pages_total or 0, resumed=resumed)
        except (OcrClientError, OSError, httpx.HTTPError) as exc:
            return self._failed(rel, job_id, exc)

    async def _submit(self, item: Input, entry: Entry, state: StateFile) -> str:
        """Upload the file; its job id goes into the state file at once, so a rerun waits for that job."""
        key = idempotency_key(entry.sha256, entry.options)
        job = await self.client.submit(item.path, idempotency_key=key, options=self.options)
        state.record(replace(entry, job_id=job.id))
        return job.id

    async def _finish(self, job_id: str, outputs: dict[str, Path]) -> Job:
        """Wait for the job to end; write its results when it succeeded, raise JobFailed when it did not."""
        job = await self.client.wait(job_id, on_event=self._on_event, stream=self.stream_events)
        finished_or_raise(job)  # failed or cancelled: JobFailed
        for fmt, path in outputs.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            await self.client.download(job_id, fmt, path)
        return job

    def _failed(self, rel: str, job_id: str | None, exc: Exception) -> Outcome:
        if isinstance(exc, ServerUnreachable):
            self._unreachable = f"server unreachable ({exc})"
            return Outcome(rel, "failed", job_id, reason=self._unreachable, unreached=True)
        if isinstance(exc, ApiError):
            return Outcome(rel, "failed", job_id, reason=f"{exc.status} {exc.code}: {exc.message}")
        if isinstance(exc, JobFailed):
            return Outcome(rel, "failed", job_id, reason=f"job failed: {exc.code}: {exc.message}")
        return Outcome(rel, "failed", job_id, reason=f"{type(exc).__name__}: {exc}")

    async def _still_there(self, job_id: str) -> bool:
        """Whether the job an earlier run submitted can still be waited for (it may have been deleted)."""
        try:
            await self.client.job(job_id)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _on_event(self, event: Event) -> None:
        if event.type == "page":
            self.reporter.page_done()


async def _next_input(inputs: Iterator[Input] | AsyncIterator[Input]) -> Input | None:
    if isinstance(inputs, AsyncIterator):
        return await anext(inputs, None)
    # The walk touches the disk: it runs in a thread, one file ahead at a time.
    return await asyncio.to_thread(next, inputs, None)
