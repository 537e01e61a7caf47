"""Who gets in: 401 without a valid key, the keys CLI, revocation, what stays open, the rules that decide
OCR_AUTH at start, and the per-key limits (429 with Retry-After)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.access.conftest import Access, keys_cli, make_key, upload
from tests.support import REPO, base_env, corpus_file, free_port, wait_for

HOW_TO = "ocr-service keys create NAME"


def test_no_key_or_a_bad_key_is_401_with_a_challenge_and_the_way_to_fix_it(served_auth: Access) -> None:
    for headers in ({}, {"X-API-Key": "ocr_not-a-key"}, {"Authorization": "Bearer ocr_not-a-key"},
                    {"Authorization": f"Basic {served_auth.keys['alice']}"}):  # fmt: skip
        for method, path in (("GET", "/v1/jobs"), ("GET", "/v1/jobs/x"), ("GET", "/v1/jobs/x/events"),
                             ("POST", "/v1/jobs"), ("DELETE", "/v1/jobs/x")):  # fmt: skip
            response = httpx.request(method, served_auth.url + path, headers=headers)
            assert response.status_code == 401, (headers, path, response.text)
            assert response.headers["www-authenticate"].startswith('Bearer realm="ocr"')
            assert response.json()["error"]["code"] == "unauthorized"
            assert HOW_TO in response.json()["error"]["message"]
    # Either header works
    key = served_auth.keys["alice"]
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}, {"authorization": f"bearer {key}"}):
        assert httpx.get(served_auth.url + "/v1/jobs", headers=headers).status_code == 200


def test_health_metrics_languages_and_the_form_stay_open(served_auth: Access) -> None:
    nobody = served_auth["nobody"]
    for path in ("/healthz", "/readyz", "/metrics", "/v1/languages", "/", "/static/app.js", "/static/app.css"):
        assert nobody.get(path).status_code == 200, path


def test_keys_cli_creates_lists_and_revokes_and_stores_only_a_hash(served_auth: Access) -> None:
    env = served_auth.env
    made = keys_cli(env, "create", "carol", "--rate-per-minute", "7", "--max-in-flight", "3")
    assert made.returncode == 0, made.stderr
    printed = dict(line.split(": ", 1) for line in made.stdout.splitlines() if ": " in line)
    key, secret = printed["api_key"], printed["webhook_secret"]
    assert key.startswith("ocr_") and len(key) > 40 and len(secret) > 40
    assert "shown again" in made.stderr

    again = keys_cli(env, "create", "carol")
    assert again.returncode == 1 and "exists already" in again.stderr

    listing = keys_cli(env, "list")
    assert listing.returncode == 0, listing.stderr
    line = next(row for row in listing.stdout.splitlines() if row.startswith("carol "))
    assert key[:12] + "..." in line and " 7 " in line and " 3 " in line
    assert key not in listing.stdout and secret not in listing.stdout
    assert any(row.startswith("root ") and " yes " in row for row in listing.stdout.splitlines())

    database = Path(env["OCR_DATA_DIR"]) / "jobs.sqlite3"
    with sqlite3.connect(database) as conn:
        stored = conn.execute("SELECT key_hash, prefix FROM ocr_api_keys WHERE name = 'carol'").fetchone()
        dump = "\n".join(conn.iterdump())
    import hashlib

    assert stored == (hashlib.sha256(key.encode()).hexdigest(), key[:12])
    assert key not in dump

    carol = httpx.Client(base_url=served_auth.url, headers={"X-API-Key": key})
    assert carol.get("/v1/jobs").status_code == 200
    revoked = keys_cli(env, "revoke", "carol")
    assert revoked.returncode == 0, revoked.stderr
    # Within OCR_KEY_CACHE_S (0.5 s here) the key stops working
    wait_for(lambda: carol.get("/v1/jobs").status_code == 401, 5, "the revoked key to be refused")
    # listed, with its revocation time; the data dir can be named instead of OCR_DATA_DIR, as for serve
    without = {k: v for k, v in env.items() if k != "OCR_DATA_DIR"}
    assert "carol" in keys_cli(without, "list", "--data-dir", env["OCR_DATA_DIR"]).stdout
    missing = keys_cli(env, "revoke", "nobody-by-that-name")
    assert missing.returncode == 1 and "no key named" in missing.stderr
    carol.close()


def test_over_the_rate_limit_is_429_with_retry_after(served_auth: Access) -> None:
    dora = served_auth.add_key("dora", "--rate-per-minute", "3")
    # Ten requests: even if a minute's window turns among them, one window holds more than three
    answers = [dora.get("/v1/jobs") for _ in range(10)]
    assert answers[0].status_code == 200
    limited = [a for a in answers if a.status_code == 429]
    assert limited and all(a.status_code in (200, 429) for a in answers)
    assert 1 <= int(limited[0].headers["retry-after"]) <= 60
    error = limited[0].json()["error"]
    assert error["code"] == "rate_limited" and error["details"] == {"limit": "rate_per_minute", "value": 3}
    assert "--rate-per-minute" in error["message"] and "OCR_RATE_LIMIT_PER_MINUTE" in error["message"]
    # Another key is not affected
    assert served_auth["bob"].get("/v1/jobs").status_code == 200


def test_jobs_in_flight_over_the_limit_are_429(queued_auth: Access) -> None:
    erin = queued_auth.add_key("erin", "--max-in-flight", "2")
    for _ in range(2):
        assert upload(erin, corpus_file("pyt_test.png")).status_code == 202
    refused = upload(erin, corpus_file("pyt_test.png"))
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["details"] == {"limit": "max_in_flight", "value": 2}
    assert "--max-in-flight" in refused.json()["error"]["message"]
    assert len(erin.get("/v1/jobs").json()["jobs"]) == 2  # nothing was stored for the refused one
    # Deleting one makes room
    first = erin.get("/v1/jobs").json()["jobs"][0]["id"]
    assert erin.delete(f"/v1/jobs/{first}").status_code == 204
    assert upload(erin, corpus_file("pyt_test.png")).status_code == 202


def test_concurrent_uploads_cannot_pass_the_in_flight_limit_together(queued_auth: Access) -> None:
    """The check and the insert were apart: with a limit of 2, four uploads at once were all accepted."""
    from concurrent.futures import ThreadPoolExecutor

    frank = queued_auth.add_key("frank", "--max-in-flight", "2")
    data = corpus_file("pyt_test.png").read_bytes()
    headers = dict(frank.headers)

    def one(_: int) -> int:
        with httpx.Client(base_url=queued_auth.url, timeout=60, headers=headers) as client:
            return client.post("/v1/jobs", files={"file": ("a.png", data, "image/png")}).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(one, range(8)))
    assert codes == [202, 202] + [429] * 6, codes
    assert len(frank.get("/v1/jobs").json()["jobs"]) == 2


def _start_api(tmp_path: Path, host: str, **env: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocr_api.cli", "api", "--host", host, "--port", str(port)],
        env=base_env(tmp_path, **env), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    return proc, f"http://127.0.0.1:{port}"


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    return out


def test_a_non_loopback_bind_requires_keys_unless_auth_is_off_explicitly(tmp_path: Path) -> None:
    proc, url = _start_api(tmp_path / "a", "0.0.0.0")
    try:
        wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, 30, "the API")
        assert httpx.get(url + "/v1/jobs").status_code == 401
    finally:
        _stop(proc)

    proc, url = _start_api(tmp_path / "b", "0.0.0.0", OCR_AUTH="off")
    try:
        wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, 30, "the API")
        assert httpx.get(url + "/v1/jobs").status_code == 200
    finally:
        assert "WARNING: OCR_AUTH=off on 0.0.0.0" in _stop(proc)

    # On loopback keys can be required too
    proc, url = _start_api(tmp_path / "c", "127.0.0.1", OCR_AUTH="required")
    try:
        wait_for(lambda: httpx.get(url + "/healthz").status_code == 200, 30, "the API")
        assert httpx.get(url + "/v1/jobs").status_code == 401
    finally:
        _stop(proc)


def test_an_unknown_auth_mode_refuses_to_start(tmp_path: Path) -> None:
    proc, _ = _start_api(tmp_path, "0.0.0.0", OCR_AUTH="maybe")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "OCR_AUTH: required or off" in out, out
    # The same with the host from OCR_HOST rather than --host
    env = base_env(tmp_path, OCR_AUTH="maybe", OCR_HOST="0.0.0.0")
    done = subprocess.run([sys.executable, "-m", "ocr_api.cli", "api"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert done.returncode == 1 and "OCR_AUTH: required or off" in done.stderr, done.stderr


def test_a_key_made_while_the_api_runs_works_at_once(queued_auth: Access) -> None:
    key = make_key(queued_auth.env, f"late-{time.monotonic_ns()}")
    assert httpx.get(queued_auth.url + "/v1/jobs", headers={"X-API-Key": key}).status_code == 200
