"""What several `ocr-service` commands share: failing with a message, the storage and database checks made
before anything starts, and settling OCR_AUTH."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def fail(message: str) -> NoReturn:
    print(f"ocr-service: {message}", file=sys.stderr)
    sys.exit(1)


def check_storage() -> None:
    from storage import StorageError, get_storage

    try:
        get_storage().check()
    except StorageError as exc:
        fail(f"storage is not usable: {exc}")


def auto_migrate() -> None:
    """Apply the migrations once, in this process, before any server or worker process starts."""
    from storage.settings import get_storage_settings

    if get_storage_settings().auto_migrate:
        migrate_now()


def migrate_now() -> str:
    """Bring the job database up to date; its revision."""
    from storage.records.migrate import migrate

    try:
        return migrate()
    except Exception as exc:
        fail(f"the job database could not be migrated: {exc}")


def decide_auth(host: str) -> None:
    """Settle OCR_AUTH for this process and every process it starts: unset, it is `off` on a loopback host and
    `required` on any other; `off` on a non-loopback host only when set so explicitly (with a warning)."""
    from pydantic import ValidationError

    from ocr_api.settings import get_api_settings, is_loopback

    os.environ["OCR_HOST"] = host
    get_api_settings.cache_clear()
    try:
        mode = get_api_settings().effective_auth
    except ValidationError as exc:
        fail(f"invalid setting: {exc.errors()[0]['loc'][0]}: {exc.errors()[0]['msg']} (OCR_AUTH: required or off)")
    if mode == "off" and not is_loopback(host):
        print(
            f"ocr-service: WARNING: OCR_AUTH=off on {host}: anyone who can reach this port can read, list and "
            "delete every job",
            file=sys.stderr,
            flush=True,
        )
    os.environ["OCR_AUTH"] = mode
    get_api_settings.cache_clear()
