"""The recognition models the service installs beside Tesseract's own: tessdata_best, integerised.

Debian's and Ubuntu's `tesseract-ocr-LANG` packages carry *tessdata_fast*, the small LSTM networks upstream
offers as "best value for money in speed vs accuracy". *tessdata_best* is upstream's larger network, its most
accurate; its integerised form (`4.0.0_best_int`, made and published on the npm registry by tesseract.js as
its default models, Apache-2.0 like all of tessdata) reads with integer arithmetic as the fast models do. On
the corpus and the synthetic sets English read with it misses fewer words (docs/accuracy.md, "Models");
German and French read worse there, so only English is installed by default.

Tesseract reads every language of one request from one directory, so the service's directory holds the
installed best models and a link to every other model of Tesseract's own directory (`link_own_models`, run
on install and whenever a process first looks: a language package installed later shows up after a
restart). `workers.ocr.tesseract.tessdata_dir` uses this directory when it holds a model and neither
OCR_TESSDATA_DIR nor TESSDATA_PREFIX says otherwise.

    ocr-service models install            # English (the default), from the npm registry, sha512-checked
    ocr-service models install eng deu    # any of BEST_INT
    ocr-service models status             # which directory, which model each language reads with
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import sys
import tarfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pinned:
    """A model's npm tarball: its address and the registry's sha512 integrity of the tarball."""

    url: str
    integrity: str

    def member(self, lang: str) -> str:
        return f"package/4.0.0_best_int/{lang}.traineddata.gz"


# Where an installed model stands in for one of Tesseract's own, that one stays readable as LANG + this suffix
# (a link): the second model the vote reads with (workers/ocr/page_options.py second_lang, workers/ocr/vote.py).
SECOND_MODEL_SUFFIX = "_fast"

_REGISTRY = "https://registry.npmjs.org/@tesseract.js-data"
BEST_INT: dict[str, Pinned] = {
    "eng": Pinned(
        f"{_REGISTRY}/eng/-/eng-1.0.0.tgz",
        "sha512-mbTumm6KQPUHyzTPQaF3ObXYnx0SqqfV2nabqFVQBwD6Kl7PhGSLSzOlfFTWy0P3BjghaSKA2W9GB19Jk+ZcTg==",
    ),
    "deu": Pinned(
        f"{_REGISTRY}/deu/-/deu-1.0.0.tgz",
        "sha512-3ter1p2gFAiCd5CMC+PodZ9YY2UDomkKj+ytlKeeZqOUmhLx1SDnYPf5zog0g5MBbxYveW+8omI3PUflqHfZ4Q==",
    ),
    "fra": Pinned(
        f"{_REGISTRY}/fra/-/fra-1.0.0.tgz",
        "sha512-pp58gMaoyidoBBLd5y5rnf0WW0Y1994QrGqZrYatITqIU/AReUJMykD+YY3JDgvnmgz7uAx1UmhjjuyEmV8JEA==",
    ),
}
DEFAULT_LANGS = ("eng",)
MARKER = ".best_int"  # lists the models this directory holds itself (the rest are links)


class ModelInstallError(Exception):
    """A model could not be fetched or did not match its pinned digest."""


def service_dir() -> Path:
    """The service's own model directory, inside its installation (the virtual environment or image)."""
    return Path(sys.prefix) / "share" / "ocr-service" / "tessdata"


def _marker(directory: Path) -> dict[str, str]:
    """The models `directory` holds itself, each with the pinned integrity of the tarball it came from."""
    marker = directory / MARKER
    if not marker.exists():
        return {}
    entries = (line.split() for line in marker.read_text(encoding="utf-8").splitlines())
    return {parts[0]: (parts[1] if len(parts) > 1 else "") for parts in entries if parts}


def own_models(directory: Path) -> list[str]:
    """The best models `directory` holds itself (not links), as installed."""
    return sorted(_marker(directory))


def _fetch(url: str, timeout_s: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 (a pinned https address)
        return bytes(response.read())


def _check(data: bytes, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise ModelInstallError(f"{algorithm} of the download is {actual}, expected {expected}")


def install(
    langs: tuple[str, ...] | list[str],
    directory: Path,
    own_dir: Path,
    *,
    timeout_s: float = 120,
    fetch: Callable[[str, float], bytes] = _fetch,
) -> list[str]:
    """Fetch and unpack each language's best model into `directory`, then link the rest of `own_dir`'s models.
    Returns what was installed. A failed download or digest leaves the directory as it was for that model."""
    unknown = [lang for lang in langs if lang not in BEST_INT]
    if unknown:
        raise ModelInstallError(f"no best model pinned for {', '.join(unknown)} (known: {', '.join(BEST_INT)})")
    directory.mkdir(parents=True, exist_ok=True)
    installed = _marker(directory)
    for lang in langs:
        pinned = BEST_INT[lang]
        target = directory / f"{lang}.traineddata"
        if installed.get(lang) == pinned.integrity and target.is_file() and not target.is_symlink():
            continue  # this very model is installed already: nothing to fetch
        try:
            data = fetch(pinned.url, timeout_s)
        except OSError as exc:
            raise ModelInstallError(f"could not download {pinned.url}: {exc}") from exc
        _check(data, pinned.integrity)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            member = tar.extractfile(pinned.member(lang))
            if member is None:
                raise ModelInstallError(f"{pinned.url} holds no {pinned.member(lang)}")
            model = gzip.decompress(member.read())
        partial = target.with_suffix(".part")
        partial.write_bytes(model)
        if target.is_symlink():
            target.unlink()
        partial.replace(target)
        installed[lang] = pinned.integrity
    (directory / MARKER).write_text("".join(f"{k} {v}\n" for k, v in sorted(installed.items())), encoding="utf-8")
    link_own_models(directory, own_dir)
    return sorted(installed)


def link_own_models(directory: Path, own_dir: Path) -> None:
    """Link every model (and the configs and script folders) of Tesseract's own directory that `directory` does
    not hold itself; drop links whose model is gone. Quietly does nothing where `directory` is read-only."""
    try:
        for entry in directory.iterdir():
            if entry.is_symlink() and not entry.exists():
                entry.unlink()
        for source in own_dir.iterdir():
            if not (source.suffix == ".traineddata" or source.name in ("configs", "script", "tessconfigs")):
                continue
            target = directory / source.name
            if not target.exists() and not target.is_symlink():
                os.symlink(source, target)
            elif source.suffix == ".traineddata" and not target.is_symlink():
                # the directory's own model stands in for Tesseract's: that one stays readable as LANG_fast,
                # a second opinion for the vote (workers/ocr/vote.py)
                second = directory / f"{source.stem}{SECOND_MODEL_SUFFIX}.traineddata"
                if not second.exists() and not second.is_symlink():
                    os.symlink(source, second)
    except OSError:
        return
