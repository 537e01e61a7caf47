"""Text responses are gzipped for clients that ask; small bodies are not worth it and stay as they are."""

from __future__ import annotations

import gzip

from tests.support import Stack, corpus_file


def test_large_text_responses_are_gzipped_and_small_ones_are_not(api_only_stack: Stack) -> None:
    ids = [api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))["id"] for _ in range(5)]
    client = api_only_stack.client
    listing = client.get("/v1/jobs", params={"limit": 5}, headers={"Accept-Encoding": "gzip"})
    assert listing.headers["content-encoding"] == "gzip"
    assert [j["id"] for j in listing.json()["jobs"]] == ids[::-1]
    status = client.get(f"/v1/jobs/{ids[0]}", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in status.headers, "a body this small is sent as it is"
    plain = client.get("/v1/jobs", params={"limit": 5}, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_result_downloads_are_gzipped_on_request(stack: Stack) -> None:
    job = stack.run(corpus_file("tess_phototest.tif"), formats="txt,hocr")
    assert job["status"] == "succeeded", job
    url = f"/v1/jobs/{job['id']}/result.hocr"
    with stack.client.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        raw = b"".join(response.iter_raw())
    identity = stack.client.get(url, headers={"Accept-Encoding": "identity"})
    assert gzip.decompress(raw) == identity.content
    assert len(raw) < len(identity.content) / 2
