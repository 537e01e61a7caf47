"""The requests of the /v1 API and how their answers are read, built once for `Client` and `AsyncClient`.

Each API call is a `Call`: method, path, form fields, headers, the upload (opened anew for every try) and a
`parse` that turns the answer into what the method returns. The two clients only send calls, through their
httpx client, under the `Retrier`'s decisions; what they do between sends (sleep, await) is all that differs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypedDict, TypeVar

import httpx

from ocr_client._version import __version__
from ocr_client.errors import ApiError, JobFailed, ServerUnreachable
from ocr_client.models import Job, JobPage
from ocr_client.options import JobOptions
from ocr_client.retry import RetryPolicy, is_transient, retry_after_seconds

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
# The event stream sends a keep-alive comment every 15 s: a read that waits longer has lost the server.
STREAM_TIMEOUT = httpx.Timeout(60.0, connect=10.0, read=45.0)
POLL_FIRST_S, POLL_MAX_S = 0.2, 5.0
USER_AGENT = f"ocr-client/{__version__}"
# Answers of the event stream worth reconnecting after, as for any request (ocr_client.retry).
STREAM_TRANSIENT = (429, 502, 503, 504)

FileInput = str | os.PathLike[str] | bytes
T = TypeVar("T")


class JobFields(TypedDict, total=False):
    """The keywords `submit` takes besides the file: JobOptions' fields, for the type checker (the values are
    checked against JobOptions itself; tests/client/test_options_agree.py holds the two to the same names).
    `formats` may also be a sequence of format names."""

    lang: str | None
    psm: int | None
    dpi: int | None
    formats: str | Sequence[str] | None
    normalize: bool | None
    orient: bool | None
    deskew: bool | None
    auto_model: bool | None
    retry: bool | None
    flatten: bool | None
    tables: bool | None
    skip_text: bool | None
    redo_ocr: bool | None
    pdfa: bool | None
    pdf_jpeg_quality: int | None
    pdf_image_dpi: int | None
    pages: str | None
    callback_url: str | None
    retain_hours: int | None


def job_options(options: JobOptions | None = None, fields: Mapping[str, Any] | None = None) -> JobOptions:
    """`options` with `fields` (submit's keywords) set on top; a field that is None (or an empty text) is left
    unset. An unknown keyword is a TypeError naming the valid ones; a bad value, pydantic's ValidationError."""
    fields = dict(fields or {})
    valid = tuple(JobOptions.model_fields)
    unknown = sorted(set(fields) - set(valid))
    if unknown:
        raise TypeError(f"submit() got unexpected keyword arguments {unknown}; the job's fields are {list(valid)}")
    if isinstance(fields.get("formats"), Collection) and not isinstance(fields["formats"], str):
        fields["formats"] = ",".join(fields["formats"])
    given = {name: value for name, value in fields.items() if value is not None and value != ""}
    base = options.given() if options is not None else {}
    return JobOptions.model_validate({**base, **given})


def form_fields(options: JobOptions) -> dict[str, str]:
    """The multipart form fields of POST /v1/jobs: only the fields set, so the server's defaults apply to
    the others."""
    return {name: _form_value(value) for name, value in options.given().items() if value is not None}


def _form_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request of the API and how its answer is read."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    data: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    upload: tuple[FileInput, str | None] | None = None  # the file and the name to send it under

    @contextmanager
    def request_kwargs(self) -> Iterator[dict[str, Any]]:
        """The keywords of httpx's `request` for one try; the upload's file is open until the block ends."""
        kwargs: dict[str, Any] = {"headers": self.headers}
        if self.data:
            kwargs["data"] = self.data
        if self.upload is None:
            yield kwargs
            return
        name, body = _open_upload(*self.upload)
        try:
            kwargs["files"] = {"file": (name, body, "application/octet-stream")}
            yield kwargs
        finally:
            if not isinstance(body, bytes):
                body.close()


def _open_upload(file: FileInput, filename: str | None) -> tuple[str, IO[bytes] | bytes]:
    if isinstance(file, bytes):
        return filename or "upload", file
    path = Path(file)
    return filename or path.name, path.open("rb")


def _job(response: httpx.Response) -> Job:
    return Job.from_json(response.json())


def _nothing(response: httpx.Response) -> None:
    return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    return dict(response.json())


def _content(response: httpx.Response) -> bytes:
    return response.content


def submit(
    file: FileInput,
    filename: str | None,
    idempotency_key: str | None,
    options: JobOptions | None,
    fields: Mapping[str, Any],
) -> Call[Job]:
    """Upload a file (a path or bytes); the answer is the queued job as the 202 describes it."""
    data = form_fields(job_options(options, fields))
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
    return Call("POST", "/v1/jobs", _job, data=data, headers=headers, upload=(file, filename))


def job(job_id: str) -> Call[Job]:
    return Call("GET", f"/v1/jobs/{job_id}", _job)


def delete(job_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/jobs/{job_id}", _nothing)


def cancel(job_id: str) -> Call[Job]:
    return Call("POST", f"/v1/jobs/{job_id}/cancel", _job)


def jobs(limit: int | None, cursor: str | None) -> Call[JobPage]:
    """A page of the caller's jobs, newest first (the query rides in the path: Call has no params)."""
    query = httpx.QueryParams({k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None})
    return Call("GET", f"/v1/jobs?{query}" if query else "/v1/jobs", lambda r: JobPage.from_json(r.json()))


def languages() -> Call[dict[str, Any]]:
    return Call("GET", "/v1/languages", _json_object)


def result(job_id: str, fmt: str) -> Call[bytes]:
    return Call("GET", result_path(job_id, fmt), _content)


def result_path(job_id: str, fmt: str) -> str:
    return f"/v1/jobs/{job_id}/result.{fmt}"


def events_request(job_id: str, last_event_id: int | None) -> tuple[str, dict[str, str]]:
    """The path and headers of the job's event stream, resumed after `last_event_id`."""
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    return f"/v1/jobs/{job_id}/events", headers


def download_part(dest: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Where a download goes and the .part file it is written through, so a half-written result never
    looks done."""
    target = Path(dest)
    return target, target.with_name(target.name + ".part")


def raise_for_error(response: httpx.Response) -> httpx.Response:
    if response.status_code >= 400:
        raise ApiError.from_response(response)
    return response


def finished_or_raise(job: Job) -> Job:
    if job.status == "cancelled":
        raise JobFailed(job.id, "cancelled", "the job was cancelled")
    if job.status == "failed":
        error = job.error or {}
        raise JobFailed(job.id, str(error.get("code", "failed")), str(error.get("message", "")))
    return job


class Config:
    """What both clients are made with: the server, the headers of every request, the retry policy."""

    def __init__(self, server: str, api_key: str | None, retry: RetryPolicy) -> None:
        self.server = server.rstrip("/")
        self.retry = retry
        self.headers = {"User-Agent": USER_AGENT}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def limits(self, max_connections: int) -> httpx.Limits:
        return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)

    def settle(self, attempt: int, outcome: httpx.Response | httpx.TransportError) -> httpx.Response | float:
        """After try number `attempt`: the answer to return, or the seconds to wait before trying again.
        Retried: what is worth retrying (connection refused or dropped, 429, 502, 503, 504, an idempotent
        upload still in flight), honouring Retry-After. Raised: ServerUnreachable once the tries are spent,
        ApiError for any other error answer."""
        last = attempt == self.retry.attempts - 1
        if isinstance(outcome, httpx.TransportError):
            if last:
                raise ServerUnreachable(f"{self.server}: {outcome!r}") from outcome
            return self.retry.delay(attempt)
        if not is_transient(outcome) or last:
            return raise_for_error(outcome)
        return self.retry.delay(attempt, retry_after_seconds(outcome))


class Follow:
    """`wait`'s state while it follows a job's event stream: the last event seen (to resume after it) and
    the failed connections in a row (after `attempts` of them, `wait` polls instead)."""

    def __init__(self, retry: RetryPolicy, stream: bool) -> None:
        self.retry = retry
        self.stream = stream
        self.last_id: int | None = None
        self.failures = 0

    @property
    def streaming(self) -> bool:
        return self.stream and self.failures < self.retry.attempts

    def seen(self, event_id: int | None) -> None:
        self.last_id, self.failures = event_id, 0

    def failed(self, exc: Exception) -> float:
        """The seconds to wait before reconnecting after `exc`; re-raises what reconnecting cannot mend."""
        if isinstance(exc, ApiError) and exc.status not in STREAM_TRANSIENT:
            raise exc
        self.failures += 1
        return self.retry.delay(self.failures)


def next_poll(interval: float) -> float:
    return min(interval * 1.5, POLL_MAX_S)
