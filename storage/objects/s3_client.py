"""How S3Storage talks to S3: explicit connect and read timeouts, standard retries, path-style addressing for
S3-compatible servers, the multipart transfer settings, and one client per process."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MB = 1024 * 1024
PART_SIZE = 8 * MB  # S3's minimum part is 5 MiB; 8 MiB parts allow objects up to 80 GB.


def client_config(connect_timeout_s: float, read_timeout_s: float, max_attempts: int, path_style: bool) -> Config:
    return Config(
        connect_timeout=connect_timeout_s,
        read_timeout=read_timeout_s,
        retries={"mode": "standard", "total_max_attempts": max_attempts},  # first try included
        signature_version="s3v4",
        # Reads are checked against the object's own sha256; CRC checks on responses add nothing
        # and break on servers that report a multipart (composite) CRC as if it were whole.
        response_checksum_validation="when_required",
        # MinIO and most S3-compatible servers are addressed as endpoint/bucket/key.
        s3={"addressing_style": "path"} if path_style else None,
    )


def probe_config(config: Config) -> Config:
    """One attempt: a health probe reports the state now instead of retrying for half a minute."""
    return config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


def transfer_config(multipart_threshold: int) -> TransferConfig:
    transfer = TransferConfig(
        multipart_threshold=multipart_threshold,
        multipart_chunksize=PART_SIZE,
        max_concurrency=4,
        preferred_transfer_client="classic",
    )
    # Unseekable streams are read into memory part by part; bound how many parts wait there.
    transfer.max_in_memory_upload_chunks = 4
    return transfer


class ProcessClients:
    """One client per process and role: pooled connections must not be shared across a Celery fork."""

    def __init__(self) -> None:
        self._clients: dict[tuple[int, str], Any] = {}
        self._lock = threading.Lock()

    def get(self, role: str, make: Callable[[], Any]) -> Any:
        pid = os.getpid()
        client = self._clients.get((pid, role))
        if client is None:
            with self._lock:
                if self._clients and next(iter(self._clients))[0] != pid:
                    self._clients = {}
                client = self._clients.get((pid, role))
                if client is None:
                    client = self._clients[(pid, role)] = make()
        return client
