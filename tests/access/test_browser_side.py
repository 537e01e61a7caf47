"""What browsers are told: security headers on the form (and on every answer), CORS only for the configured
origins; and expired idempotency records making room again."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from tests.access.conftest import Access
from tests.support import Stack


def test_the_form_forbids_inline_script_framing_and_sniffing(served_auth: Access) -> None:
    page = served_auth["nobody"].get("/")
    csp = page.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and "unsafe-inline" not in csp
    assert not re.search(r"<script(?![^>]*\ssrc=)", page.text), "no inline script"
    for response in (page, served_auth["nobody"].get("/v1/jobs"), served_auth["alice"].get("/v1/jobs")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_cors_is_off_by_default(redis_stack: Stack) -> None:
    preflight = redis_stack.client.options(
        "/v1/jobs", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    plain = redis_stack.client.get("/v1/jobs", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in plain.headers


def test_cors_answers_the_configured_origins_only(queued_auth: Access) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, idempotency-key",
    }
    nobody = queued_auth["nobody"]
    preflight = nobody.options("/v1/jobs", headers={"Origin": "https://other.example", **asked})
    assert preflight.status_code == 200, preflight.text  # a preflight carries no key, and needs none
    assert preflight.headers["access-control-allow-origin"] == "https://other.example"
    allowed = preflight.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "idempotency-key" in allowed and "x-api-key" in allowed
    listed = queued_auth["alice"].get("/v1/jobs", headers={"Origin": "https://app.example"})
    assert listed.headers["access-control-allow-origin"] == "https://app.example"
    exposed = listed.headers["access-control-expose-headers"].lower()
    assert "location" in exposed and "retry-after" in exposed

    stranger = nobody.options("/v1/jobs", headers={"Origin": "https://evil.example", **asked})
    assert stranger.status_code == 400 and "access-control-allow-origin" not in stranger.headers
    denied = nobody.get("/v1/jobs", headers={"Origin": "https://evil.example"})
    assert denied.status_code == 401 and "access-control-allow-origin" not in denied.headers


def test_expired_and_abandoned_idempotency_records_make_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OCR_DATABASE_URL", raising=False)
    from storage.records import idempotency as records
    from storage.records.db import _sessionmaker, get_engine, session_scope
    from storage.records.migrate import migrate
    from storage.records.models import utcnow
    from storage.settings import get_storage_settings

    day, stale = timedelta(hours=24), timedelta(minutes=10)

    def reserve(
        owner: str, key: str, fingerprint: str, ttl: timedelta = day, stale_after: timedelta = stale
    ) -> records.Outcome:
        with session_scope() as session:  # each request's reservation is committed on its own, as the API does
            return records.reserve(session, owner, key, fingerprint, ttl=ttl, stale_after=stale_after)

    for cached in (get_storage_settings, get_engine, _sessionmaker):
        cached.cache_clear()
    try:
        migrate()
        assert isinstance(reserve("a", "k", "f1"), records.Reserved)
        assert isinstance(reserve("a", "k", "f1"), records.InFlight)
        # Abandoned in flight (its API process died) for longer than stale_after: replaced
        assert isinstance(reserve("a", "k", "f2", stale_after=-stale), records.Reserved)
        with session_scope() as session:
            records.complete(session, "a", "k", "job-1", {"id": "job-1"})
        assert reserve("a", "k", "f2") == records.Replay("job-1", {"id": "job-1"})
        assert isinstance(reserve("a", "k", "f3"), records.Mismatch)
        assert isinstance(reserve("b", "k", "f3"), records.Reserved)
        # Past its expiry a key is new again, and the sweep deletes what expired
        assert isinstance(reserve("a", "short", "f", ttl=-day), records.Reserved)
        assert isinstance(reserve("a", "short", "g"), records.Reserved)
        with session_scope() as session:
            assert records.purge_expired(session, utcnow() + 2 * day) == 3
        with session_scope() as session:
            assert records.purge_expired(session) == 0
    finally:
        for cached in (get_storage_settings, get_engine, _sessionmaker):
            cached.cache_clear()
