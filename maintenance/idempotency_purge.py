"""The idempotency purge: Idempotency-Key records past their expiry (OCR_IDEMPOTENCY_HOURS after the upload)
are deleted every OCR_IDEMPOTENCY_PURGE_INTERVAL_S. A key past its expiry is new again whether or not its row
is still there (storage/records/idempotency.py replaces it); the purge only keeps the table from growing.
"""

from __future__ import annotations

import logging

from storage.records import idempotency
from storage.records.db import session_scope

log = logging.getLogger(__name__)


def purge() -> int:
    """One pass: how many expired records went. Safe to run in several processes at once (one DELETE)."""
    with session_scope() as session:
        return idempotency.purge_expired(session)
