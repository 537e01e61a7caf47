"""The state file in OUTDIR that makes `ocr-client submit` resumable.

One JSON object a line, appended as things happen and flushed at once: `submitted` as soon as the 202 arrives
(a rerun after Ctrl-C waits for that job instead of uploading again), `done` when every result is written.
The last line for a path wins; close() rewrites the file with one line a path.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from ocr_client.errors import OcrClientError

STATE_NAME = ".ocr-client-state.jsonl"
HASH_CHUNK = 1024 * 1024


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class StateInUse(OcrClientError):
    """Another run holds the state file of this OUTDIR."""


@dataclass(frozen=True)
class Entry:
    path: str  # relative, as mirrored in OUTDIR
    sha256: str
    options: str  # the upload options the results were made with
    job_id: str
    done: bool

    def same_input(self, sha256: str, options: str) -> bool:
        return self.sha256 == sha256 and self.options == options


class StateFile:
    def __init__(self, outdir: Path) -> None:
        self.path = outdir / STATE_NAME
        self.entries: dict[str, Entry] = {}
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for line in fh:
                    try:
                        entry = Entry(**json.loads(line))
                    except (ValueError, TypeError):
                        continue  # a line cut short by a crash
                    self.entries[entry.path] = entry
        outdir.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = self.path.open("a", encoding="utf-8")
        try:  # two runs appending to one state file would each compact away the other's lines
            fcntl.flock(self._out, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._out.close()
            raise StateInUse(f"another ocr-client run is writing to {outdir}") from None

    def get(self, rel: str) -> Entry | None:
        return self.entries.get(rel)

    def record(self, entry: Entry) -> None:
        self.entries[entry.path] = entry
        self._out.write(json.dumps(asdict(entry), separators=(",", ":")) + "\n")
        self._out.flush()

    def close(self) -> None:
        self._out.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for entry in self.entries.values():
                fh.write(json.dumps(asdict(entry), separators=(",", ":")) + "\n")
        os.replace(tmp, self.path)
