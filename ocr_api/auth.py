"""Who is calling: the API key of a request, resolved once per request, and its per-key limits.

docs/security.md describes the whole scheme. The hot path (status reads, uploads) costs a dict lookup: a key
once looked up is kept for OCR_KEY_CACHE_S seconds, so a revocation takes effect within that time. The cache
holds the sha256 of each key, never the key as sent, and a key longer than MAX_KEY_CHARS is refused before
any lookup: however many and however long the unknown keys a client sends, the cache stays small. The rate
limit is one Redis INCR per request when the broker is Redis (with the EXPIRE only on a window's first request
in a process), shared by every API process; with another broker it is counted in this process only.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from ocr_api.errors import RateLimited, Unauthorized
from ocr_api.settings import ApiSettings
from storage.records.api_keys import KeyRecord, find_key, jobs_in_flight

log = logging.getLogger(__name__)

WINDOW_S = 60  # the rate limit's fixed window
CACHE_MAX = 10_000  # cached keys (good and bad) per process before the cache starts over
# Keys made by `ocr-service keys create` are about 50 characters; anything this long is no key of ours.
MAX_KEY_CHARS = 256
CHALLENGE = 'Bearer realm="ocr"'
HOW_TO = "send Authorization: Bearer KEY or X-API-Key: KEY; create a key with `ocr-service keys create NAME`"


@dataclass(frozen=True, slots=True)
class Caller:
    """The API key behind a request; with OCR_AUTH=off, the anonymous caller who sees every job."""

    key_id: str | None
    name: str
    admin: bool
    rate_per_minute: int  # 0: unlimited
    max_in_flight: int  # 0: unlimited

    @property
    def idempotency_owner(self) -> str:
        return self.key_id or ""

    @property
    def list_owner(self) -> str | None:
        """The owner GET /v1/jobs filters on; None: every job."""
        return None if self.admin else self.key_id

    def sees(self, owner: str | None) -> bool:
        return self.admin or owner == self.key_id


ANONYMOUS = Caller(key_id=None, name="anonymous", admin=True, rate_per_minute=0, max_in_flight=0)


class RateLimiter(Protocol):
    async def hit(self, key_id: str, limit: int, amount: int = 1) -> float | None:
        """Count `amount` requests; None when within `limit` per window, else the seconds until the next."""


def _seconds_left(now: float) -> float:
    return WINDOW_S - now % WINDOW_S


class MemoryRateLimiter:
    """A fixed window per key, in this process (each API process counts its own requests)."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, key_id: str, limit: int, amount: int = 1) -> float | None:
        now = time.time()
        window = int(now // WINDOW_S)
        seen_window, count = self._counts.get(key_id, (window, 0))
        count = count + amount if seen_window == window else amount
        self._counts[key_id] = (window, count)
        return None if count <= limit else _seconds_left(now)


class RedisRateLimiter:
    """A fixed window per key in Redis, shared by every API process on that Redis."""

    def __init__(self, url: str) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._expiring: set[str] = set()  # this window's counters this process has given an expiry already

    async def hit(self, key_id: str, limit: int, amount: int = 1) -> float | None:
        now = time.time()
        name = f"ocr:rate:{key_id}:{int(now // WINDOW_S)}"
        try:
            if name in self._expiring:  # the usual case: one INCR, about half the cost of a pipeline
                count = await self._redis.incr(name, amount)
            else:
                async with self._redis.pipeline(transaction=False) as pipe:
                    pipe.incr(name, amount)
                    pipe.expire(name, 2 * WINDOW_S)
                    count, _ = await pipe.execute()
                if len(self._expiring) >= CACHE_MAX:
                    self._expiring.clear()
                self._expiring.add(name)
        except Exception as exc:  # Redis down: serve rather than refuse everyone; uploads fail on the broker anyway
            log.warning("rate limit not checked: Redis unavailable (%s)", exc)
            return None
        return None if int(count) <= limit else _seconds_left(now)


def rate_limiter_for(broker_url: str) -> RateLimiter:
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisRateLimiter(broker_url)
    if broker_url.startswith("redis+socket://"):  # serve's private Redis: Celery's name for a unix socket
        return RedisRateLimiter("unix://" + broker_url.removeprefix("redis+socket://").split("?", 1)[0])
    return MemoryRateLimiter()


class Access:
    """OCR_AUTH and the per-key limits of one API process."""

    def __init__(self, settings: ApiSettings, broker_url: str) -> None:
        self.mode: Literal["required", "off"] = settings.effective_auth
        self._ttl = settings.key_cache_s
        self._default_rate = settings.rate_limit_per_minute
        self._default_in_flight = settings.max_jobs_in_flight
        self._cache: dict[bytes, tuple[float, Caller | None]] = {}  # sha256 of the key -> (expiry, caller)
        self._limiter = rate_limiter_for(broker_url) if self.mode == "required" else MemoryRateLimiter()

    async def authenticate(self, request: Request) -> Caller:
        if self.mode == "off":
            return ANONYMOUS
        caller = await self.identify(request.headers)
        await self.charge(caller, 1)
        return caller

    async def charge(self, caller: Caller, requests: int) -> None:
        """Count `requests` against the caller's rate (a batch's files beyond its request count as uploads of
        their own); RateLimited once over it."""
        if caller.rate_per_minute and caller.key_id is not None and requests > 0:
            retry_after = await self._limiter.hit(caller.key_id, caller.rate_per_minute, requests)
            if retry_after is not None:
                raise RateLimited(
                    f"more than {caller.rate_per_minute} requests per minute with the key '{caller.name}'; "
                    "retry after Retry-After seconds, or raise the limit (OCR_RATE_LIMIT_PER_MINUTE, or "
                    "`ocr-service keys create NAME --rate-per-minute N`)",
                    {"limit": "rate_per_minute", "value": caller.rate_per_minute},
                    headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
                )

    async def identify(self, headers: Mapping[str, str]) -> Caller:
        """The caller whose key these request headers present (Unauthorized if none, too long or unknown);
        no rate limit counted. The edge (ocr_api/limits.py) calls it before a request's body is read."""
        key = presented_key(headers)
        if not key:
            raise Unauthorized(f"an API key is required: {HOW_TO}", headers={"WWW-Authenticate": CHALLENGE})
        caller = None if len(key) > MAX_KEY_CHARS else await self._lookup(key)
        if caller is None:
            raise Unauthorized(
                f"the API key is unknown or revoked: {HOW_TO}",
                headers={"WWW-Authenticate": f'{CHALLENGE}, error="invalid_token"'},
            )
        return caller

    async def still_valid(self, headers: Mapping[str, str]) -> bool:
        """Whether the key of a request is still valid (a stream asks again every few seconds); with keys off,
        always. Answers from the cache, so a revocation is seen within OCR_KEY_CACHE_S."""
        if self.mode == "off":
            return True
        try:
            await self.identify(headers)
        except Unauthorized:
            return False
        return True

    async def _lookup(self, key: str) -> Caller | None:
        now = time.monotonic()
        digest = hashlib.sha256(key.encode()).digest()  # 32 bytes, whatever was sent
        cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        record = await run_in_threadpool(find_key, key)
        caller = None if record is None else self._caller(record)
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        if self._ttl > 0:
            self._cache[digest] = (now + self._ttl, caller)
        return caller

    def _caller(self, record: KeyRecord) -> Caller:
        rate = self._default_rate if record.rate_per_minute is None else record.rate_per_minute
        in_flight = self._default_in_flight if record.max_in_flight is None else record.max_in_flight
        return Caller(record.id, record.name, record.admin, rate, in_flight)


class KeyRecheck:
    """A long request (a stream) asks every `every_s` whether its key is still valid; between, it answers True."""

    def __init__(self, access: Access, headers: Mapping[str, str], every_s: float) -> None:
        self._access = access
        self._headers = headers
        self._every_s = every_s
        self._next = time.monotonic() + every_s

    async def still_valid(self) -> bool:
        if time.monotonic() < self._next:
            return True
        self._next = time.monotonic() + self._every_s
        return await self._access.still_valid(self._headers)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key in Authorization: Bearer, X-API-Key, or Ocp-Apim-Subscription-Key (the header the Azure SDKs send
    to the Document Intelligence API, ocr_api/routes/docintel.py; any route takes it)."""
    header = headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return headers.get("x-api-key") or headers.get("ocp-apim-subscription-key") or None


# Uploads of a key accepted by this process but not yet committed: counted with the committed ones, so
# concurrent uploads cannot all pass the check before any of them is recorded. (Separate API processes still
# check against the database alone: with N processes a key may briefly exceed its limit by N - 1.)
_uploading: Counter[str] = Counter()
_uploading_lock = threading.Lock()


@contextmanager
def jobs_in_flight_slot(caller: Caller, count: int = 1) -> Iterator[None]:
    """Hold `count` of the key's in-flight places (one per file) while its upload is stored and recorded; refuse
    an upload beyond the key's queued, running and being-recorded jobs. Blocking (one COUNT): call it from a
    thread."""
    if not caller.max_in_flight or caller.key_id is None:
        yield
        return
    key = caller.key_id
    with _uploading_lock:
        in_flight = jobs_in_flight(key) + _uploading[key]
        if in_flight + count > caller.max_in_flight:
            limit = caller.max_in_flight
            adding = f"; these {count} files would make {in_flight + count}" if count > 1 else ""
            raise RateLimited(
                f"the key '{caller.name}' may have {limit} job{'' if limit == 1 else 's'} queued or running and "
                f"has {in_flight}{adding}; retry when some have finished, or raise the limit "
                "(OCR_MAX_JOBS_IN_FLIGHT, or `ocr-service keys create NAME --max-in-flight N`)",
                {"limit": "max_in_flight", "value": limit},
                headers={"Retry-After": "5"},
            )
        _uploading[key] += count
    try:
        yield
    finally:
        with _uploading_lock:
            _uploading[key] -= count
            if not _uploading[key]:
                del _uploading[key]


async def current_caller(request: Request) -> Caller:
    access: Access = request.app.state.access
    return await access.authenticate(request)


CurrentCaller = Annotated[Caller, Depends(current_caller)]
