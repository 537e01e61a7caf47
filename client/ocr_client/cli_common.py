"""What every `ocr-client` command shares: the server, key and retry flags, and the client they make."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ocr_client._version import __version__
from ocr_client.client import DEFAULT_SERVER
from ocr_client.retry import RetryPolicy


def common_parser() -> argparse.ArgumentParser:
    """The flags of every subcommand (a parent parser): `ocr-client submit --version` works as well."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", default=os.environ.get("OCR_SERVER", DEFAULT_SERVER), help="default: %(default)s")
    common.add_argument("--api-key", default=os.environ.get("OCR_API_KEY"), help="sent as Authorization: Bearer")
    common.add_argument(
        "--retries", type=int, default=5, help="tries again after refused connections, 429 and 503 (default: 5)"
    )
    common.add_argument("--version", action="version", version=f"ocr-client {__version__}")
    return common


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"api_key": args.api_key, "retry": RetryPolicy(attempts=max(args.retries, 0) + 1)}
