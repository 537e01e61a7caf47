"""The form in real headless Chromium with API keys required: it asks for the key once, keeps it in the
browser, and every request (upload, progress stream, text stream, downloads, recent jobs) sends it."""

from __future__ import annotations

import base64

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from bench.scoring import cer
from tests.access.conftest import Access
from tests.clients.test_browser_form import DROP_FILES, browser, wait  # noqa: F401 - browser is a fixture
from tests.support import corpus_file, ground_truth

SCAN = "pyt_test.png"


def test_the_form_asks_for_a_key_once_and_sends_it_everywhere(browser: WebDriver, served_auth: Access) -> None:  # noqa: F811
    browser.get(f"{served_auth.url}/")
    wait(browser, 30).until(lambda d: d.find_element(By.ID, "key-box").is_displayed())
    browser.find_element(By.ID, "api-key").send_keys(served_auth.keys["alice"])
    browser.find_element(By.ID, "save-key").click()
    wait(browser, 10).until(lambda d: not d.find_element(By.ID, "key-box").is_displayed())
    assert browser.execute_script("return localStorage.getItem('ocr.apiKey')") == served_auth.keys["alice"]

    browser.find_element(By.ID, "formats-pdf").click()
    content = base64.b64encode(corpus_file(SCAN).read_bytes()).decode()
    browser.execute_script(DROP_FILES, [SCAN], [content])
    browser.find_element(By.ID, "submit").click()

    def finished(driver: WebDriver) -> bool:
        items = driver.find_elements(By.CSS_SELECTOR, "#uploads .job")
        return (
            len(items) == 1
            and items[0].get_attribute("data-state") in ("succeeded", "failed")
            and (items[0].get_attribute("data-text") == "complete")
        )

    wait(browser).until(finished)
    item = browser.find_element(By.CSS_SELECTOR, "#uploads .job")
    assert item.get_attribute("data-state") == "succeeded", item.text
    pages_bar = item.find_elements(By.TAG_NAME, "progress")[1]
    assert pages_bar.get_attribute("value") == "1", "pages from the event stream, read with the key"
    assert cer(ground_truth(SCAN), item.find_element(By.CLASS_NAME, "text").text) < 0.05
    job_id = item.get_attribute("data-job-id")
    assert served_auth["alice"].get(f"/v1/jobs/{job_id}").status_code == 200
    assert served_auth["bob"].get(f"/v1/jobs/{job_id}").status_code == 404, "the job is the key's own"

    for link in item.find_elements(By.CSS_SELECTOR, ".links a"):
        link.click()  # fetched with the key, then saved
        wait(browser, 30).until(lambda _, link=link: (link.get_attribute("data-download") or "").startswith("saved"))
        size = int((link.get_attribute("data-download") or "").split()[1])
        fmt = link.get_attribute("data-format")
        assert size == len(served_auth["alice"].get(f"/v1/jobs/{job_id}/result.{fmt}").content)

    # After a reload the stored key reads the recent jobs; forgetting it brings the question back
    browser.refresh()
    wait(browser, 30).until(
        lambda d: any(
            "succeeded" in r.text and r.find_elements(By.TAG_NAME, "a")
            for r in d.find_elements(By.CSS_SELECTOR, f"#recent li[data-job-id='{job_id}']")
        )
    )
    assert not browser.find_element(By.ID, "key-box").is_displayed()
    browser.find_element(By.ID, "forget-key").click()
    wait(browser, 30).until(lambda d: d.find_element(By.ID, "key-box").is_displayed())
    assert browser.execute_script("return localStorage.getItem('ocr.apiKey')") is None
