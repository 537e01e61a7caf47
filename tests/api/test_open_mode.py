"""Open mode (keys off, the loopback default) against what a web page in a local browser can send, with real
requests to a real API process: a page that rebinds its own name to 127.0.0.1 (Host: its name) gets 421 and no
job; cross-site uploads and deletes get 403; curl (no Origin) and the same-origin form keep working."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import api_process, base_env, corpus_file

IMAGE = "pyt_test.png"


@pytest.fixture(scope="module")
def open_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    env = base_env(tmp_path_factory.mktemp("open-mode"), OCR_ALLOWED_HOSTS="ocr.lan, ocr-box:8080",
                   OCR_CORS_ORIGINS="http://app.example")  # fmt: skip
    with api_process(env) as client:
        yield client


def _port(client: httpx.Client) -> int:
    return int(client.base_url.port or 80)


def upload(client: httpx.Client, **headers: str) -> httpx.Response:
    with corpus_file(IMAGE).open("rb") as fh:
        return client.post("/v1/jobs", files={"file": (IMAGE, fh)}, headers=headers)


def a_job(client: httpx.Client) -> str:
    response = upload(client)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-request-id"]


@pytest.mark.parametrize(
    "host",
    ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example", "localhost.evil.example:{port}",
     "attacker.localhost.evil", "192.168.1.10:{port}", "0.0.0.0:{port}", "[fe80::1]:{port}", ""],
)  # fmt: skip
def test_a_rebound_name_reaches_no_job(open_api: httpx.Client, host: str) -> None:
    job_id = a_job(open_api)
    headers = {"Host": host.format(port=_port(open_api))}
    for path in ("/v1/jobs", f"/v1/jobs/{job_id}", f"/v1/jobs/{job_id}/result.txt", f"/v1/jobs/{job_id}/events", "/"):
        response = open_api.get(path, headers=headers)
        assert_error(response, 421, "host_not_allowed")
        assert job_id not in response.text
    assert_error(open_api.delete(f"/v1/jobs/{job_id}", headers=headers), 421, "host_not_allowed")
    assert open_api.get(f"/v1/jobs/{job_id}").status_code == 200  # still there


@pytest.mark.parametrize(
    "host", ["127.0.0.1:{port}", "127.0.0.1", "localhost:{port}", "LOCALHOST", "[::1]:{port}", "127.1.2.3:{port}",
             "ocr.lan", "ocr.lan:{port}", "ocr-box:8080"],
)  # fmt: skip
def test_loopback_and_listed_hosts_are_answered(open_api: httpx.Client, host: str) -> None:
    response = open_api.get("/v1/jobs", headers={"Host": host.format(port=_port(open_api))})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},  # a sandboxed frame, a file:// page
        {"Origin": "http://localhost:3000"},  # another local site: same-site, but not this origin
        {"Origin": "http://127.0.0.1:{port}.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://127.0.0.1:{port}"},  # the browser's word wins
    ],
)
def test_cross_site_uploads_and_deletes_are_refused(open_api: httpx.Client, headers: dict[str, str]) -> None:
    sent = {k: v.format(port=_port(open_api)) for k, v in headers.items()}
    before = {j["id"] for j in open_api.get("/v1/jobs", params={"limit": 500}).json()["jobs"]}
    assert_error(upload(open_api, **sent), 403, "cross_site_request")
    job_id = a_job(open_api)
    assert_error(open_api.delete(f"/v1/jobs/{job_id}", headers=sent), 403, "cross_site_request")
    assert_error(open_api.post(f"/v1/jobs/{job_id}/cancel", headers=sent), 403, "cross_site_request")
    after = {j["id"] for j in open_api.get("/v1/jobs", params={"limit": 500}).json()["jobs"]}
    assert after - before == {job_id}  # the refused upload stored nothing; the job was neither deleted nor touched
    assert open_api.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, scripts, ocr-client
        {"Origin": "http://127.0.0.1:{port}", "Sec-Fetch-Site": "same-origin"},  # the form, served here
        {"Origin": "http://localhost:{port}", "Host": "localhost:{port}", "Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
        {"Origin": "http://app.example", "Sec-Fetch-Site": "cross-site"},  # listed in OCR_CORS_ORIGINS
        {"Origin": "http://ocr.lan", "Host": "ocr.lan"},  # listed in OCR_ALLOWED_HOSTS
    ],
)
def test_same_origin_and_non_browser_clients_keep_working(open_api: httpx.Client, headers: dict[str, str]) -> None:
    sent = {k: v.format(port=_port(open_api)) for k, v in headers.items()}
    response = upload(open_api, **sent)
    assert response.status_code == 202, response.text
    assert open_api.delete(f"/v1/jobs/{response.json()['id']}", headers=sent).status_code == 204


def test_with_keys_required_the_key_is_the_guard(tmp_path: Path) -> None:
    # No Host check there: an API reached by name (behind a proxy, on a LAN) answers as before, with a 401.
    with api_process(base_env(tmp_path, OCR_AUTH="required")) as client:
        response = client.get("/v1/jobs", headers={"Host": "ocr.example.com"})
        assert response.status_code == 401
        response = client.post("/v1/jobs", headers={"Origin": "http://evil.example"})
        assert response.status_code == 401
