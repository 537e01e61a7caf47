"""`ocr-service migrate`: bring the job database's schema up to date, then exit."""

from __future__ import annotations

import argparse

from ocr_api.cli.common import migrate_now
from ocr_telemetry.logging import configure_logging


def cmd_migrate(args: argparse.Namespace) -> None:
    configure_logging(args.log_level)
    print(f"job database at revision {migrate_now()}", flush=True)
