"""Limits at the edge, before a request's body is read, answering in the API's JSON error shape (Starlette's own
answers in plain text): the body's size, who is sending it, how long it may stall; and open streams per key.

docs/security.md lists every limit, its setting and what a client sees.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import anyio
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocr_api.auth import Access, Caller
from ocr_api.docintel.shape import PREFIX as DOCINTEL_PREFIX
from ocr_api.errors import ApiError, RateLimited, Unauthorized, app_path, error_parts

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIXES = ("/v1/", DOCINTEL_PREFIX)
STREAM_RETRY_AFTER_S = 5
UPLOAD_RETRY_AFTER_S = 2
UPLOAD_PATHS = frozenset({"/v1/jobs", "/v1/batches"})  # the requests whose bodies are uploads
BATCH_PATH = "/v1/batches"
ANALYZE_SUFFIX = ":analyze"  # POST /documentintelligence/documentModels/{modelId}:analyze, an upload too
T = TypeVar("T")


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: Any = None,
) -> None:
    """Answer with the JSON error shape of the request's API and close the connection (the body, if any, stays
    unread)."""
    status, shaped, shape_headers = error_parts(scope, status, code, message, details)
    body = json.dumps(shaped).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]  # fmt: skip
    extra = {**(headers or {}), **shape_headers}
    raw += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_api_error(scope: Scope, send: Send, exc: ApiError) -> None:
    """A typed API error (its status, code, message, details and headers), answered before the app runs."""
    await send_error(scope, send, exc.status_code, exc.code, exc.message, exc.headers, exc.details)


class BodySizeLimit:
    """Refuse bodies above `max_bytes`: at once when Content-Length says so, else as the bytes arrive. A batch
    upload (POST /v1/batches, several files) has its own limit, `batch_max_bytes`; each of its files is held to
    the upload limit when stored, as a single upload is. The Document Intelligence API takes a file
    base64-encoded in JSON: its paths may send `docintel_max_bytes`."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        message: str,
        docintel_max_bytes: int | None = None,
        batch_max_bytes: int = 0,
        batch_message: str = "",
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.docintel_max_bytes = docintel_max_bytes or max_bytes
        self.message = message
        self.batch_max_bytes = batch_max_bytes or max_bytes
        self.batch_message = batch_message or message

    def _limit(self, scope: Scope) -> tuple[int, str]:
        """The body limit of this request, and the message that names it."""
        path = app_path(scope).rstrip("/")
        if scope["method"] == "POST" and path == BATCH_PATH:
            return self.batch_max_bytes, self.batch_message
        if path.startswith(DOCINTEL_PREFIX):
            return self.docintel_max_bytes, self.message
        return self.max_bytes, self.message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, text = self._limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(scope, send, 413, "upload_too_large", text)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException from body parsing; the app's handler writes the JSON.
                    raise HTTPException(413, text)
            return message

        await self.app(scope, limited_receive, send)


class AuthBeforeBody:
    """With keys required, a request to /v1 or to the Document Intelligence API that may carry a body is
    answered 401 before a byte of it is read (and so before anything is spooled to the temp dir); the route's
    own check then finds the key cached. An upload (POST /v1/jobs, or an analyze) beyond the key's uploads in
    progress in this process (OCR_MAX_UPLOADS_PER_KEY) is 429 before its body is read too: one key cannot hold
    the API's upload slots and temp space with slow uploads."""

    def __init__(self, app: ASGIApp, access: Access, uploads_per_key: int) -> None:
        self.app = app
        self.access = access
        self.uploads_per_key = uploads_per_key
        self._uploading: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.access.mode != "required" or scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = app_path(scope)
        if not path.startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            caller = await self.access.identify(Headers(scope=scope))
        except Unauthorized as exc:
            await send_api_error(scope, send, exc)
            return
        analyze = path.startswith(DOCINTEL_PREFIX) and path.endswith(ANALYZE_SUFFIX)
        upload = path.rstrip("/") in UPLOAD_PATHS or analyze
        if scope["method"] != "POST" or not upload or caller.key_id is None:
            await self.app(scope, receive, send)
            return
        key = caller.key_id
        if self._uploading.get(key, 0) >= self.uploads_per_key:
            refused = RateLimited(
                f"the key '{caller.name}' has {self.uploads_per_key} uploads in progress already; wait for one to "
                "finish, or raise the limit (OCR_MAX_UPLOADS_PER_KEY)",
                {"limit": "max_uploads_per_key", "value": self.uploads_per_key},
                headers={"Retry-After": str(UPLOAD_RETRY_AFTER_S)},
            )
            await send_api_error(scope, send, refused)
            return
        self._uploading[key] = self._uploading.get(key, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = self._uploading[key] - 1
            if left:
                self._uploading[key] = left
            else:
                del self._uploading[key]


class BodyTimeout:
    """A request body that stalls (no bytes for `timeout_s`) is cut off with 408; once the body is complete,
    receive() waits unbounded again (a stream waits on it for the client's disconnect)."""

    def __init__(self, app: ASGIApp, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                with anyio.fail_after(self.timeout_s):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"the request body stalled for {self.timeout_s:g} s (OCR_BODY_TIMEOUT_S)",
                    headers={"Connection": "close"},
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)


class StreamSlots:
    """Open /text and /events streams per API key in this process (with keys off, all callers share one count)."""

    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._open: dict[str, int] = {}

    def hold(self, caller: Caller, stream: AsyncIterator[T]) -> AsyncIterator[T]:
        """`stream`, holding one of the caller's stream slots until it ends, fails or is dropped unstarted;
        RateLimited (429, Retry-After) when the key has none free."""
        owner = caller.key_id or ""
        if self._open.get(owner, 0) >= self.per_key:
            raise RateLimited(
                f"the key '{caller.name}' has {self.per_key} streams open already; close one, or raise the limit "
                "(OCR_MAX_STREAMS_PER_KEY)",
                {"limit": "max_streams_per_key", "value": self.per_key},
                headers={"Retry-After": str(STREAM_RETRY_AFTER_S)},
            )
        self._open[owner] = self._open.get(owner, 0) + 1
        held = _held(stream)
        # Runs once: when the stream ends or, never iterated (the client left first), when it is dropped.
        release = weakref.finalize(held, self._release, owner)
        return _released_at_end(held, release)

    def _release(self, owner: str) -> None:
        left = self._open.get(owner, 0) - 1
        if left > 0:
            self._open[owner] = left
        else:
            self._open.pop(owner, None)


async def _held(stream: AsyncIterator[T]) -> AsyncIterator[T]:
    async for item in stream:
        yield item


async def _released_at_end(held: AsyncIterator[T], release: weakref.finalize) -> AsyncIterator[T]:
    try:
        async for item in held:
            yield item
    finally:
        release()
