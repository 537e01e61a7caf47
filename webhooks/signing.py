"""Webhook signatures: X-OCR-Signature is HMAC-SHA256 of "<timestamp>.<body>" with the job's secret (its API
key's own, or OCR_WEBHOOK_SECRET for keyless jobs); `verify` is what a receiver does."""

from __future__ import annotations

import hashlib
import hmac
import time

from storage.records import deliveries
from storage.records.db import session_scope
from workers.settings import get_worker_settings


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-OCR-Signature value: HMAC-SHA256 of "<timestamp>.<body>" with the secret, hex."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, header: str, tolerance_s: float = 300) -> bool:
    """What a receiver does (the README's example does the same): the signature matches and is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs(time.time() - ts) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, ts, body), header)


def signing_secret(owner: str | None) -> str | None:
    """The secret that signs a job's webhooks: its API key's own, or OCR_WEBHOOK_SECRET for keyless jobs."""
    if owner is None:
        return get_worker_settings().webhook_secret
    with session_scope() as session:
        return deliveries.key_secret(session, owner)
