"""The one module that runs the `tesseract` program: argument lists, no shell, always a timeout."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from workers.ocr import models
from workers.ocr.errors import EngineUnavailable
from workers.ocr.settings import get_ocr_settings


def tesseract_cmd() -> str:
    return get_ocr_settings().tesseract_cmd


# A model name: a language code (eng, frk) or a script model (Fraktur, script/Fraktur).
_LANG_RE = re.compile(r"^(script/)?[A-Za-z0-9_]+$")
SCRIPT_PREFIX = "script/"


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
    """Where the models are read from: OCR_TESSDATA_DIR, else TESSDATA_PREFIX, else the service's own directory
    where `ocr-service models install` put models there (workers/ocr/models.py), else Tesseract's own."""
    configured = get_ocr_settings().tessdata_dir
    if configured:
        return configured
    if env := os.environ.get("TESSDATA_PREFIX"):
        return Path(env)
    service = models.service_dir()
    if models.own_models(service):
        models.link_own_models(service, own_tessdata_dir())
        return service
    return own_tessdata_dir()


@lru_cache
def own_tessdata_dir() -> Path:
    """Tesseract's own model directory, as the tesseract program reports it (Debian's packages install there)."""
    out = _run(["--list-langs"])
    match = re.search(r'"(.+?)"', out.stdout + out.stderr)
    if not match:
        raise EngineUnavailable("could not find tesseract's tessdata directory")
    return Path(match.group(1))


def installed_languages() -> list[str]:
    """Installed recognition models (osd is orientation detection, not a language).

    Script models are listed as `script/NAME` too: upstream keeps them in tessdata/script/, Debian's
    tesseract-ocr-script-* packages put them beside the languages (Fraktur.traineddata)."""
    directory = tessdata_dir()
    names = {p.stem for p in directory.glob("*.traineddata") if p.stem != "osd"}
    names |= {SCRIPT_PREFIX + p.stem for p in directory.glob("script/*.traineddata")}
    names |= {SCRIPT_PREFIX + name for name in names if name[:1].isupper() and "/" not in name}
    return sorted(names)


def resolve_lang(spec: str, directory: Path | None = None) -> str:
    """The spec as the engine loads it: `script/NAME` becomes `NAME` where the model lies beside the others."""
    directory = directory or tessdata_dir()
    parts = []
    for name in spec.split("+"):
        if name.startswith(SCRIPT_PREFIX) and not (directory / f"{name}.traineddata").exists():
            name = name[len(SCRIPT_PREFIX) :]
        parts.append(name)
    return "+".join(parts)


@lru_cache
def installed_models() -> frozenset[str]:
    """The installed models, read once per process (a worker restarts to see a newly installed one)."""
    return frozenset(installed_languages())


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
    for name in resolve_lang(lang).split("+"):
        path = tessdata_dir() / f"{name}.traineddata"
        if path.exists():
            models.append({"name": name, "sha256": _model_sha256(path, path.stat().st_mtime)})
    return models


def debian_package(model: str) -> str:
    """The Debian/Ubuntu package of a model: tesseract-ocr-frk, or tesseract-ocr-script-frak for Fraktur."""
    return f"tesseract-ocr-script-{model[:4].lower()}" if model[:1].isupper() else f"tesseract-ocr-{model}"


def require_models(lang: str, directory: Path | None = None) -> None:
    """Tesseract silently drops a missing secondary language; refuse instead of giving worse text."""
    directory = directory or tessdata_dir()
    lang = resolve_lang(lang, directory)
    missing = [name for name in lang.split("+") if not (directory / f"{name}.traineddata").exists()]
    if missing:
        fix = f"apt-get install {debian_package(missing[0])}"
        if directory == models.service_dir():
            fix += ", then restart the workers (or run `ocr-service models install` where they cannot write there)"
        raise EngineUnavailable(
            f"language model(s) {', '.join(missing)} not installed on this worker in {directory} ({fix})"
        )
