"""API errors and the one place that maps every error to a status code and one JSON shape:

{"error": {"code": "...", "message": "...", "details": ...}}

On the Document Intelligence API's paths the same errors answer in that API's own shape instead
(ocr_api/docintel/shape.py): `error_parts` picks the shape by the request's path, for the handlers here and for
the refusals the edge sends before the app runs (ocr_api/limits.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocr_api.docintel.shape import docintel_error, is_docintel_path
from storage.errors import ObjectNotFound, StorageError
from workers.queue import QueueUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers


class JobNotFound(ApiError):
    status_code = 404
    code = "job_not_found"


class JobNotFinished(ApiError):
    status_code = 409
    code = "job_not_finished"


class BatchNotFound(ApiError):
    status_code = 404
    code = "batch_not_found"


class BatchNotFinished(ApiError):
    status_code = 409
    code = "batch_not_finished"


class BatchFinished(ApiError):
    status_code = 409
    code = "batch_finished"


class JobInBatch(ApiError):
    status_code = 409
    code = "job_in_batch"


class JobFailed(ApiError):
    """A result asked of a job that failed: it has none, and never will (its `error` says why)."""

    status_code = 409
    code = "job_failed"


class JobAlreadyFinished(ApiError):
    status_code = 409
    code = "job_finished"


class JobExpired(ApiError):
    status_code = 410
    code = "expired"


class ResultNotAvailable(ApiError):
    status_code = 404
    code = "result_not_available"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class DamagedFile(ApiError):
    """The bytes start like a supported image but cannot be read: cut short or damaged."""

    status_code = 422
    code = "damaged_file"


class UploadTooLarge(ApiError):
    status_code = 413
    code = "upload_too_large"


class InvalidInput(ApiError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limited"


class IdempotencyInFlight(ApiError):
    status_code = 409
    code = "idempotency_key_in_flight"


class IdempotencyMismatch(ApiError):
    status_code = 422
    code = "idempotency_key_reused"


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "service_unavailable"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return {"error": error}


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "upload_too_large", 400: "bad_request"}


def app_path(scope: Scope) -> str:
    """The request's path below the root path (OCR_ROOT_PATH)."""
    return str(scope.get("path", "")).removeprefix(str(scope.get("root_path", "")))


def error_parts(
    scope: Scope, status: int, code: str, message: str, details: Any = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """An error's status, body and extra headers in the shape of the API the request went to."""
    if is_docintel_path(app_path(scope)):
        return docintel_error(status, code, message)
    return status, error_body(code, message, details), {}


def error_response(
    scope: Scope, status: int, code: str, message: str, details: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    status, body, shape_headers = error_parts(scope, status, code, message, details)
    return JSONResponse(body, status_code=status, headers={**(headers or {}), **shape_headers})


def add_exception_handlers(app: FastAPI, max_upload_mb: int) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request.scope, exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", ""),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return error_response(request.scope, 422, "invalid_request", summary, problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 413:
            message = f"upload larger than the limit of {max_upload_mb} MiB (OCR_MAX_UPLOAD_MB)"
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(request.scope, exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(QueueUnavailable)
    async def _queue(request: Request, exc: QueueUnavailable) -> JSONResponse:
        return error_response(request.scope, 503, "queue_unavailable", str(exc))

    @app.exception_handler(ObjectNotFound)
    async def _missing_object(request: Request, exc: ObjectNotFound) -> JSONResponse:
        return error_response(request.scope, 404, "result_not_available", "the stored file is missing")

    @app.exception_handler(StorageError)
    async def _storage(request: Request, exc: StorageError) -> JSONResponse:
        log.exception("storage error")
        return error_response(request.scope, 503, "storage_unavailable", str(exc))

    # Only for what UnexpectedErrors cannot catch (a fault in a middleware outside it): Starlette sends this
    # answer from outside every middleware, without the security headers and X-Request-ID.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return unexpected_error(request.scope)


def unexpected_error(scope: Scope) -> JSONResponse:
    return error_response(scope, 500, "internal_error", "unexpected server error; see the server log")


class UnexpectedErrors:
    """An exception no handler took becomes the JSON 500 here, inside the middleware stack, so that answer too
    carries the security headers, X-Request-ID and Server-Timing and is counted and logged like any other.
    Once a response has started (a stream failing midway) nothing else can be sent: it is raised on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            if started:
                raise
            log.exception("unhandled error")
            await unexpected_error(scope)(scope, receive, send)
