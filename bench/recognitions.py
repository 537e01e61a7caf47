"""Recognitions and image work remembered across the runs of a benchmark (bench/tuning.py, bench/accuracy.py).

A grid of thresholds reads the same images with the same options over and over; so does every rerun of an
evaluation after a change that touches only how readings are judged. `CachingEngine` keeps each recognition
(and OSD answer) by the image's content, the options, the engine's version and its model files: in memory, and, given a
folder, on disk as JSON, so a later run pays only for the images it has not read before. `Memo` keeps the
results of the pipeline's own image functions (text-like ink, a photo's flattening, a table's cells, the
background divided out, ...) for the images of one file, so that the images derived from them are the same
objects at every grid point and their recognitions are found by identity, not hashed again.

Nothing here changes what the pipeline does: the same images and options give the same recognitions.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

DEFAULT_CACHE = Path(".bench") / "recognitions"
_SCALARS = (int, float, str, bool, type(None))


def _part(value: Any) -> Any:
    """A memo key's part for one argument: a number, string or None by value, anything else by identity."""
    return value if isinstance(value, _SCALARS) else ("id", id(value))


class Memo:
    """A function of one image (and more), remembered by the image object for one file at a time: arguments
    that are numbers, strings or None by value, others (images, masks) by identity. `install` puts memos in
    place of the pipeline's own functions (in this process only); `forget` starts a new file."""

    installed: list[Memo] = []

    def __init__(self, function: Any) -> None:
        self.function = function
        self.seen: dict[tuple[Any, ...], tuple[Any, Any]] = {}

    def __call__(self, image: Any, *args: Any, **kwargs: Any) -> Any:
        named = tuple(sorted((k, _part(v)) for k, v in kwargs.items()))
        key = (id(image), *map(_part, args), named)
        if key not in self.seen:
            # the image (and the arguments) are kept: their ids stay their own while the entry lives
            self.seen[key] = ((image, args, kwargs), self.function(image, *args, **kwargs))
        return self.seen[key][1]

    @classmethod
    def install(cls) -> None:
        """Memos in place of the pipeline's image functions, or, when in place already, emptied (a new file)."""
        from workers.ocr import binarize, coverage, imageops, photo, tables

        targets = (
            (coverage, "text_ink"),
            (photo, "flatten"),
            (tables, "find_cells"),
            (binarize, "flatten_background"),
            (imageops, "ink_mask"),
            (imageops, "rescale"),
            (imageops, "rotate_degrees"),
            (imageops, "turn_clockwise"),
            (imageops, "clear_dark_borders"),
            (imageops, "skew_angle"),
            (imageops, "text_metrics"),
        )
        for module, name in targets:
            current = getattr(module, name, None)
            if current is None:
                continue
            if isinstance(current, Memo):
                current.seen.clear()
            else:
                memo = cls(current)
                setattr(module, name, memo)
                cls.installed.append(memo)


def _models_digest() -> str:
    """The model files the engine reads (name, size, date): another model directory is another engine."""
    from workers.ocr import tesseract

    directory = tesseract.tessdata_dir()
    files = sorted(directory.glob("*.traineddata"))
    listing = " ".join(f"{p.name}:{p.stat().st_size}:{int(p.stat().st_mtime)}" for p in files if p.exists())
    return hashlib.sha1(f"{directory} {listing}".encode()).hexdigest()[:12]


class CachingEngine:
    """An engine wrapper that remembers recognitions by image content, options and engine version: in this
    process, and in `folder` (one JSON file a recognition) when given."""

    def __init__(self, engine: Any, folder: Path | None = None) -> None:
        self.engine = engine
        self.name = engine.name
        self.folder = folder
        self._version = f"{engine.version()} {_models_digest()}"
        self._reads: dict[str, Any] = {}
        self._digests: dict[int, tuple[Any, str]] = {}  # id(image) -> (image, digest), one file at a time

    def version(self) -> str:
        return self._version

    def forget_images(self) -> None:
        """A new file: the digests of the last one's images are dropped (their recognitions stay)."""
        self._digests.clear()

    def _digest(self, image: Any) -> str:
        known = self._digests.get(id(image))
        if known is None or known[0] is not image:
            raw = image.mode.encode() + repr(image.size).encode() + image.tobytes()
            known = (image, hashlib.sha1(raw).hexdigest())
            self._digests[id(image)] = known
        return known[1]

    def _key(self, image: Any, what: Any) -> str:
        return hashlib.sha1(f"{self.name} {self._version} {self._digest(image)} {what!r}".encode()).hexdigest()

    def _load(self, key: str) -> Any:
        if key in self._reads:
            return self._reads[key]
        if self.folder is not None:
            path = self.folder / key[:2] / f"{key}.json"
            if path.exists():
                self._reads[key] = json.loads(path.read_text(encoding="utf-8"))
                return self._reads[key]
        return KeyError

    def _store(self, key: str, value: Any) -> None:
        self._reads[key] = value
        if self.folder is not None:
            path = self.folder / key[:2] / f"{key}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{id(self)}.part")
            partial.write_text(json.dumps(value), encoding="utf-8")
            partial.replace(path)  # atomic: parallel processes may write the same key

    def recognize(self, image: Any, options: Any) -> Any:
        from workers.ocr.engines.base import Recognition

        key = self._key(image, options)
        found = self._load(key)
        if found is KeyError:
            found = asdict(self.engine.recognize(image, options))
            self._store(key, found)
        return Recognition(**found)

    def detect_orientation(self, image: Any, dpi: int | None) -> Any:
        from workers.ocr.engines.base import Orientation

        key = self._key(image, ("osd", dpi))
        found = self._load(key)
        if found is KeyError:
            orientation = self.engine.detect_orientation(image, dpi)
            found = None if orientation is None else asdict(orientation)
            self._store(key, found)
        return None if found is None else Orientation(**found)
