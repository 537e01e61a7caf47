"""GET /: the browser form, plain HTML rendered here; its script and styles are files in ocr_api/static.

Every URL in the page starts with the root path the request came in under (OCR_ROOT_PATH), so the form works
behind a reverse proxy that serves the API under a prefix. The page has no inline script: the later CSP needs
none. The switches' checkboxes come from `JobOptions`: each field's title is its label, its default whether it
starts checked.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from html import escape
from pathlib import Path
from string import Template

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from ocr_client.options import FORMATS, PAGES_MAX_CHARS, JobOptions

from ocr_api.security import FORM_CSP
from ocr_api.service import listed_languages
from ocr_api.settings import get_api_settings

router = APIRouter(tags=["ui"], include_in_schema=False)
PACKAGE = Path(__file__).resolve().parents[1]
STATIC_DIR = PACKAGE / "static"
DEFAULT_FORMATS = ("txt",)
FORMAT_LABELS = {"txt": "Plain text", "hocr": "hOCR", "alto": "ALTO XML", "tsv": "TSV", "json": "JSON",
                 "pdf": "Searchable PDF"}  # fmt: skip
LANGUAGE_NAMES = {"eng": "English", "deu": "German", "fra": "French", "frk": "German Fraktur",
                  "Fraktur": "Fraktur script", "script/Fraktur": "Fraktur script", "spa": "Spanish",
                  "ita": "Italian", "nld": "Dutch"}  # fmt: skip


@lru_cache
def _page_template() -> Template:
    return Template((PACKAGE / "templates" / "index.html").read_text(encoding="utf-8"))


@lru_cache
def asset_version() -> str:
    """Changes with the script and styles, so browsers never run a stale script against a new page."""
    digest = hashlib.sha256()
    for name in ("app.js", "app.css"):
        digest.update((STATIC_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def _checkbox(group: str, value: str, label: str, checked: bool) -> str:
    ident = escape(f"{group}-{value}")
    on = " checked" if checked else ""
    return (
        f'<label class="check" for="{ident}"><input type="checkbox" id="{ident}" name="{escape(group)}" '
        f'value="{escape(value)}"{on}> {escape(label)}</label>'
    )


def _label(name: str) -> str:
    return JobOptions.model_fields[name].title or name


@router.get("/", response_class=HTMLResponse, summary="The upload form")
@router.head("/")
def index(request: Request) -> HTMLResponse:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    default_lang = get_api_settings().default_lang
    languages = "\n".join(
        _checkbox("lang", code, f"{LANGUAGE_NAMES.get(code, code)} ({code})", code in default_lang.split("+"))
        for code in listed_languages()
    )
    formats = "\n".join(
        _checkbox("formats", fmt, FORMAT_LABELS.get(fmt, fmt), fmt in DEFAULT_FORMATS) for fmt in FORMATS
    )
    switches = "\n".join(
        _checkbox("switch", name, _label(name), on) for name, on in JobOptions.switch_defaults().items()
    )
    pages = JobOptions.model_fields["pages"]
    page = _page_template().substitute(
        root=escape(root), version=asset_version(), languages=languages, formats=formats, switches=switches,
        pages_label=escape(pages.title or "Pages"), pages_help=escape(pages.description or ""),
        pages_max=PAGES_MAX_CHARS,
    )  # fmt: skip
    return HTMLResponse(page, headers={"Cache-Control": "no-cache", "Content-Security-Policy": FORM_CSP})
