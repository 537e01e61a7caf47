"""The Document Intelligence API's pieces alone: the analyzeResult made from a result.json (spans in each index
type, polygons, units, angle), locales as Tesseract languages, urlSource fetched under the webhooks' rules
(against a real HTTP server on loopback), and the upload limit for base64 bodies on a running API."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from ocr_api.docintel.errors import ContentSourceNotAccessible, InvalidParameter
from ocr_api.docintel.locales import UnknownLocale, candidates, tesseract_language
from ocr_api.docintel.result import analyze_result
from ocr_api.docintel.url_source import fetch
from ocr_api.errors import UploadTooLarge
from tests.support import Stack


def word(text: str, bbox: list[int], confidence: float = 90.0, **extra: Any) -> dict[str, Any]:
    return {"text": text, "bbox": bbox, "confidence": confidence, **extra}


def page(number: int, blocks: list[list[list[dict[str, Any]]]], dpi: int | None = 300) -> dict[str, Any]:
    """A result.json page: blocks of lines of words, each line's and block's box the union of its words'."""

    def union(items: list[dict[str, Any]]) -> list[int]:
        boxes = [i["bbox"] for i in items]
        return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]

    out_blocks = []
    for block in blocks:
        lines = [{"bbox": union(ws), "words": ws, "text": " ".join(w["text"] for w in ws)} for ws in block]
        out_blocks.append({"bbox": union(lines), "lines": lines})
    return {"page": number, "width": 600, "height": 900, "dpi": dpi, "rotation": 0, "blocks": out_blocks}


DOCUMENT = {
    "pages": [
        page(
            1,
            [
                [
                    [word("Grüße", [10, 10, 60, 30]), word("a😀b", [70, 10, 110, 30])],
                    [word("e\u0301t", [10, 40, 40, 60])],
                ],
                [[word("end", [10, 100, 50, 120], confidence=55.5)]],
            ],
        ),
        page(2, []),
        page(3, [[[word("turned", [0, 0, 0, 0], polygon=[100, 10, 120, 10, 120, 80, 100, 80])]]]),
    ]
}
RECORD = {"apiVersion": "2024-11-30", "stringIndexType": "unicodeCodePoint", "contentFormat": "text"}


def build(**changes: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"model_id": "prebuilt-read", "record": RECORD, "page_numbers": None, "in_inches": False}
    options.update(changes)
    return analyze_result(DOCUMENT, **options)


def spanned(content: str, span: dict[str, int]) -> str:
    return content[span["offset"] : span["offset"] + span["length"]]


def test_content_lines_words_and_paragraphs_index_each_other() -> None:
    result = build()
    assert result["content"] == "Grüße a😀b\ne\u0301t\nend\nturned"
    first, empty, third = result["pages"]
    assert [w["content"] for w in first["words"]] == ["Grüße", "a😀b", "e\u0301t", "end"]
    for item in first["words"]:
        assert spanned(result["content"], item["span"]) == item["content"]
    assert [line["content"] for line in first["lines"]] == ["Grüße a😀b", "e\u0301t", "end"]
    assert [p["content"] for p in result["paragraphs"]] == ["Grüße a😀b\ne\u0301t", "end", "turned"]
    assert result["paragraphs"][2]["boundingRegions"][0]["pageNumber"] == 3
    assert spanned(result["content"], first["spans"][0]) == "Grüße a😀b\ne\u0301t\nend"
    assert empty["words"] == [] and empty["spans"][0]["length"] == 0
    assert first["words"][0]["polygon"] == [10, 10, 60, 10, 60, 30, 10, 30]  # the box's corners, clockwise
    assert first["words"][3]["confidence"] == 0.555
    assert first["unit"] == "pixel" and (first["width"], first["height"]) == (600, 900) and first["angle"] == 0
    assert third["words"][0]["polygon"] == [100, 10, 120, 10, 120, 80, 100, 80] and third["angle"] == 0
    assert result["modelId"] == "prebuilt-read" and result["apiVersion"] == "2024-11-30"


def test_spans_count_in_the_requested_units() -> None:
    """😀 is two UTF-16 code units; e + combining acute is one text element (grapheme) of two code points."""
    utf16 = build(record={**RECORD, "stringIndexType": "utf16CodeUnit"})
    words = utf16["pages"][0]["words"]
    assert [(w["span"]["offset"], w["span"]["length"]) for w in words] == [(0, 5), (6, 4), (11, 3), (15, 3)]
    elements = build(record={**RECORD, "stringIndexType": "textElements"})
    words = elements["pages"][0]["words"]
    assert [(w["span"]["offset"], w["span"]["length"]) for w in words] == [(0, 5), (6, 3), (10, 2), (13, 3)]
    assert elements["stringIndexType"] == "textElements"


def test_pages_inches_markdown_and_a_turned_page() -> None:
    turned = {"pages": [page(1, [[[word("up", [0, 0, 0, 0], polygon=[20, 10, 20, 60, 0, 60, 0, 10])]]])]}
    assert analyze_result(turned, model_id="prebuilt-read", record=RECORD, page_numbers=None, in_inches=False)[
        "pages"
    ][0]["angle"] == 90  # fmt: skip
    result = build(in_inches=True, page_numbers=(4, 7, 9), record={**RECORD, "contentFormat": "markdown"})
    assert [p["pageNumber"] for p in result["pages"]] == [4, 7, 9]
    first = result["pages"][0]
    assert first["unit"] == "inch" and (first["width"], first["height"]) == (2.0, 3.0)
    assert first["words"][0]["polygon"] == [0.0333, 0.0333, 0.2, 0.0333, 0.2, 0.1, 0.0333, 0.1]
    assert result["content"] == "Grüße a😀b\ne\u0301t\n\nend\n\n<!-- PageBreak -->\n\nturned"
    assert result["contentFormat"] == "markdown"
    for paragraph in result["paragraphs"]:
        assert spanned(result["content"], paragraph["spans"][0]) == paragraph["content"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("en", ["eng"]), ("en-US", ["eng"]), ("de", ["deu"]), ("fr-FR", ["fra"]), ("zh-Hant", ["chi_tra"]),
     ("zh-CN", ["chi_sim"]), ("sr-Latn", ["srp_latn", "srp"]), ("de-Latf", ["deu_latf", "deu"]), ("nb", ["nor"])],
)  # fmt: skip
def test_locales_name_tesseract_models(locale: str, expected: list[str]) -> None:
    assert candidates(locale) == expected


def test_a_locale_without_a_model_names_what_to_install() -> None:
    assert tesseract_language("de-DE", {"eng", "deu"}) == "deu"
    with pytest.raises(UnknownLocale, match=r"installed: deu, eng\); install tesseract-ocr-jpn"):
        tesseract_language("ja", {"eng", "deu", "osd"})
    for bad in ("", "not a tag", "xx", "e" * 100):
        with pytest.raises(UnknownLocale):
            tesseract_language(bad, {"eng"})


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1/elsewhere")
            self.end_headers()
            return
        body = b"%PDF-1.4 " + b"x" * 5000 if self.path == "/doc.pdf" else b""
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_source_is_fetched_under_the_webhook_rules(server: str) -> None:
    rules = {"allow_private": True, "max_bytes": 10_000, "timeout_s": 5.0}
    with fetch(f"{server}/doc.pdf", **rules) as got:
        assert got.read().startswith(b"%PDF-1.4 x")
    with pytest.raises(InvalidParameter, match=r"urlSource host '127.0.0.1' is not allowed.*loopback"):
        fetch(f"{server}/doc.pdf", **{**rules, "allow_private": False})
    with pytest.raises(ContentSourceNotAccessible, match="redirect"):
        fetch(f"{server}/moved", **rules)
    with pytest.raises(ContentSourceNotAccessible, match="HTTP 404"):
        fetch(f"{server}/missing", **rules)
    with pytest.raises(UploadTooLarge, match="OCR_MAX_UPLOAD_MB"):
        fetch(f"{server}/doc.pdf", **{**rules, "max_bytes": 1000})
    for bad in ("ftp://example.com/a.pdf", "http://user:pw@example.com/a.pdf", "not a url"):
        with pytest.raises(InvalidParameter, match="urlSource"):
            fetch(bad, **rules)


def test_a_base64_body_over_the_upload_limit_is_refused_in_the_azure_shape(api_only_stack: Stack) -> None:
    """OCR_MAX_UPLOAD_MB=1 there: base64 takes 4/3 of the file, so the edge lets the JSON through up to that,
    and the decoded file is held to the limit itself; a larger body is refused before it is read."""
    url = "/documentintelligence/documentModels/prebuilt-read:analyze?api-version=2024-11-30"
    encoded = base64.b64encode(b"%PDF-1.4\n" + b"\0" * 1_200_000).decode()
    answer = api_only_stack.client.post(url, json={"base64Source": encoded})
    assert answer.status_code == 400 and answer.json()["error"]["innererror"]["code"] == "InvalidContentLength"
    too_big = api_only_stack.client.post(url, content=b"\0" * 3_000_000, headers={"Content-Type": "application/pdf"})
    error = too_big.json()["error"]
    assert too_big.status_code == 400 and error["innererror"]["code"] == "InvalidContentLength", error
    assert "1 MiB" in error["message"]
    open_mode = httpx.post(f"{api_only_stack.base_url}{url}", json={"base64Source": "aGk="})
    assert open_mode.json()["error"]["code"] == "InvalidRequest"  # keys off on loopback: no key needed
