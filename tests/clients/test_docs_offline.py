"""/docs and /redoc offline, in real headless Chromium with the network cut (every host but loopback goes to a
proxy that refuses): Swagger UI lists `POST /v1/jobs`, ReDoc its operations; every request the pages made (the
performance log) went to the service, and none was refused by their Content-Security-Policy."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver

from tests.clients.conftest import Served
from tests.clients.test_browser_form import start_chromium, wait
from tests.support import api_process, base_env, free_port

SWAGGER_OPERATIONS = """
return [...document.querySelectorAll('.opblock')].map((op) => {
  const method = op.querySelector('.opblock-summary-method');
  const path = op.querySelector('.opblock-summary-path');
  return method && path ? `${method.textContent.trim()} ${path.textContent.trim()}` : '';
});
"""
REDOC_MENU = """
return [...document.querySelectorAll('li[data-item-id] > label')].map((e) => e.textContent.trim()).join(' | ');
"""
# ReDoc's side menu always shows Redocly's logo from its CDN (redoc.standalone.js, no option turns it off); the
# page's CSP blocks it before any request leaves, and the image hides itself on the error.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.fixture(scope="module")
def offline_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """Chromium that can reach loopback only: other names do not resolve, and every request but loopback's
    goes to a proxy port nobody listens on. Its performance log records each request it makes."""
    driver = start_chromium(
        tmp_path_factory.mktemp("chromium-offline"),
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{free_port()}",
        "--proxy-bypass-list=<-loopback>;127.0.0.1",
        capabilities={"goog:loggingPrefs": {"performance": "ALL", "browser": "ALL"}},
    )
    try:
        yield driver
    finally:
        driver.quit()


def requests_made(driver: WebDriver) -> dict[str, str | None]:
    """Each URL the page asked for since the last call (the log is drained), and why the browser blocked it
    before sending (`csp`, ...), or None when it went out."""
    urls: dict[str, str] = {}
    blocked: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFailed" and params.get("blockedReason"):
            blocked[params["requestId"]] = params["blockedReason"]
    return {url: blocked.get(request_id) for request_id, url in urls.items()}


def console_problems(driver: WebDriver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" or "Security" in e["message"]]


def assert_only_the_service(requests: dict[str, str | None], base: str, blocked_by_csp: tuple[str, ...] = ()) -> None:
    """Every request that left the browser went to the service; the only others are these, blocked by the CSP."""
    sent_elsewhere = [
        u for u, why in requests.items() if why is None and not u.startswith((base + "/", "data:", "blob:"))
    ]
    assert requests and not sent_elsewhere, f"requests to elsewhere: {sent_elsewhere}"
    stopped = sorted(u for u, why in requests.items() if why is not None)
    assert stopped == sorted(blocked_by_csp) and all(requests[u] == "csp" for u in stopped), requests


def test_the_network_is_really_cut(offline_browser: WebDriver) -> None:
    """The browser of these tests reaches nothing but loopback (so a page loading a CDN would break)."""
    with pytest.raises(WebDriverException, match=r"ERR_PROXY_CONNECTION_FAILED|ERR_NAME_NOT_RESOLVED"):
        offline_browser.get("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")
    requests_made(offline_browser)
    offline_browser.get_log("browser")


def test_swagger_ui_renders_offline(offline_browser: WebDriver, served: Served) -> None:
    offline_browser.get(f"{served.url}/docs")
    wait(offline_browser, 30).until(lambda d: "POST /v1/jobs" in d.execute_script(SWAGGER_OPERATIONS))
    operations = offline_browser.execute_script(SWAGGER_OPERATIONS)
    for operation in ("GET /v1/jobs/{job_id}", "GET /v1/languages", "POST /v1/batches"):
        assert operation in operations, operations
    requests = requests_made(offline_browser)
    assert f"{served.url}/static/docs/swagger-ui-bundle.js" in requests and f"{served.url}/openapi.json" in requests
    assert_only_the_service(requests, served.url)
    assert console_problems(offline_browser) == []


def test_redoc_renders_offline(offline_browser: WebDriver, served: Served) -> None:
    offline_browser.get(f"{served.url}/redoc")
    wait(offline_browser, 60).until(lambda d: "Upload a file for OCR" in d.execute_script(REDOC_MENU))
    menu = offline_browser.execute_script(REDOC_MENU)
    assert "Job status" in menu and "Installed Tesseract languages" in menu, menu
    requests = requests_made(offline_browser)
    assert f"{served.url}/static/docs/redoc.standalone.js" in requests
    assert_only_the_service(requests, served.url, blocked_by_csp=(REDOC_LOGO,))
    problems = console_problems(offline_browser)
    assert all(REDOC_LOGO in p and "Content Security Policy" in p for p in problems), problems


def test_docs_pages_name_only_local_files_and_answer_head(tmp_path: Path) -> None:
    """Under a root path (a proxy's prefix) too; HEAD where GET is, for the pages, the schema and /metrics."""
    with api_process(base_env(tmp_path, OCR_ROOT_PATH="/ocr")) as client:
        for page in ("/ocr/docs", "/ocr/redoc"):
            response = client.get(page)
            assert response.status_code == 200, response.text
            assert not re.search(r"https?://", response.text), f"{page} names another host"
            urls = re.findall(r'(?:src|href|url)\s*[=:]\s*["\']([^"\']+)', response.text)
            assert urls and all(u.startswith("/ocr/") for u in urls), urls
            policy = response.headers["content-security-policy"]
            # Swagger UI's page starts it with one inline script, allowed by its hash; ReDoc's has none
            allowed = "script-src 'self' 'sha256-" if page.endswith("/docs") else "script-src 'self';"
            assert allowed in policy and "http" not in policy, policy
            for url in urls:
                assert client.get(url).status_code == 200, url
        for path in ("/ocr/docs", "/ocr/redoc", "/ocr/openapi.json", "/ocr/metrics", "/ocr/static/docs/swagger-ui.css"):
            head = client.head(path)
            assert head.status_code == 200 and head.content == b"", (path, head.status_code)
            assert head.headers["content-type"] == client.get(path).headers["content-type"]


def test_the_docs_files_come_from_the_package() -> None:
    """The files are the package's (no copy in this repository); NOTICE names their licences."""
    from ocr_api.routes import docs
    from tests.support import REPO

    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"):
        assert (docs.ASSETS_DIR / name).is_file(), name
    notice = (REPO / "NOTICE").read_text()
    assert "fastapi-offline" in notice and "Swagger UI" in notice and "ReDoc" in notice
