"""An analyze request's `urlSource`, fetched under the rules of webhooks (webhooks/urls.py): an absolute http(s)
URL without credentials, every address its host resolves to public (unless OCR_URL_SOURCE_ALLOW_PRIVATE), the
GET sent to the address that was checked, redirects not followed, at most the upload limit read, and the whole
fetch within OCR_URL_SOURCE_TIMEOUT_S. Off unless OCR_URL_SOURCE=true. Blocking: call it from a thread."""

from __future__ import annotations

import tempfile
import time
from typing import IO

import httpx

from ocr_api.docintel.errors import ContentSourceNotAccessible, InvalidParameter
from ocr_api.errors import UploadTooLarge
from webhooks.urls import CallbackRefused, check_callback, pinned_request

SPOOL_IN_MEMORY = 1024 * 1024  # bytes kept in memory before the spool goes to a temporary file
USER_AGENT = "ocr-service-url-source/1"


def fetch(url: str, *, allow_private: bool, max_bytes: int, timeout_s: float) -> IO[bytes]:
    """The document at `url`, spooled, at position 0; typed errors say why not."""
    try:
        target = check_callback(url, allow_private, name="urlSource", allow_setting="OCR_URL_SOURCE_ALLOW_PRIVATE")
    except CallbackRefused as exc:
        if exc.transient:
            raise ContentSourceNotAccessible(str(exc)) from exc
        raise InvalidParameter(str(exc)) from exc
    address, host, extensions = pinned_request(target)
    deadline = time.monotonic() + timeout_s
    spool = tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY)  # noqa: SIM115 - handed to the caller, who closes it
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", address, headers={**host, "User-Agent": USER_AGENT}, extensions=extensions) as answer,
        ):
            _check_answer(answer, max_bytes)
            for chunk in answer.iter_bytes():
                spool.write(chunk)
                if spool.tell() > max_bytes:
                    raise _too_large(max_bytes)
                if time.monotonic() > deadline:
                    raise ContentSourceNotAccessible(
                        f"urlSource took longer than {timeout_s:g} s to fetch (OCR_URL_SOURCE_TIMEOUT_S)"
                    )
    except httpx.HTTPError as exc:
        spool.close()
        raise ContentSourceNotAccessible(f"urlSource could not be fetched: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _check_answer(answer: httpx.Response, max_bytes: int) -> None:
    if answer.is_redirect:
        raise ContentSourceNotAccessible(
            f"urlSource answered a redirect (HTTP {answer.status_code} to {answer.headers.get('location', '?')}); "
            "redirects are not followed: give the final URL"
        )
    if answer.status_code != 200:
        raise ContentSourceNotAccessible(f"urlSource answered HTTP {answer.status_code}, not 200")
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)


def _too_large(max_bytes: int) -> UploadTooLarge:
    return UploadTooLarge(
        f"the document at urlSource is larger than the limit of {max_bytes // (1024 * 1024)} MiB (OCR_MAX_UPLOAD_MB)"
    )
