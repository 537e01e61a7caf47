"""The form at / in real headless Chromium (Debian's chromium and chromium-driver; nothing downloads a
browser): drop two scans, watch them finish, compare the preview with the ground truth, fetch every download
link and the "Download all" archive of the two; a file that is not an image shows the service's own 415
message; recent jobs survive a reload."""

from __future__ import annotations

import base64
import io
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from ocr_client.options import JobOptions
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from bench.scoring import cer
from tests.clients.conftest import Served
from tests.support import corpus_file, ground_truth

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")  # fmt: skip
DROPPED = ("tess_HelloGoogle.tif", "pyt_test.png")
DESKTOP, PHONE = (1280, 1400), (390, 1600)

DROP_FILES = """
const [names, contents] = arguments;
const transfer = new DataTransfer();
names.forEach((name, i) => {
  const bytes = Uint8Array.from(atob(contents[i]), (c) => c.charCodeAt(0));
  transfer.items.add(new File([bytes], name));
});
const zone = document.getElementById("drop-zone");
zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
"""

UNLABELLED = """
const named = (el) => el.getAttribute("aria-label") || (el.id && document.querySelector(`label[for="${el.id}"]`))
  || el.closest("label") || (el.tagName === "BUTTON" && el.textContent.trim());
return [...document.querySelectorAll("input, button, progress, select, textarea")].filter((el) => !named(el))
  .map((el) => el.outerHTML);
"""


def start_chromium(profile: Path, *arguments: str, capabilities: dict[str, object] | None = None) -> WebDriver:
    """Debian's headless Chromium through its chromedriver, with a fresh profile and these extra arguments."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are missing: scripts/install.sh --test installs them")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", *arguments):
        options.add_argument(flag)
    for name, value in (capabilities or {}).items():
        options.set_capability(name, value)
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"), f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, timeout: float = 120) -> WebDriverWait:  # type: ignore[type-arg]
    return WebDriverWait(driver, timeout, poll_frequency=0.2)


def test_dropped_files_are_read_and_downloadable(browser: WebDriver, served: Served, test_output: Path) -> None:
    browser.get(f"{served.url}/")
    assert browser.execute_script(UNLABELLED) == [], "every control has a label screen readers can read"
    browser.find_element(By.ID, "formats-pdf").click()
    contents = [base64.b64encode(corpus_file(name).read_bytes()).decode() for name in DROPPED]
    browser.execute_script(DROP_FILES, list(DROPPED), contents)
    chosen = browser.find_element(By.ID, "chosen").text
    assert all(name in chosen for name in DROPPED), chosen
    browser.find_element(By.ID, "submit").click()

    def all_finished(driver: WebDriver) -> bool:
        items = driver.find_elements(By.CSS_SELECTOR, "#uploads .job")
        return len(items) == 2 and all(
            i.get_attribute("data-state") in ("succeeded", "failed") and i.get_attribute("data-text") == "complete"
            for i in items
        )

    wait(browser).until(all_finished)
    screenshots = test_output / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(screenshots / "form-desktop.png"))

    items = browser.find_elements(By.CSS_SELECTOR, "#uploads .job")
    with httpx.Client(timeout=30) as http:
        for item in items:
            name = item.find_element(By.CLASS_NAME, "job-name").text
            assert item.get_attribute("data-state") == "succeeded", item.text
            upload_bar, pages_bar = item.find_elements(By.TAG_NAME, "progress")
            assert upload_bar.get_attribute("value") == "100"
            assert pages_bar.get_attribute("value") == pages_bar.get_attribute("max") == "1", "pages from /events"
            preview = item.find_element(By.CLASS_NAME, "text").text
            assert cer(ground_truth(name), preview) < 0.05, (name, preview)
            links = item.find_elements(By.CSS_SELECTOR, ".links a")
            assert sorted(a.get_attribute("data-format") for a in links) == ["pdf", "txt"]
            for link in links:
                response = http.get(link.get_attribute("href") or "")
                assert response.status_code == 200, response.text
                if link.get_attribute("data-format") == "pdf":
                    assert response.content.startswith(b"%PDF-")
                else:
                    assert cer(ground_truth(name), response.text) < 0.05

    # The files dropped together are one batch: "Download all" is its results.zip, each file under its name.
    link = wait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#groups .group[data-state=ready] a.download-all")
    )[0]
    archive = httpx.get(link.get_attribute("href") or "", timeout=30)
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip", archive.text
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        stems = [name.rsplit(".", 1)[0] for name in DROPPED]
        assert sorted(zipped.namelist()) == sorted(
            [*(f"{s}.{f}" for s in stems for f in ("txt", "pdf")), "manifest.json"]
        )
        for name, stem in zip(DROPPED, stems, strict=True):
            assert cer(ground_truth(name), zipped.read(f"{stem}.txt").decode()) < 0.05

    browser.set_window_size(*PHONE)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), (
        "no sideways scrolling at phone width"
    )
    browser.save_screenshot(str(screenshots / "form-phone.png"))
    browser.execute_script("document.getElementById('uploads').scrollIntoView()")
    browser.save_screenshot(str(screenshots / "form-phone-results.png"))
    browser.set_window_size(*DESKTOP)

    # Recent jobs come back after a reload, with their status and links read from the service.
    job_ids = {item.get_attribute("data-job-id") for item in items}
    browser.refresh()

    def recent_loaded(driver: WebDriver) -> bool:
        rows = driver.find_elements(By.CSS_SELECTOR, "#recent li[data-job-id]")
        return job_ids <= {
            r.get_attribute("data-job-id") for r in rows if "succeeded" in r.text and r.find_elements(By.TAG_NAME, "a")
        }

    wait(browser, 30).until(recent_loaded)


def test_an_unsupported_file_shows_the_service_message(browser: WebDriver, served: Served, tmp_path: Path) -> None:
    notes = tmp_path / "notes.png"  # the name says image; the service reads the bytes
    notes.write_text("not an image at all\n")
    browser.get(f"{served.url}/")
    browser.find_element(By.ID, "files").send_keys(str(notes))
    browser.find_element(By.ID, "submit").click()
    wait(browser, 30).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#uploads .job").get_attribute("data-state") == "failed"
    )
    error = browser.find_element(By.CSS_SELECTOR, "#uploads .job .error").text
    assert error.startswith("415: ") and "not a supported file" in error, error


def test_the_page_and_its_assets_work_under_a_root_path(tmp_path: Path) -> None:
    """Behind a proxy serving the API under /ocr: every URL in the page carries the prefix."""
    from tests.support import api_process, base_env

    env = base_env(tmp_path, OCR_ROOT_PATH="/ocr")
    with api_process(env) as client:
        page = client.get("/ocr/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert 'data-api="/ocr/v1"' in html and 'action="/ocr/v1/jobs"' in html
        for asset in ("app.js", "app.css"):
            assert f'"/ocr/static/{asset}?v=' in html
            assert client.get(f"/ocr/static/{asset}").status_code == 200
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), "no inline script"
        assert not re.search(r"\son[a-z]+\s*=", html), "no inline event handlers"


def test_the_assets_ship_in_the_package() -> None:
    """setuptools package-data carries the page's template and files (no build step, nothing from a CDN)."""
    from ocr_api.routes import ui

    for path in (ui.PACKAGE / "templates" / "index.html", ui.STATIC_DIR / "app.js", ui.STATIC_DIR / "app.css"):
        text = path.read_text()
        assert "http://" not in text and "https://" not in text, f"{path.name} loads nothing from elsewhere"
    assert shutil.which("chromium") or Path(CHROMIUM).exists()


def _submit_file(browser: WebDriver, path: Path) -> WebElement:
    """Chooses one file, submits, and returns its entry once it has failed or succeeded."""
    before = len(browser.find_elements(By.CSS_SELECTOR, "#uploads .job"))
    browser.find_element(By.ID, "files").send_keys(str(path))
    browser.find_element(By.ID, "submit").click()
    wait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uploads .job")) == before + 1)
    item = browser.find_element(By.CSS_SELECTOR, "#uploads .job")  # the newest comes first
    wait(browser, 60).until(lambda _: item.get_attribute("data-state") in ("failed", "succeeded"))
    return item


def test_413_and_422_show_the_service_message(browser: WebDriver, tmp_path: Path) -> None:
    from tests.support import api_process, base_env

    with api_process(base_env(tmp_path, OCR_MAX_UPLOAD_MB="1")) as client:
        browser.get(str(client.base_url))  # httpx keeps it with its trailing slash: the page at /
        big = tmp_path / "big.png"
        big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(2 * 1024 * 1024))
        error = _submit_file(browser, big).find_element(By.CLASS_NAME, "error").text
        assert error.startswith("413: upload larger than the limit of 1 MiB"), error

        browser.execute_script("document.getElementById('lang-eng').value = 'xyz'")  # uninstalled since
        error = _submit_file(browser, corpus_file("tess_HelloGoogle.tif")).find_element(By.CLASS_NAME, "error").text
        assert error.startswith("422: ") and "xyz" in error, error


def test_a_failed_job_shows_its_reason(browser: WebDriver, served: Served, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.png"  # a whole PNG header, then the picture cut off
    damaged.write_bytes(corpus_file("pyt_test.png").read_bytes()[:300])
    browser.get(f"{served.url}/")
    item = _submit_file(browser, damaged)
    error = item.find_element(By.CLASS_NAME, "error").text
    assert item.get_attribute("data-state") == "failed" and error.startswith("The job failed: "), error
    job = httpx.get(f"{served.url}/v1/jobs/{item.get_attribute('data-job-id')}").json()
    assert job["error"]["message"] in error


def test_the_form_sends_every_switch_as_set(browser: WebDriver, served: Served) -> None:
    """Every switch of JobOptions goes as a form field, on or off as the user left it: flipped all (but
    redo_ocr, which skip_text on excludes), the job records each one flipped."""
    browser.get(f"{served.url}/")
    defaults = {name: on for name, on in JobOptions.switch_defaults().items() if name != "redo_ocr"}
    for name in defaults:
        browser.find_element(By.ID, f"switch-{name}").click()
    item = _submit_file(browser, corpus_file("tess_HelloGoogle.tif"))
    job = httpx.get(f"{served.url}/v1/jobs/{item.get_attribute('data-job-id')}").json()
    assert job["options"] == {name: not on for name, on in defaults.items()} | {"redo_ocr": False}
