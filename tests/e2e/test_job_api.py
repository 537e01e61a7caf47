"""Status, listing, deletion and result rules, on an API with no worker on its queue (jobs stay queued)."""

from __future__ import annotations

from tests.support import Stack, corpus_file, stored_files


def test_result_is_409_while_the_job_is_not_finished(api_only_stack: Stack) -> None:
    job = api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))
    response = api_only_stack.client.get(f"/v1/jobs/{job['id']}/result.txt")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_not_finished"
    assert "queued" in response.json()["error"]["message"]


def test_unknown_job_is_404_everywhere(api_only_stack: Stack) -> None:
    for method, path in (
        ("GET", "/v1/jobs/nope"),
        ("GET", "/v1/jobs/nope/result.txt"),
        ("DELETE", "/v1/jobs/nope"),
        ("GET", "/v1/jobs/00000000-0000-0000-0000-000000000000"),
    ):
        response = api_only_stack.client.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "job_not_found"


def test_unknown_format_is_422_and_unrequested_format_404(api_only_stack: Stack) -> None:
    job = api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))
    assert api_only_stack.client.get(f"/v1/jobs/{job['id']}/result.docx").status_code in (404, 422)


def test_list_is_newest_first_with_cursor_pagination(api_only_stack: Stack) -> None:
    ids = [api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))["id"] for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api_only_stack.client.get("/v1/jobs", params=params).json()
        assert len(page["jobs"]) <= 2
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "a job was listed twice"
    positions = [seen.index(i) for i in ids]
    assert positions == sorted(positions, reverse=True), "newest first"


def test_bad_cursor_is_422(api_only_stack: Stack) -> None:
    response = api_only_stack.client.get("/v1/jobs", params={"cursor": "not-a-cursor"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_input"


def test_delete_removes_the_job_and_its_files(api_only_stack: Stack) -> None:
    job = api_only_stack.submit_ok(corpus_file("tess_HelloGoogle.tif"))
    job_dir = api_only_stack.data_dir / "files" / "jobs" / job["id"]
    assert (job_dir / "input").is_file()
    assert api_only_stack.client.delete(f"/v1/jobs/{job['id']}").status_code == 204
    assert not job_dir.exists()
    assert api_only_stack.client.get(f"/v1/jobs/{job['id']}").status_code == 404
    assert all(job["id"] not in str(p) for p in stored_files(api_only_stack.data_dir))


def test_health_readiness_languages_and_docs(api_only_stack: Stack) -> None:
    client = api_only_stack.client
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready == {"status": "ready", "checks": {"database": "ok", "broker": "ok", "storage": "ok"}}
    languages = client.get("/v1/languages").json()
    assert {"eng", "deu", "fra"} <= set(languages["languages"]) and "osd" not in languages["languages"]
    assert client.get("/docs").status_code == 200
    assert "/v1/jobs" in client.get("/openapi.json").json()["paths"]
