"""What the Document Intelligence API refuses, and how: each bad request answered in that API's error shape
({"error": {"code", "message", "innererror": {"code", "message"}}}) with its status, and the SDK raising what it
raises for that status. On an API with keys required and no worker: nothing here needs a job to run."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from azure.ai.documentintelligence import DocumentIntelligenceClient
from azure.ai.documentintelligence.models import AnalyzeDocumentRequest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from tests.access.conftest import Access
from tests.support import corpus_file

ANALYZE = "/documentintelligence/documentModels/prebuilt-read:analyze"
VERSION = {"api-version": "2024-11-30"}
PNG = corpus_file("paperless_simple.png").read_bytes()


def azure_error(response: httpx.Response, status: int, code: str, inner: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"], error
    assert response.headers["x-ms-error-code"] == code and response.headers["apim-request-id"]
    assert (error.get("innererror") or {}).get("code") == inner, error
    return dict(error)


def analyze(access: Access, params: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    headers = {"Ocp-Apim-Subscription-Key": access.keys["alice"], **kwargs.pop("headers", {})}
    return httpx.post(f"{access.url}{ANALYZE}", params={**VERSION, **(params or {})}, headers=headers, **kwargs)


@pytest.mark.parametrize(
    ("body", "inner", "needle"),
    [
        ({"base64Source": "not base64!"}, "InvalidContentSourceFormat", "base64"),
        ({"base64Source": 42}, "InvalidContentSourceFormat", "base64Source"),
        ({}, "ParameterMissing", "base64Source"),
        ({"base64Source": ""}, "ParameterMissing", "empty"),
        ({"base64Source": "aGk=", "urlSource": "https://example.com/a.pdf"}, "InvalidParameter", "not both"),
        ({"urlSource": "https://example.com/a.pdf"}, "InvalidParameter", "OCR_URL_SOURCE"),
        ([1, 2], "InvalidParameter", "JSON object"),
    ],
)
def test_bad_json_bodies_are_400(queued_auth: Access, body: Any, inner: str, needle: str) -> None:
    error = azure_error(analyze(queued_auth, json=body), 400, "InvalidArgument", inner)
    assert needle in error["message"]


@pytest.mark.parametrize(
    ("params", "status", "code", "inner", "needle"),
    [
        ({"api-version": "2023-07-31"}, 404, "NotFound", "UnsupportedApiVersion", "2024-11-30"),
        ({"pages": "3-1"}, 400, "InvalidArgument", "InvalidParameter", "pages"),
        ({"locale": "xx-YY"}, 400, "InvalidArgument", "InvalidParameter", "locale"),
        ({"locale": "ja"}, 400, "InvalidArgument", "InvalidParameter", "tesseract-ocr-jpn"),
        ({"features": "barcodes,languages"}, 400, "InvalidArgument", "InvalidParameter", "barcodes"),
        ({"output": "figures"}, 400, "InvalidArgument", "InvalidParameter", "figures"),
        ({"stringIndexType": "bytes"}, 400, "InvalidArgument", "InvalidParameter", "stringIndexType"),
        ({"outputContentFormat": "html"}, 400, "InvalidArgument", "InvalidParameter", "outputContentFormat"),
    ],
)
def test_bad_parameters_are_refused_before_the_body_is_used(
    queued_auth: Access, params: dict[str, str], status: int, code: str, inner: str, needle: str
) -> None:
    error = azure_error(analyze(queued_auth, params, json={"base64Source": "aGk="}), status, code, inner)
    assert needle in error["message"]


def test_unknown_models_and_body_types_and_content(queued_auth: Access) -> None:
    client = DocumentIntelligenceClient(queued_auth.url, AzureKeyCredential(queued_auth.keys["alice"]))
    with client, pytest.raises(ResourceNotFoundError) as refused:
        client.begin_analyze_document("prebuilt-layout", AnalyzeDocumentRequest(bytes_source=PNG))
    assert refused.value.error is not None and refused.value.error.code == "NotFound"
    assert refused.value.error.innererror["code"] == "ModelNotFound"
    html = analyze(queued_auth, content=b"<html></html>", headers={"Content-Type": "text/html"})
    assert "text/html" in azure_error(html, 415, "UnsupportedMediaType")["message"]
    empty = analyze(queued_auth, content=b"", headers={"Content-Type": "application/pdf"})
    azure_error(empty, 400, "InvalidArgument", "ParameterMissing")
    text = analyze(queued_auth, json={"base64Source": base64.b64encode(b"plain text, no image").decode()})
    assert "supported" in azure_error(text, 400, "InvalidRequest", "InvalidContent")["message"]
    no_key = httpx.post(f"{queued_auth.url}{ANALYZE}", params=VERSION, json={"base64Source": "aGk="})
    assert no_key.headers["www-authenticate"].startswith("Bearer")
    azure_error(no_key, 401, "Unauthorized")
    lost = httpx.get(
        f"{queued_auth.url}/documentintelligence/nothing", headers={"X-API-Key": queued_auth.keys["alice"]}
    )
    azure_error(lost, 404, "NotFound")


def test_an_operation_that_has_not_run_yet(queued_auth: Access) -> None:
    """No worker: the analyze stays notStarted, polled with Retry-After; its PDF is 409 until it is done, 404
    where none was asked for; another key sees none of it; a /v1 job is no analyze operation."""
    accepted = analyze(queued_auth, {"output": "pdf"}, json={"base64Source": base64.b64encode(PNG).decode()})
    assert accepted.status_code == 202 and accepted.content == b"", accepted.text
    location = accepted.headers["operation-location"]
    result_id = location.split("/analyzeResults/")[1].split("?")[0]
    base = f"{queued_auth.url}/documentintelligence/documentModels/prebuilt-read/analyzeResults"
    assert location == f"{base}/{result_id}?api-version=2024-11-30"
    assert accepted.headers["retry-after"] == "1" and accepted.headers["apim-request-id"]
    alice = {"Ocp-Apim-Subscription-Key": queued_auth.keys["alice"]}
    polled = httpx.get(location, headers=alice)
    assert polled.status_code == 200 and polled.headers["retry-after"] == "1"
    body = polled.json()
    assert body["status"] == "notStarted" and set(body) == {"status", "createdDateTime", "lastUpdatedDateTime"}
    assert body["createdDateTime"].endswith("Z")
    client = DocumentIntelligenceClient(queued_auth.url, AzureKeyCredential(queued_auth.keys["alice"]))
    with client:
        with pytest.raises(ResourceExistsError) as not_ready:  # the SDK's exception for 409
            b"".join(client.get_analyze_result_pdf(model_id="prebuilt-read", result_id=result_id))
        with pytest.raises(ResourceNotFoundError):
            b"".join(client.get_analyze_result_pdf(model_id="prebuilt-read", result_id="not-a-uuid"))
    assert not_ready.value.status_code == 409 and not_ready.value.error.code == "Conflict"
    bob = {"Ocp-Apim-Subscription-Key": queued_auth.keys["bob"]}
    azure_error(httpx.get(location, headers=bob), 404, "NotFound", "OperationNotFound")

    plain = analyze(queued_auth, json={"base64Source": base64.b64encode(PNG).decode()})
    plain_pdf = plain.headers["operation-location"].replace("?", "/pdf?")
    azure_error(httpx.get(plain_pdf, headers=alice), 404, "NotFound", "OutputNotRequested")
    v1_job = queued_auth["alice"].post("/v1/jobs", files={"file": ("a.png", PNG)}).json()["id"]
    azure_error(httpx.get(location.replace(result_id, v1_job), headers=alice), 404, "NotFound", "OperationNotFound")
    azure_error(httpx.get(location.split("?")[0], headers=alice), 404, "NotFound", "UnsupportedApiVersion")
    deleted = httpx.delete(location, headers=alice)
    assert deleted.status_code == 204
    azure_error(httpx.get(location, headers=alice), 404, "NotFound", "OperationNotFound")
