"""A job's switches, complete: the options it recorded over the upload options' defaults (JobOptions)."""

from __future__ import annotations

from typing import Any

from ocr_client.options import JobOptions

_TRUE, _FALSE = ("true", "1", "on"), ("false", "0", "off")


def job_switches(options: dict[str, Any] | None) -> dict[str, bool]:
    """Every switch of a job: its `options` (bools, or "true"/"false" strings as older records may hold)
    over the defaults of the upload options (JobOptions)."""
    result = JobOptions.switch_defaults()
    for key, value in (options or {}).items():
        if key not in result:
            continue
        if isinstance(value, bool):
            result[key] = value
        elif isinstance(value, str) and value.strip().lower() in (*_TRUE, *_FALSE):
            result[key] = value.strip().lower() in _TRUE
    return result


def text_pages_mode(switches: dict[str, bool]) -> str:
    """What to do with a PDF page that already has text: "skip" it (skip_text: its own text is kept), "redo"
    its OCR (redo_ocr: its earlier invisible layer replaced), or "force" (OCR every page, the default)."""
    return "redo" if switches.get("redo_ocr") else "skip" if switches.get("skip_text") else "force"
