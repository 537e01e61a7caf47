"""Finding the files to OCR: images and PDFs, recognised by their first bytes, found by a streaming walk.

The walk yields one file at a time (os.scandir, one directory open at a time), so a tree of 10,000 scans is
never listed in memory or held open at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

HEAD_BYTES = 1024  # the server looks for %PDF- in the first KiB too

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def sniff(head: bytes) -> str | None:
    """The media type the service will accept these first bytes as, or None."""
    if b"%PDF-" in head[:HEAD_BYTES]:
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for signature, media_type in _SIGNATURES:
        if head.startswith(signature):
            return media_type
    return None


def sniff_file(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return sniff(fh.read(HEAD_BYTES))
    except OSError:
        return None


@dataclass(frozen=True)
class Input:
    """A file to OCR, and where it sits relative to the root it was found under (mirrored in OUTDIR)."""

    path: Path
    rel: PurePosixPath

    def output(self, outdir: Path, fmt: str) -> Path:
        return outdir.joinpath(*self.rel.parent.parts, f"{self.rel.stem}.{fmt}")


IGNORED_NAMED = 1000  # ignored files named in a summary at most (the count goes on)


@dataclass
class WalkCounts:
    ignored: int = 0  # files that are neither an image nor a PDF
    ignored_paths: list[str] = field(default_factory=list)  # the first IGNORED_NAMED of them

    def ignore(self, path: Path | str) -> None:
        self.ignored += 1
        if len(self.ignored_paths) < IGNORED_NAMED:
            self.ignored_paths.append(str(path))


def discover(
    paths: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = False,
    exclude: Path | None = None,
    counts: WalkCounts | None = None,
) -> Iterator[Input]:
    """Images and PDFs among `paths`: a file is itself (relative path: its name); a folder is its files
    (relative to the folder), and with `recursive` its subfolders' as well. `exclude` (the output folder) is
    never entered. Hidden files and folders are skipped; symbolic links to folders are not followed."""
    counts = counts or WalkCounts()
    skip = exclude.resolve() if exclude else None
    for arg in paths:
        root = Path(arg)
        if root.is_dir():
            yield from _walk(root, root, recursive, skip, counts)
        elif root.is_file():
            if sniff_file(root):
                yield Input(root, PurePosixPath(root.name))
            else:
                counts.ignore(root)
        else:
            raise FileNotFoundError(f"no such file or folder: {root}")


def _walk(root: Path, folder: Path, recursive: bool, skip: Path | None, counts: WalkCounts) -> Iterator[Input]:
    if skip is not None and folder.resolve() == skip:
        return
    with os.scandir(folder) as it:
        entries = sorted(it, key=lambda e: e.name)  # one folder's names, for a stable order
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            subfolders.append(Path(entry.path))
        elif entry.is_file():
            path = Path(entry.path)
            if sniff_file(path):
                yield Input(path, PurePosixPath(path.relative_to(root).as_posix()))
            else:
                counts.ignore(path)
    if recursive:
        for sub in subfolders:
            yield from _walk(root, sub, recursive, skip, counts)
