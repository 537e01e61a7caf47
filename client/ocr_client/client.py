"""`Client` (blocking) and `AsyncClient` (asyncio) for the OCR service's /v1 API, on one pooled httpx client each.

Both retry what is worth retrying (connection refused or dropped, 429, 502, 503, 504, honouring Retry-After)
with backoff, and raise `ApiError` with the service's own code and message for everything else. The two share
everything but the I/O calls, which keeps them line for line alike.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from ocr_client.errors import ApiError, JobFailed, ServerUnreachable
from ocr_client.models import Event, Job, SseParser
from ocr_client.retry import RetryPolicy, is_transient, retry_after_seconds

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# The event stream sends a keep-alive comment every 15 s: a read that waits longer has lost the server.
STREAM_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=45.0)
POLL_FIRST_S, POLL_MAX_S = 0.2, 5.0
USER_AGENT = "ocr-client/0.1"

FileInput = str | os.PathLike[str] | bytes
OnEvent = Callable[[Event], None]
T = TypeVar("T")


def upload_fields(
    lang: str | None,
    formats: str | Sequence[str] | None,
    psm: int | None,
    dpi: int | None,
    switches: dict[str, bool | None],
) -> dict[str, str]:
    """The form fields of POST /v1/jobs; what is None is left to the server's default."""
    fields: dict[str, str] = {}
    if lang:
        fields["lang"] = lang
    if formats:
        fields["formats"] = formats if isinstance(formats, str) else ",".join(formats)
    if psm is not None:
        fields["psm"] = str(psm)
    if dpi is not None:
        fields["dpi"] = str(dpi)
    fields.update({name: "true" if on else "false" for name, on in switches.items() if on is not None})
    return fields


def _raise_for_error(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise ApiError.from_response(response)
    return response


def _finished_or_raise(job: Job) -> Job:
    if job.status == "failed":
        error = job.error or {}
        raise JobFailed(job.id, str(error.get("code", "failed")), str(error.get("message", "")))
    return job


class _Config:
    def __init__(self, server: str, api_key: str | None, retry: RetryPolicy) -> None:
        self.server = server.rstrip("/")
        self.retry = retry
        self.headers = {"User-Agent": USER_AGENT}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def limits(self, max_connections: int) -> httpx.Limits:
        return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def _open_upload(file: FileInput, filename: str | None) -> tuple[str, IO[bytes] | bytes]:
    if isinstance(file, bytes):
        return filename or "upload", file
    path = Path(file)
    return filename or path.name, path.open("rb")


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
        self._config = _Config(server, api_key, retry or RetryPolicy())
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
        policy = self._config.retry
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                response = send()
            except httpx.TransportError as exc:
                if last:
                    raise ServerUnreachable(f"{self._config.server}: {exc!r}") from exc
                time.sleep(policy.delay(attempt))
                continue
            if not is_transient(response) or last:
                return _raise_for_error(response)
            time.sleep(policy.delay(attempt, retry_after_seconds(response)))
        raise AssertionError("unreachable")

    def submit(
        self,
        file: FileInput,
        *,
        filename: str | None = None,
        lang: str | None = None,
        formats: str | Sequence[str] | None = None,
        psm: int | None = None,
        dpi: int | None = None,
        orient: bool | None = None,
        deskew: bool | None = None,
        retry: bool | None = None,
        skip_text: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Upload a file (a path or bytes); returns the queued job as the 202 describes it."""
        switches = {"orient": orient, "deskew": deskew, "retry": retry, "skip_text": skip_text}
        data = upload_fields(lang, formats, psm, dpi, switches)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

        def send() -> httpx.Response:
            name, body = _open_upload(file, filename)
            try:
                files = {"file": (name, body, "application/octet-stream")}
                return self._http.post("/v1/jobs", files=files, data=data, headers=headers)
            finally:
                if not isinstance(body, bytes):
                    body.close()

        return Job.from_json(self._retrying(send).json())

    def job(self, job_id: str) -> Job:
        return Job.from_json(self._retrying(lambda: self._http.get(f"/v1/jobs/{job_id}")).json())

    def delete(self, job_id: str) -> None:
        self._retrying(lambda: self._http.delete(f"/v1/jobs/{job_id}"))

    def languages(self) -> dict[str, Any]:
        return dict(self._retrying(lambda: self._http.get("/v1/languages")).json())

    def result(self, job_id: str, fmt: str = "txt") -> bytes:
        return self._retrying(lambda: self._http.get(f"/v1/jobs/{job_id}/result.{fmt}")).content

    def download(self, job_id: str, fmt: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a result into `dest` (through a .part file, so a half-written result never looks done)."""
        target = Path(dest)
        part = target.with_name(target.name + ".part")

        def send() -> httpx.Response:
            with self._http.stream("GET", f"/v1/jobs/{job_id}/result.{fmt}") as response:
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
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        with self._http.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers, timeout=STREAM_TIMEOUT) as r:
            if r.status_code >= 400:
                r.read()
                _raise_for_error(r)
            yield from SseParser().feed_all(r.iter_lines())

    def wait(
        self, job_id: str, *, on_event: OnEvent | None = None, stream: bool = True, raise_on_failure: bool = False
    ) -> Job:
        """Until the job has succeeded or failed: follows its event stream (reconnecting where it left off),
        or polls with backoff when `stream` is false or the stream keeps failing."""
        last_id: int | None = None
        failures = 0
        while stream and failures < self._config.retry.attempts:
            try:
                for event in self.events(job_id, last_id):
                    last_id, failures = event.id, 0
                    if on_event:
                        on_event(event)
            except httpx.TransportError:
                failures += 1
                time.sleep(self._config.retry.delay(failures))
            except ApiError as exc:
                if exc.status not in (429, 502, 503, 504):
                    raise
                failures += 1
                time.sleep(self._config.retry.delay(failures))
            job = self.job(job_id)
            if job.finished:
                return _finished_or_raise(job) if raise_on_failure else job
            time.sleep(POLL_FIRST_S)  # the stream ended early (a proxy's timeout?): reconnect, not at once
        interval = POLL_FIRST_S
        while not (job := self.job(job_id)).finished:
            time.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX_S)
        return _finished_or_raise(job) if raise_on_failure else job


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
        self._config = _Config(server, api_key, retry or RetryPolicy())
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
        policy = self._config.retry
        for attempt in range(policy.attempts):
            last = attempt == policy.attempts - 1
            try:
                response = await send()
            except httpx.TransportError as exc:
                if last:
                    raise ServerUnreachable(f"{self._config.server}: {exc!r}") from exc
                await asyncio.sleep(policy.delay(attempt))
                continue
            if not is_transient(response) or last:
                return _raise_for_error(response)
            await asyncio.sleep(policy.delay(attempt, retry_after_seconds(response)))
        raise AssertionError("unreachable")

    async def submit(
        self,
        file: FileInput,
        *,
        filename: str | None = None,
        lang: str | None = None,
        formats: str | Sequence[str] | None = None,
        psm: int | None = None,
        dpi: int | None = None,
        orient: bool | None = None,
        deskew: bool | None = None,
        retry: bool | None = None,
        skip_text: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Upload a file (a path or bytes); returns the queued job as the 202 describes it."""
        switches = {"orient": orient, "deskew": deskew, "retry": retry, "skip_text": skip_text}
        data = upload_fields(lang, formats, psm, dpi, switches)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}

        async def send() -> httpx.Response:
            # httpx reads the file in 64 KiB chunks as it sends; local reads that small do not stall the loop.
            name, body = _open_upload(file, filename)
            try:
                files = {"file": (name, body, "application/octet-stream")}
                return await self._http.post("/v1/jobs", files=files, data=data, headers=headers)
            finally:
                if not isinstance(body, bytes):
                    body.close()

        return Job.from_json((await self._retrying(send)).json())

    async def job(self, job_id: str) -> Job:
        return Job.from_json((await self._retrying(lambda: self._http.get(f"/v1/jobs/{job_id}"))).json())

    async def delete(self, job_id: str) -> None:
        await self._retrying(lambda: self._http.delete(f"/v1/jobs/{job_id}"))

    async def languages(self) -> dict[str, Any]:
        return dict((await self._retrying(lambda: self._http.get("/v1/languages"))).json())

    async def result(self, job_id: str, fmt: str = "txt") -> bytes:
        return (await self._retrying(lambda: self._http.get(f"/v1/jobs/{job_id}/result.{fmt}"))).content

    async def download(self, job_id: str, fmt: str, dest: str | os.PathLike[str]) -> Path:
        """Stream a result into `dest` (through a .part file, so a half-written result never looks done)."""
        target = Path(dest)
        part = target.with_name(target.name + ".part")

        async def send() -> httpx.Response:
            async with self._http.stream("GET", f"/v1/jobs/{job_id}/result.{fmt}") as response:
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
        headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
        url = f"/v1/jobs/{job_id}/events"
        async with self._http.stream("GET", url, headers=headers, timeout=STREAM_TIMEOUT) as r:
            if r.status_code >= 400:
                await r.aread()
                _raise_for_error(r)
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
        last_id: int | None = None
        failures = 0
        while stream and failures < self._config.retry.attempts:
            try:
                async for event in self.events(job_id, last_id):
                    last_id, failures = event.id, 0
                    if on_event:
                        on_event(event)
            except httpx.TransportError:
                failures += 1
                await asyncio.sleep(self._config.retry.delay(failures))
            except ApiError as exc:
                if exc.status not in (429, 502, 503, 504):
                    raise
                failures += 1
                await asyncio.sleep(self._config.retry.delay(failures))
            job = await self.job(job_id)
            if job.finished:
                return _finished_or_raise(job) if raise_on_failure else job
            await asyncio.sleep(POLL_FIRST_S)  # the stream ended early (a proxy's timeout?): reconnect, not at once
        interval = POLL_FIRST_S
        while not (job := await self.job(job_id)).finished:
            await asyncio.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX_S)
        return _finished_or_raise(job) if raise_on_failure else job
