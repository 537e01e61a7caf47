"""`Client` (blocking) and `AsyncClient` (asyncio) for the OCR service's /v1 API, on one pooled httpx client each.

Both are thin transports over ocr_client._requests, which builds every request, reads every answer and decides
the retries: what is worth retrying (connection refused or dropped, 429, 502, 503, 504, honouring Retry-After)
is tried again with backoff; everything else raises `ApiError` with the service's own code and message.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar, Unpack

import httpx

from ocr_client import _requests as api
from ocr_client._requests import DEFAULT_SERVER, DEFAULT_TIMEOUT, STREAM_TIMEOUT, Call, FileInput, JobFields
from ocr_client.errors import ApiError
from ocr_client.models import Event, Job, JobPage, SseParser
from ocr_client.options import JobOptions
from ocr_client.retry import RetryPolicy

__all__ = ["DEFAULT_SERVER", "DEFAULT_TIMEOUT", "AsyncClient", "Client", "FileInput", "JobFields", "OnEvent"]

OnEvent = Callable[[Event], None]
T = TypeVar("T")


class Client:
    """Blocking client. Use as a context manager, or call close()."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        *,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 10,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = api.Config(server, api_key, retry or RetryPolicy())
        self._http = httpx.Client(
            base_url=self._config.server,
            headers=self._config.headers,
            timeout=timeout,
            limits=self._config.limits(max_connections),
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _retrying(self, send: Callable[[], httpx.Response]) -> httpx.Response:
        for attempt in range(self._config.retry.attempts):
            try:
                outcome: httpx.Response | httpx.TransportError = send()
            except httpx.TransportError as exc:
                outcome = exc
            step = self._config.settle(attempt, outcome)
            if isinstance(step, httpx.Response):
                return step
            time.sleep(step)
        raise AssertionError("unreachable")

    def _call(self, call: Call[T]) -> T:
        def send() -> httpx.Response:
            with call.request_kwargs() as kwargs:
                return self._http.request(call.method, call.path, **kwargs)

        return call.parse(self._retrying(send))

    def submit(
        self,
        file: FileInput,
        *,
        filename: str | None = None,
        idempotency_key: str | None = None,
        options: JobOptions | None = None,
        **fields: Unpack[JobFields],
    ) -> Job:
        """Upload a file (a path or bytes); returns the queued job as the 202 describes it. The keywords are
        JobOptions' fields (on top of `options`); only those given are sent, the server's defaults apply to
        the rest."""
        return self._call(api.submit(file, filename, idempotency_key, options, fields))

    def job(self, job_id: str) -> Job:
        return self._call(api.job(job_id))

    def delete(self, job_id: str) -> None:
        """Remove the job and its files (a queued or running job is cancelled first)."""
        self._call(api.delete(job_id))

    def cancel(self, job_id: str) -> Job:
        """Stop a queued or running job; ApiError 409 `job_finished` when it has ended already."""
        return self._call(api.cancel(job_id))

    def jobs(self, limit: int | None = None, cursor: str | None = None) -> JobPage:
        """One page of the key's jobs, newest first; pass `next_cursor` back for the next page."""
        return self._call(api.jobs(limit, cursor))

    def languages(self) -> dict[str, Any]:
        return self._call(api.languages())

    def result(self, job_id: str, fmt: str = "txt") -> bytes:
        return self._call(api.result(job_id, fmt))

    def download(self, job_id: str, fmt: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a result into `dest` (through a .part file, so a half-written result never looks done)."""
        target, part = api.download_part(dest)

        def send() -> httpx.Response:
            with self._http.stream("GET", api.result_path(job_id, fmt)) as response:
                if response.status_code < 400:
                    with part.open("wb") as out:
                        for chunk in response.iter_bytes():
                            out.write(chunk)
                else:
                    response.read()
                return response

        self._retrying(send)
        part.replace(target)
        return target

    def events(self, job_id: str, last_event_id: int | None = None) -> Iterator[Event]:
        """The job's events until it finishes (one connection; see wait() for reconnecting)."""
        path, headers = api.events_request(job_id, last_event_id)
        with self._http.stream("GET", path, headers=headers, timeout=STREAM_TIMEOUT) as r:
            if r.status_code >= 400:
                r.read()
                api.raise_for_error(r)
            yield from SseParser().feed_all(r.iter_lines())

    def wait(
        self, job_id: str, *, on_event: OnEvent | None = None, stream: bool = True, raise_on_failure: bool = False
    ) -> Job:
        """Until the job has succeeded or failed: follows its event stream (reconnecting where it left off),
        or polls with backoff when `stream` is false or the stream keeps failing."""
        follow = api.Follow(self._config.retry, stream)
        while follow.streaming:
            try:
                for event in self.events(job_id, follow.last_id):
                    follow.seen(event.id)
                    if on_event:
                        on_event(event)
            except (httpx.TransportError, ApiError) as exc:
                time.sleep(follow.failed(exc))
            job = self.job(job_id)
            if job.finished:
                return api.finished_or_raise(job) if raise_on_failure else job
            time.sleep(api.POLL_FIRST_S)  # the stream ended early (a proxy's timeout?): reconnect, not at once
        interval = api.POLL_FIRST_S
        while not (job := self.job(job_id)).finished:
            time.sleep(interval)
            interval = api.next_poll(interval)
        return api.finished_or_raise(job) if raise_on_failure else job


class AsyncClient:
    """asyncio client. Use as an async context manager, or await aclose()."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        *,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        max_connections: int = 10,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = api.Config(server, api_key, retry or RetryPolicy())
        self._http = httpx.AsyncClient(
            base_url=self._config.server,
            headers=self._config.headers,
            timeout=timeout,
            limits=self._config.limits(max_connections),
            transport=transport,
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _retrying(self, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        for attempt in range(self._config.retry.attempts):
            try:
                outcome: httpx.Response | httpx.TransportError = await send()
            except httpx.TransportError as exc:
                outcome = exc
            step = self._config.settle(attempt, outcome)
            if isinstance(step, httpx.Response):
                return step
            await asyncio.sleep(step)
        raise AssertionError("unreachable")

    async def _call(self, call: Call[T]) -> T:
        async def send() -> httpx.Response:
            # httpx reads an upload's file in 64 KiB chunks as it sends; local reads that small do not stall
            # the loop.
            with call.request_kwargs() as kwargs:
                return await self._http.request(call.method, call.path, **kwargs)

        return call.parse(await self._retrying(send))

    async def submit(
        self,
        file: FileInput,
        *,
        filename: str | None = None,
        idempotency_key: str | None = None,
        options: JobOptions | None = None,
        **fields: Unpack[JobFields],
    ) -> Job:
        """Upload a file (a path or bytes); returns the queued job as the 202 describes it. The keywords are
        JobOptions' fields (on top of `options`); only those given are sent, the server's defaults apply to
        the rest."""
        return await self._call(api.submit(file, filename, idempotency_key, options, fields))

    async def job(self, job_id: str) -> Job:
        return await self._call(api.job(job_id))

    async def delete(self, job_id: str) -> None:
        await self._call(api.delete(job_id))

    async def cancel(self, job_id: str) -> Job:
        return await self._call(api.cancel(job_id))

    async def jobs(self, limit: int | None = None, cursor: str | None = None) -> JobPage:
        return await self._call(api.jobs(limit, cursor))

    async def languages(self) -> dict[str, Any]:
        return await self._call(api.languages())

    async def result(self, job_id: str, fmt: str = "txt") -> bytes:
        return await self._call(api.result(job_id, fmt))

    async def download(self, job_id: str, fmt: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a result into `dest` (through a .part file, so a half-written result never looks done)."""
        target, part = api.download_part(dest)

        async def send() -> httpx.Response:
            async with self._http.stream("GET", api.result_path(job_id, fmt)) as response:
                if response.status_code < 400:
                    with part.open("wb") as out:
                        async for chunk in response.aiter_bytes():
                            out.write(chunk)
                else:
                    await response.aread()
                return response

        await self._retrying(send)
        part.replace(target)
        return target

    async def events(self, job_id: str, last_event_id: int | None = None) -> AsyncIterator[Event]:
        """The job's events until it finishes (one connection; see wait() for reconnecting)."""
        path, headers = api.events_request(job_id, last_event_id)
        async with self._http.stream("GET", path, headers=headers, timeout=STREAM_TIMEOUT) as r:
            if r.status_code >= 400:
                await r.aread()
                api.raise_for_error(r)
            parser = SseParser()
            async for line in r.aiter_lines():
                event = parser.feed(line)
                if event is not None:
                    yield event

    async def wait(
        self, job_id: str, *, on_event: OnEvent | None = None, stream: bool = True, raise_on_failure: bool = False
    ) -> Job:
        """Until the job has succeeded or failed: follows its event stream (reconnecting where it left off),
        or polls with backoff when `stream` is false or the stream keeps failing."""
        follow = api.Follow(self._config.retry, stream)
        while follow.streaming:
            try:
                async for event in self.events(job_id, follow.last_id):
                    follow.seen(event.id)
                    if on_event:
                        on_event(event)
            except (httpx.TransportError, ApiError) as exc:
                await asyncio.sleep(follow.failed(exc))
            job = await self.job(job_id)
            if job.finished:
                return api.finished_or_raise(job) if raise_on_failure else job
            await asyncio.sleep(api.POLL_FIRST_S)  # the stream ended early (a proxy's timeout?): reconnect
        interval = api.POLL_FIRST_S
        while not (job := await self.job(job_id)).finished:
            await asyncio.sleep(interval)
            interval = api.next_poll(interval)
        return api.finished_or_raise(job) if raise_on_failure else job
