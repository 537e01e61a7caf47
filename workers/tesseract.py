"""The one module that runs the `tesseract` program: argument lists, no shell, always a timeout."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from workers.errors import EngineUnavailable
from workers.settings import get_worker_settings


def tesseract_cmd() -> str:
    return get_worker_settings().tesseract_cmd


_LANG_RE = re.compile(r"^[A-Za-z0-9_]+$")


def _run(args: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([tesseract_cmd(), *args], capture_output=True, text=True, timeout=timeout, check=True)
    except FileNotFoundError as exc:
        raise EngineUnavailable(
            f"'{tesseract_cmd()}' not found: install tesseract-ocr (apt-get install tesseract-ocr) "
            "or set OCR_TESSERACT_CMD"
        ) from exc
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise EngineUnavailable(f"'{tesseract_cmd()} {' '.join(args)}' failed: {exc}") from exc


@lru_cache
def cli_version() -> str:
    out = _run(["--version"])
    first = (out.stdout or out.stderr).splitlines()[0]
    return first.replace("tesseract", "").strip()


@lru_cache
def tessdata_dir() -> Path:
    """Where the installed language models are, as the tesseract program reports it."""
    configured = get_worker_settings().tessdata_dir
    if configured:
        return configured
    if env := os.environ.get("TESSDATA_PREFIX"):
        return Path(env)
    out = _run(["--list-langs"])
    match = re.search(r'"(.+?)"', out.stdout + out.stderr)
    if not match:
        raise EngineUnavailable("could not find tesseract's tessdata directory")
    return Path(match.group(1))


def installed_languages() -> list[str]:
    """Installed recognition models (osd is orientation detection, not a language)."""
    directory = tessdata_dir()
    return sorted(p.stem for p in directory.glob("*.traineddata") if p.stem != "osd")


def valid_lang_spec(spec: str) -> bool:
    return bool(spec) and all(_LANG_RE.match(part) for part in spec.split("+"))


@lru_cache(maxsize=64)
def _model_sha256(path: Path, mtime: float) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def model_info(lang: str) -> list[dict[str, str]]:
    """Name and sha256 of each model a language spec uses, recorded with every result."""
    models = []
    for name in lang.split("+"):
        path = tessdata_dir() / f"{name}.traineddata"
        if path.exists():
            models.append({"name": name, "sha256": _model_sha256(path, path.stat().st_mtime)})
    return models


def require_models(lang: str, directory: Path | None = None) -> None:
    """Tesseract silently drops a missing secondary language; refuse instead of giving worse text."""
    directory = directory or tessdata_dir()
    missing = [name for name in lang.split("+") if not (directory / f"{name}.traineddata").exists()]
    if missing:
        raise EngineUnavailable(
            f"language model(s) {', '.join(missing)} not installed on this worker in {directory} "
            f"(apt-get install tesseract-ocr-{missing[0]})"
        )
