"""`ocr-client submit`'s engine: bounded workers over a streaming walk, one pooled AsyncClient, a state file.

A file is hashed, skipped when its results are there for the same bytes and options, otherwise uploaded (or,
when a job id was recorded for it and never finished, waited for instead), followed to the end and its
results downloaded next to where it sits in the input tree.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from ocr_client.client import AsyncClient
from ocr_client.discover import Input
from ocr_client.errors import ApiError, JobFailed, OcrClientError, ServerUnreachable
from ocr_client.models import Event
from ocr_client.state import Entry, StateFile, file_sha256


@dataclass(frozen=True)
class UploadOptions:
    formats: tuple[str, ...] = ("txt",)
    lang: str | None = None
    psm: int | None = None
    dpi: int | None = None
    orient: bool | None = None
    deskew: bool | None = None
    retry: bool | None = None
    skip_text: bool | None = None

    def key(self) -> str:
        """A stable text of the options: results made with other options are not reused."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    def submit_kwargs(self) -> dict[str, Any]:
        return {k: (",".join(v) if k == "formats" else v) for k, v in asdict(self).items()}


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


class Reporter(Protocol):
    def discovered(self, count: int, complete: bool) -> None: ...
    def page_done(self) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...


@dataclass
class Batch:
    client: AsyncClient
    outdir: Path
    options: UploadOptions
    reporter: Reporter
    concurrency: int = 8
    stream_events: bool = True
    outcomes: list[Outcome] = field(default_factory=list)
    _unreachable: str | None = field(default=None, init=False)  # set once the server stays away

    async def run(self, inputs: Iterator[Input]) -> list[Outcome]:
        state = StateFile(self.outdir)
        queue: asyncio.Queue[Input | None] = asyncio.Queue(maxsize=self.concurrency * 2)
        workers = [asyncio.create_task(self._worker(queue, state)) for _ in range(self.concurrency)]
        try:
            found = 0
            while self._unreachable is None:
                # The walk touches the disk: it runs in a thread, one file ahead at a time.
                item = await asyncio.to_thread(next, inputs, None)
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
                outcome = Outcome(item.rel.as_posix(), "failed", reason=f"not tried: {self._unreachable}")
            else:
                outcome = await self._process(item, state)
            self.outcomes.append(outcome)
            self.reporter.finished(outcome)

    async def _process(self, item: Input, state: StateFile) -> Outcome:
        rel = item.rel.as_posix()
        key = self.options.key()
        outputs = {fmt: item.output(self.outdir, fmt) for fmt in self.options.formats}
        job_id: str | None = None
        try:
            sha256 = await asyncio.to_thread(file_sha256, item.path)
            entry = state.get(rel)
            if entry and entry.same_input(sha256, key):
                if entry.done and all(p.exists() for p in outputs.values()):
                    return Outcome(rel, "skipped", entry.job_id)
                job_id = entry.job_id
            resumed = False
            if job_id is not None:
                resumed = await self._still_there(job_id)
            if not resumed:
                job = await self.client.submit(
                    item.path, idempotency_key=idempotency_key(sha256, key), **self.options.submit_kwargs()
                )
                job_id = job.id
                state.record(Entry(rel, sha256, key, job_id, done=False))
            assert job_id is not None
            job = await self.client.wait(job_id, on_event=self._on_event, stream=self.stream_events)
            if job.status == "failed":
                error = job.error or {}
                raise JobFailed(job_id, str(error.get("code", "failed")), str(error.get("message", "")))
            for fmt, path in outputs.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                await self.client.download(job_id, fmt, path)
            state.record(Entry(rel, sha256, key, job_id, done=True))
            return Outcome(rel, "done", job_id, job.pages_total or 0, resumed=resumed)
        except ServerUnreachable as exc:
            self._unreachable = f"server unreachable ({exc})"
            return Outcome(rel, "failed", job_id, reason=self._unreachable)
        except ApiError as exc:
            return Outcome(rel, "failed", job_id, reason=f"{exc.status} {exc.code}: {exc.message}")
        except JobFailed as exc:
            return Outcome(rel, "failed", job_id, reason=f"job failed: {exc.code}: {exc.message}")
        except (OcrClientError, OSError, httpx.HTTPError) as exc:
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
