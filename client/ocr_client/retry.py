"""When to try a request again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

# 429: told to slow down; 502/504: a proxy in front lost the service for a moment; 503: the service or one of
# its dependencies (queue, storage) is unavailable. All answer "later", none "never".
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries in all, the first included
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number attempt+1: the server's Retry-After when it gave one, else
        exponential backoff with full jitter."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay_s * 4)
        return random.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))  # noqa: S311


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def is_transient(response: httpx.Response) -> bool:
    if response.status_code == 409:  # the first upload with this Idempotency-Key is still being stored
        try:
            return bool(response.json()["error"]["code"] == "idempotency_key_in_flight")
        except (ValueError, KeyError, TypeError):
            return False
    return response.status_code in TRANSIENT_STATUS
