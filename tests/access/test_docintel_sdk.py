"""The Document Intelligence API through Microsoft's own SDK (azure-ai-documentintelligence, sync and async),
called exactly as paperless-ngx's remote OCR parser calls it (paperless-ngx src/paperless/parsers/remote.py,
PAPERLESS_REMOTE_OCR_ENGINE=azureai), against `ocr-service serve` with keys required, on loopback over HTTP
(AzureKeyCredential sends its key over http too: only the token credentials insist on https)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pypdf
import pytest
from azure.ai.documentintelligence import DocumentIntelligenceClient
from azure.ai.documentintelligence.aio import DocumentIntelligenceClient as AsyncDocumentIntelligenceClient
from azure.ai.documentintelligence.models import (
    AnalyzeDocumentRequest,
    AnalyzeOutputOption,
    AnalyzeResult,
    DocumentContentFormat,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from bench.scoring import cer
from tests.access.conftest import Access, upload
from tests.support import corpus_file

CLEAN_PAGE = "pyt_test.png"
MULTI_PAGE_PDF = "paperless_multi-page-images.pdf"
MODEL = "prebuilt-read"


def paperless_sequence(endpoint: str, key: str, data: bytes) -> tuple[str, AnalyzeResult, bytes]:
    """paperless-ngx's RemoteDocumentParser._azure_ai_vision_parse, call for call: the result id, the result
    and the searchable PDF."""
    client = DocumentIntelligenceClient(endpoint=endpoint, credential=AzureKeyCredential(key))
    try:
        analyze_request = AnalyzeDocumentRequest(bytes_source=data)
        poller = client.begin_analyze_document(
            model_id=MODEL,
            body=analyze_request,
            output_content_format=DocumentContentFormat.TEXT,
            output=[AnalyzeOutputOption.PDF],
            content_type="application/json",
        )
        poller.wait()
        result_id = poller.details["operation_id"]
        result = poller.result()
        pdf = b"".join(client.get_analyze_result_pdf(model_id=MODEL, result_id=result_id))
        return result_id, result, pdf
    finally:
        client.close()


async def paperless_sequence_async(endpoint: str, key: str, data: bytes) -> tuple[str, AnalyzeResult, bytes]:
    """The same sequence with the SDK's asyncio client (aiohttp underneath)."""
    async with AsyncDocumentIntelligenceClient(endpoint=endpoint, credential=AzureKeyCredential(key)) as client:
        poller = await client.begin_analyze_document(
            model_id=MODEL,
            body=AnalyzeDocumentRequest(bytes_source=data),
            output_content_format=DocumentContentFormat.TEXT,
            output=[AnalyzeOutputOption.PDF],
            content_type="application/json",
        )
        await poller.wait()
        result_id = poller.details["operation_id"]
        result = await poller.result()
        chunks = [chunk async for chunk in await client.get_analyze_result_pdf(model_id=MODEL, result_id=result_id)]
        return result_id, result, b"".join(chunks)


def pdf_text(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True, timeout=60)
    return done.stdout.decode()


@pytest.fixture(scope="module")
def v1_text(served_auth: Access) -> str:
    """The clean page's text as /v1 reads it (result.txt), the reference for the SDK's content."""
    job = upload(served_auth["alice"], corpus_file(CLEAN_PAGE)).json()
    assert served_auth.wait(served_auth["alice"], job["id"])["status"] == "succeeded"
    return served_auth["alice"].get(f"/v1/jobs/{job['id']}/result.txt").text


def check_result(access: Access, result_id: str, result: AnalyzeResult, pdf: bytes, v1_text: str) -> None:
    assert uuid.UUID(result_id)
    assert result.model_id == MODEL and result.api_version == "2024-11-30" and result.content_format == "text"
    assert cer(v1_text, result.content) <= 0.03, (v1_text, result.content)
    (page,) = result.pages
    assert page.page_number == 1 and page.unit == "pixel" and page.width > 0 and page.height > 0
    assert page.angle == 0
    assert len(page.words) >= 40 and page.lines and result.paragraphs
    for word in page.words:
        assert len(word.polygon) == 8 and all(isinstance(v, float | int) for v in word.polygon)
        assert 0 <= word.confidence <= 1
        assert result.content[word.span.offset : word.span.offset + word.span.length] == word.content
    for line in page.lines:
        span = line.spans[0]
        assert result.content[span.offset : span.offset + span.length] == line.content
    assert pdf.startswith(b"%PDF-")
    assert cer(v1_text, pdf_text(pdf)) <= 0.05
    # The same job underneath: its owner sees it in /v1, another key does not, by either API.
    job = access["alice"].get(f"/v1/jobs/{result_id}").json()
    assert job["formats"] == ["json", "pdf"] and job["options"]["analyze"]["contentFormat"] == "text"
    assert access["bob"].get(f"/v1/jobs/{result_id}").status_code == 404
    other = DocumentIntelligenceClient(endpoint=access.url, credential=AzureKeyCredential(access.keys["bob"]))
    with other, pytest.raises(ResourceNotFoundError) as refused:
        b"".join(other.get_analyze_result_pdf(model_id=MODEL, result_id=result_id))
    assert refused.value.error is not None and refused.value.error.code == "NotFound"


def test_paperless_ngx_sequence_gets_the_text_words_and_a_searchable_pdf(served_auth: Access, v1_text: str) -> None:
    data = corpus_file(CLEAN_PAGE).read_bytes()
    result_id, result, pdf = paperless_sequence(served_auth.url, served_auth.keys["alice"], data)
    check_result(served_auth, result_id, result, pdf, v1_text)


def test_the_async_client_gets_the_same(served_auth: Access, v1_text: str) -> None:
    data = corpus_file(CLEAN_PAGE).read_bytes()
    result_id, result, pdf = asyncio.run(paperless_sequence_async(served_auth.url, served_auth.keys["alice"], data))
    check_result(served_auth, result_id, result, pdf, v1_text)


def test_a_wrong_key_is_refused_with_401(served_auth: Access) -> None:
    with pytest.raises(ClientAuthenticationError) as refused:
        paperless_sequence(served_auth.url, "not-a-key", b"%PDF-1.4")
    assert refused.value.status_code == 401
    assert refused.value.error is not None and refused.value.error.code == "Unauthorized"
    answer = httpx.post(f"{served_auth.url}/documentintelligence/documentModels/{MODEL}:analyze?api-version=2024-11-30")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "Unauthorized"


def test_a_raw_body_with_pages_and_locale(served_auth: Access) -> None:
    """The file as the body (the SDK's IO[bytes] form), page 2 of 3, in English; a PDF is measured in inches."""
    client = DocumentIntelligenceClient(
        endpoint=served_auth.url, credential=AzureKeyCredential(served_auth.keys["bob"])
    )
    with client, corpus_file(MULTI_PAGE_PDF).open("rb") as document:
        poller = client.begin_analyze_document(MODEL, document, pages="2", locale="en-US", polling_interval=1)
        result = poller.result()
        job = served_auth["bob"].get(f"/v1/jobs/{poller.details['operation_id']}").json()
    assert job["lang"] == "eng" and job["options"]["pages"] == "2" and job["formats"] == ["json"]
    (page,) = result.pages
    assert page.page_number == 2 and page.unit == "inch"
    box = pypdf.PdfReader(corpus_file(MULTI_PAGE_PDF)).pages[1].mediabox  # in points, 72 to the inch
    assert abs(page.width - float(box.width) / 72) < 0.01 and abs(page.height - float(box.height) / 72) < 0.01
    assert "Page 2." in result.content and "Page 1." not in result.content
    assert all(0 <= v <= page.height for word in page.words for v in word.polygon)


class _Files(SimpleHTTPRequestHandler):
    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[str]:
    """A loopback HTTP server of a folder holding the clean page, and one path that redirects."""
    (tmp_path / CLEAN_PAGE).write_bytes(corpus_file(CLEAN_PAGE).read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Files, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_url_source_is_fetched_where_the_operator_allows_it(served_auth: Access, file_server: str) -> None:
    client = DocumentIntelligenceClient(
        endpoint=served_auth.url, credential=AzureKeyCredential(served_auth.keys["bob"])
    )
    with client:
        poller = client.begin_analyze_document(
            MODEL, AnalyzeDocumentRequest(url_source=f"{file_server}/{CLEAN_PAGE}"), polling_interval=1
        )
        assert "quick brown dog" in poller.result().content
        with pytest.raises(HttpResponseError) as refused:
            client.begin_analyze_document(MODEL, AnalyzeDocumentRequest(url_source=f"{file_server}/missing.png"))
    assert refused.value.status_code == 400 and refused.value.error is not None
    assert refused.value.error.innererror["code"] == "ContentSourceNotAccessible"
    assert "404" in refused.value.error.message


def test_delete_removes_the_result(served_auth: Access) -> None:
    client = DocumentIntelligenceClient(
        endpoint=served_auth.url, credential=AzureKeyCredential(served_auth.keys["bob"])
    )
    with client:
        poller = client.begin_analyze_document(
            MODEL, io.BytesIO(corpus_file("paperless_simple.png").read_bytes()), polling_interval=1
        )
        poller.result()
        result_id = poller.details["operation_id"]
        client.delete_analyze_result(model_id=MODEL, result_id=result_id)
        with pytest.raises(ResourceNotFoundError):
            b"".join(client.get_analyze_result_pdf(model_id=MODEL, result_id=result_id))
    assert served_auth["bob"].get(f"/v1/jobs/{result_id}").status_code == 404
