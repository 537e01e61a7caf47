"""Document Intelligence's error shape, for every error answered on its paths:

{"error": {"code": "InvalidArgument", "message": "...", "innererror": {"code": "InvalidParameter", "message": "..."}}}

The service's typed errors keep their codes (ocr_api/errors.py); this table turns a code into the status, code and
inner code that API uses (its error guide: InvalidRequest and InvalidArgument are 400, NotFound 404, ...). The
codes this API's own checks raise (ocr_api/docintel/analyze.py) are its inner codes already. Standard library
only: ocr_api/errors.py imports it.
"""

from __future__ import annotations

from typing import Any

PREFIX = "/documentintelligence/"

# service code -> (status, error.code, error.innererror.code or None)
_CODES: dict[str, tuple[int, str, str | None]] = {
    "invalid_input": (400, "InvalidArgument", "InvalidParameter"),
    "invalid_request": (400, "InvalidArgument", "InvalidParameter"),
    "bad_request": (400, "InvalidRequest", None),
    "unsupported_media_type": (400, "InvalidRequest", "InvalidContent"),
    "upload_too_large": (400, "InvalidRequest", "InvalidContentLength"),
    "unauthorized": (401, "Unauthorized", None),
    "job_not_found": (404, "NotFound", "OperationNotFound"),
    "expired": (404, "NotFound", "OperationNotFound"),
    "not_found": (404, "NotFound", None),
    "method_not_allowed": (405, "MethodNotAllowed", None),
    "http_408": (408, "Timeout", None),
    "job_not_finished": (409, "Conflict", "OperationNotCompleted"),
    "job_finished": (409, "Conflict", None),
    "rate_limited": (429, "TooManyRequests", None),
    "internal_error": (500, "InternalServerError", None),
    "service_unavailable": (503, "ServiceUnavailable", None),
    "queue_unavailable": (503, "ServiceUnavailable", None),
    "storage_unavailable": (503, "ServiceUnavailable", None),
    # Raised by this API's own checks, named as it names them.
    "ModelNotFound": (404, "NotFound", "ModelNotFound"),
    "UnsupportedApiVersion": (404, "NotFound", "UnsupportedApiVersion"),
    "ParameterMissing": (400, "InvalidArgument", "ParameterMissing"),
    "InvalidParameter": (400, "InvalidArgument", "InvalidParameter"),
    "InvalidContentSourceFormat": (400, "InvalidArgument", "InvalidContentSourceFormat"),
    "ContentSourceNotAccessible": (400, "InvalidRequest", "ContentSourceNotAccessible"),
    "UnsupportedMediaType": (415, "UnsupportedMediaType", None),
    "OutputNotRequested": (404, "NotFound", "OutputNotRequested"),
}


def is_docintel_path(path: str) -> bool:
    """Whether a request path (without the root path) is this API's."""
    return path.startswith(PREFIX)


def docintel_error(status: int, code: str, message: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The status, body and headers of an error in this API's shape."""
    known = _CODES.get(code)
    if known is None:
        known = (status, "InvalidRequest" if status < 500 else "InternalServerError", None)
    status, outer, inner = known
    error: dict[str, Any] = {"code": outer, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner, "message": message}
    return status, {"error": error}, {"x-ms-error-code": outer}
