"""An analyze request of the Document Intelligence API: its query checked, its document read (JSON
`base64Source` or `urlSource`, or the file itself as the body), and the job that reads it.

The job is an ordinary one (GET /v1/jobs lists it, cancel and delete work): it asks for result.json, and the
searchable PDF with output=pdf; the analyze's own parameters are recorded in its `options` under "analyze", so
that its operation is answered as it was asked (ocr_api/docintel/operation.py).
"""

from __future__ import annotations

import base64
import binascii
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from io import BytesIO
from typing import Any, BinaryIO, cast

import anyio
from fastapi import Request, UploadFile
from ocr_client.options import PAGES_MAX_CHARS, page_numbers

from ocr_api.docintel import url_source
from ocr_api.docintel.errors import (
    InvalidContentSourceFormat,
    InvalidParameter,
    ModelNotFound,
    ParameterMissing,
    UnsupportedApiVersion,
    UnsupportedContentType,
)
from ocr_api.docintel.locales import UnknownLocale, tesseract_language
from ocr_api.settings import ApiSettings
from workers.ocr.tesseract import installed_languages

MODEL_ID = "prebuilt-read"
API_VERSIONS = ("2024-11-30",)  # the GA version the azure-ai-documentintelligence 1.x SDKs send
STRING_INDEX_TYPES = ("textElements", "unicodeCodePoint", "utf16CodeUnit")
CONTENT_FORMATS = ("text", "markdown")
RAW_TYPES = ("application/octet-stream", "application/pdf")
SPOOL_IN_MEMORY = 1024 * 1024


@dataclass(frozen=True)
class AnalyzeParams:
    api_version: str
    string_index_type: str
    content_format: str
    pdf: bool
    pages: str | None
    locale: str | None
    lang: str | None  # the Tesseract language of `locale`; None: the server's default

    def record(self) -> dict[str, Any]:
        """What the job keeps of the analyze (its options' "analyze" entry)."""
        return {
            "apiVersion": self.api_version,
            "stringIndexType": self.string_index_type,
            "contentFormat": self.content_format,
            "locale": self.locale,
        }

    @property
    def formats(self) -> str:
        return "json,pdf" if self.pdf else "json"


def check_model(model_id: str) -> None:
    if model_id != MODEL_ID:
        raise ModelNotFound(
            f"the requested model '{model_id[:64]}' was not found: this service answers the model {MODEL_ID} only"
        )


def check_api_version(api_version: str | None) -> str:
    if not api_version:
        raise UnsupportedApiVersion(f"api-version is required; this service answers api-version={API_VERSIONS[0]}")
    if api_version not in API_VERSIONS:
        raise UnsupportedApiVersion(
            f"api-version '{api_version[:32]}' is not supported; this service answers api-version="
            + " or ".join(API_VERSIONS)
        )
    return api_version


def _choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = query.get(name) or allowed[0]
    if value not in allowed:
        raise InvalidParameter(f"{name} '{value[:32]}' is not one of {', '.join(allowed)}")
    return value


def _list(query: Mapping[str, str], name: str) -> list[str]:
    return [v.strip() for v in (query.get(name) or "").split(",") if v.strip()]


def check_params(model_id: str, query: Mapping[str, str]) -> AnalyzeParams:
    """The analyze's parameters, or the typed error of the first that this service cannot take."""
    check_model(model_id)
    api_version = check_api_version(query.get("api-version"))
    features = _list(query, "features")
    if features or _list(query, "queryFields"):
        raise InvalidParameter(
            f"features={','.join(features) or 'queryFields'} is not supported: this service reads text (words, "
            "lines, paragraphs) and detects no languages, barcodes, formulas, key-value pairs, fonts or query fields"
        )
    outputs = _list(query, "output")
    if any(o != "pdf" for o in outputs):
        raise InvalidParameter(f"output={','.join(outputs)} is not supported: the one output is pdf")
    return AnalyzeParams(
        api_version=api_version,
        string_index_type=_choice(query, "stringIndexType", STRING_INDEX_TYPES),
        content_format=_choice(query, "outputContentFormat", CONTENT_FORMATS),
        pdf="pdf" in outputs,
        pages=_pages(query.get("pages")),
        locale=query.get("locale") or None,
        lang=_lang(query.get("locale")),
    )


def _pages(pages: str | None) -> str | None:
    if not pages:
        return None
    try:
        if len(pages) > PAGES_MAX_CHARS:
            raise ValueError(f"pages is longer than {PAGES_MAX_CHARS} characters")
        page_numbers(pages)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from exc
    return pages.strip()


def _lang(locale: str | None) -> str | None:
    if not locale:
        return None
    try:
        return tesseract_language(locale, installed_languages())
    except UnknownLocale as exc:
        raise InvalidParameter(str(exc)) from exc


async def read_document(request: Request, settings: ApiSettings) -> BinaryIO:
    """The document of an analyze request, at position 0: from its JSON body (base64Source or urlSource), or
    the body itself when it is sent with the file's type."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/json":
        source = await anyio.to_thread.run_sync(json_source, await request.body())
        if isinstance(source, bytes):
            return BytesIO(source)
        if not settings.url_source:
            raise InvalidParameter(
                "urlSource is not allowed on this server (OCR_URL_SOURCE=false): send the document as base64Source "
                "or as the request body"
            )
        fetch = partial(
            url_source.fetch,
            source,
            allow_private=settings.url_source_allow_private,
            max_bytes=settings.max_upload_bytes,
            timeout_s=settings.url_source_timeout_s,
        )
        return cast(BinaryIO, await anyio.to_thread.run_sync(fetch))
    if content_type in RAW_TYPES or content_type.startswith("image/"):
        return await _spool_body(request)
    if not content_type:
        raise ParameterMissing("Content-Type is required: application/json, or the document's own type")
    raise UnsupportedContentType(
        f"Content-Type {content_type[:64]} is not supported: send application/json with base64Source, or the "
        "document itself as application/pdf, image/* or application/octet-stream (PDF and PNG, JPEG, TIFF, "
        "WebP, BMP, GIF images)"
    )


async def _spool_body(request: Request) -> BinaryIO:
    """The raw body in a temporary file (in memory up to 1 MiB), as the multipart parser spools /v1 uploads."""
    spool = cast(BinaryIO, tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY))  # noqa: SIM115 - the caller closes it
    upload = UploadFile(spool, size=0)
    async for chunk in request.stream():
        await upload.write(chunk)
    if upload.size == 0:
        await upload.close()
        raise ParameterMissing("the request body is empty: send the document, or JSON with base64Source")
    await upload.seek(0)
    return cast(BinaryIO, upload.file)


def json_source(body: bytes) -> bytes | str:
    """The decoded base64Source, or the urlSource, of an AnalyzeDocumentRequest body."""
    try:
        request = json.loads(body)
    except ValueError as exc:
        raise InvalidParameter(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(request, dict):
        raise InvalidParameter('the body must be a JSON object: {"base64Source": "..."} or {"urlSource": "..."}')
    encoded, url = request.get("base64Source"), request.get("urlSource")
    if encoded is not None and url is not None:
        raise InvalidParameter("give either base64Source or urlSource, not both")
    if url is not None:
        if not isinstance(url, str) or not url:
            raise InvalidContentSourceFormat("urlSource must be a URL string")
        return url
    if encoded is None:
        raise ParameterMissing('the body names no document: send {"base64Source": "<the file, base64>"}')
    if not isinstance(encoded, str):
        raise InvalidContentSourceFormat("base64Source must be a string of base64")
    try:
        data = base64.b64decode(encoded.encode("ascii").translate(None, b" \t\r\n"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidContentSourceFormat(f"base64Source is not valid base64: {exc}") from exc
    if not data:
        raise ParameterMissing("base64Source is empty")
    return data
