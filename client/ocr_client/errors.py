"""The client's errors: what the service answered, what it could not be asked, and a job that failed."""

from __future__ import annotations

from typing import Any

import httpx


class OcrClientError(Exception):
    """Base of every error this package raises."""


class ApiError(OcrClientError):
    """The service answered with an error: its status, and its own `{"error": {code, message}}`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            error = response.json()["error"]
            return cls(response.status_code, str(error["code"]), str(error["message"]), error.get("details"))
        except (ValueError, KeyError, TypeError):
            text = response.text.strip()[:200] or response.reason_phrase
            return cls(response.status_code, f"http_{response.status_code}", text)


class ServerUnreachable(OcrClientError):
    """The service could not be reached (refused, timed out, dropped) after every retry."""


class JobFailed(OcrClientError):
    """The job finished as failed; `code` and `message` are the service's reason."""

    def __init__(self, job_id: str, code: str, message: str) -> None:
        super().__init__(f"job {job_id} failed: {code}: {message}")
        self.job_id = job_id
        self.code = code
        self.message = message
