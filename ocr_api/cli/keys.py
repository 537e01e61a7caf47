"""`ocr-service keys`: create (shown once), list and revoke the API keys of the job database."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ocr_api.cli.common import auto_migrate, fail
from ocr_telemetry.logging import configure_logging


def cmd_keys(args: argparse.Namespace) -> None:
    os.environ.setdefault("OCR_DATA_DIR", str(Path(args.data_dir).resolve()))
    configure_logging(args.log_level)
    auto_migrate()
    {"create": create_key, "list": list_keys, "revoke": revoke_key}[args.action](args)


def create_key(args: argparse.Namespace) -> None:
    from storage.records import api_keys
    from storage.records.db import session_scope

    try:
        with session_scope() as session:
            made = api_keys.create_key(
                session,
                args.name,
                admin=args.admin,
                rate_per_minute=args.rate_per_minute,
                max_in_flight=args.max_in_flight,
            )
    except (api_keys.KeyNameTaken, ValueError) as exc:
        fail(str(exc))
    print(f"name: {made.record.name}{' (admin)' if made.record.admin else ''}")
    print(f"api_key: {made.key}")
    print(f"webhook_secret: {made.webhook_secret}", flush=True)
    print("Store both now: neither is shown again (only the key's sha256 is kept).", file=sys.stderr)


def list_keys(args: argparse.Namespace) -> None:
    from storage.records import api_keys
    from storage.records.db import session_scope

    with session_scope() as session:
        listed = api_keys.list_keys(session)
    rows = [("NAME", "PREFIX", "ADMIN", "RATE/MIN", "IN-FLIGHT", "CREATED", "REVOKED")]
    for k in listed:
        rows.append((
            k.name, k.prefix + "...", "yes" if k.admin else "no",
            "default" if k.rate_per_minute is None else str(k.rate_per_minute),
            "default" if k.max_in_flight is None else str(k.max_in_flight),
            f"{k.created_at:%Y-%m-%d %H:%M}", f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "",
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def revoke_key(args: argparse.Namespace) -> None:
    from storage.records import api_keys
    from storage.records.db import session_scope

    try:
        with session_scope() as session:
            api_keys.revoke_key(session, args.name)
    except api_keys.KeyNotFound as exc:
        fail(str(exc))
    print(f"revoked: {args.name} (API processes stop accepting it within OCR_KEY_CACHE_S seconds)")
