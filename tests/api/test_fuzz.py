"""Property-based tests against the live API process: schemathesis drives every operation of the published
OpenAPI document (no 5xx, responses as documented), Hypothesis throws hostile file names at the upload.

CI runs a few dozen cases per operation; `pytest -m long tests/api/test_fuzz.py` runs many more
(OCR_FUZZ_EXAMPLES, default 10,000 file names and 500 cases per operation)."""

from __future__ import annotations

import io
import os
import unicodedata

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from storage.objects.headers import content_disposition
from tests.support import Stack, corpus_file, stored_files

LONG = int(os.environ.get("OCR_FUZZ_EXAMPLES", "10000"))
PNG = corpus_file("paperless_simple.png").read_bytes()
RESERVED = ["CON", "PRN", "AUX", "NUL", "COM1", "LPT1", "con.png", "NUL.tif", ".", "..", "...", "~", "$HOME"]
HOSTILE_PARTS = ["../", "..\\", "/", "\\", "\x00", "\u202e", "\u200f", "\u200b", "\ufeff", "\r\n", "\t", '"', ";",
                 "%00", "%2e%2e%2f", "~/", "C:\\", "\\\\server\\share\\", "%s", "${x}", "'", "<", "*", "|"]  # fmt: skip

names = st.one_of(
    st.sampled_from(RESERVED),
    st.lists(st.one_of(st.sampled_from(HOSTILE_PARTS), st.text(min_size=1, max_size=8)), max_size=12).map("".join),
    st.text(max_size=4096),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=4096),
).filter(lambda n: "\x00" not in n or len(n) < 4096)


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def fuzz_operations(stack: Stack, examples: int) -> list[str]:
    """Every operation of the live OpenAPI document, `examples` generated cases each; the operations run."""
    schema = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    labels = []
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.append(operation.label)

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)

        run()
    return labels


def test_every_operation_answers_as_documented(api_only_stack: Stack) -> None:
    labels = fuzz_operations(api_only_stack, 25)
    assert "POST /v1/jobs" in labels and "POST /v1/jobs/{job_id}/cancel" in labels


@pytest.mark.long
def test_every_operation_answers_as_documented_long(api_only_stack: Stack) -> None:
    fuzz_operations(api_only_stack, int(os.environ.get("OCR_FUZZ_CASES", "500")))


def check_upload_name(stack: Stack, name: str) -> None:
    files = {"file": (name, io.BytesIO(PNG), "image/png")}
    response = stack.client.post("/v1/jobs", files=files)
    assert response.status_code == 202 or 400 <= response.status_code < 500, (name, response.text)
    if response.status_code != 202:  # a name the multipart parser refuses: a clear 400 in the one error shape
        assert response.json()["error"]["message"]
        return
    job = response.json()
    reported = job["filename"]
    if reported is not None:
        assert "/" not in reported and "\\" not in reported and len(reported) <= 200
        assert not any(unicodedata.category(c) == "Cc" for c in reported), repr(reported)
        assert not set(reported) & set("\u202e\u202d\u200f\u200e\u2066\u2067\u2068\u2069"), repr(reported)
        assert reported not in (".", "..")
    root = (stack.data_dir / "files").resolve()
    assert (root / "jobs" / job["id"] / "input").is_file()
    header = response.headers["location"]
    assert header.isascii() and "\r" not in header and "\n" not in header


def check_disposition(name: str) -> None:
    header = content_disposition(name, inline=True)
    header.encode("latin-1")  # an HTTP header value
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    assert header.count('"') == 2


@given(name=names)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_file_names_are_kept_as_harmless_metadata(api_only_stack: Stack, name: str) -> None:
    check_upload_name(api_only_stack, name)
    check_disposition(name)


@given(name=names)
@settings(max_examples=300, deadline=None)
def test_download_names_make_safe_headers(name: str) -> None:
    check_disposition(name)


@pytest.mark.long
@given(name=names)
@settings(max_examples=LONG, deadline=None, suppress_health_check=list(HealthCheck))
def test_hostile_file_names_long(api_only_stack: Stack, name: str) -> None:
    check_upload_name(api_only_stack, name)
    check_disposition(name)


def test_nothing_was_written_outside_the_storage_root(api_only_stack: Stack) -> None:
    root = (api_only_stack.data_dir / "files").resolve()
    for path in stored_files(api_only_stack.data_dir):
        assert root in path.resolve().parents and path.name == "input", path
    outside = [p for p in api_only_stack.data_dir.parent.rglob("*") if p.name in ("evil", "passwd", "CON")]
    assert outside == []
