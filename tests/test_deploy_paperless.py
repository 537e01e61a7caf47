"""deploy/paperless/docker-compose.yml (paperless-ngx with this service as its remote OCR engine): the file
docs/integrations.md shows, wired as paperless-ngx reads its settings, with a real command of the image."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.support import REPO
from tests.test_deploy_files import SETTINGS_FIELDS, cli_help

COMPOSE_FILE = REPO / "deploy" / "paperless" / "docker-compose.yml"
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
# The settings paperless-ngx's remote OCR parser reads (paperless-ngx src/paperless/settings/__init__.py:
# REMOTE_OCR_ENGINE, REMOTE_OCR_API_KEY, REMOTE_OCR_ENDPOINT from these variables).
PAPERLESS_REMOTE_OCR = {"PAPERLESS_REMOTE_OCR_ENGINE", "PAPERLESS_REMOTE_OCR_API_KEY", "PAPERLESS_REMOTE_OCR_ENDPOINT"}


def test_the_docs_show_this_very_file() -> None:
    docs = (REPO / "docs" / "integrations.md").read_text()
    assert f"```yaml\n{COMPOSE_FILE.read_text()}```" in docs


def test_paperless_reaches_the_ocr_service_with_a_key() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"ocr", "broker", "webserver"}
    ocr, paperless = services["ocr"], services["webserver"]
    env = paperless["environment"]
    assert set(env) >= PAPERLESS_REMOTE_OCR
    assert env["PAPERLESS_REMOTE_OCR_ENGINE"] == "azureai"
    command = ocr["command"]
    port = command[command.index("--port") + 1]
    # The SDK appends /documentintelligence itself: the endpoint is the service's base URL, no path.
    assert env["PAPERLESS_REMOTE_OCR_ENDPOINT"] == f"http://ocr:{port}"
    assert env["PAPERLESS_REMOTE_OCR_API_KEY"].startswith("${OCR_API_KEY:?")
    assert env["PAPERLESS_REDIS"] == "redis://broker:6379" and "ocr" in paperless["depends_on"]
    assert ocr["environment"]["OCR_AUTH"] == "required" and "ports" not in ocr, "only paperless reaches it"
    assert paperless["ports"] == ["8000:8000"]


def test_the_ocr_service_runs_real_commands_and_settings() -> None:
    ocr = COMPOSE["services"]["ocr"]
    assert ocr["command"][:2] == ["ocr-service", "serve"]
    out = cli_help("serve")
    assert all(flag in out.stdout for flag in ocr["command"][2:] if flag.startswith("--"))
    assert set(ocr["environment"]) <= SETTINGS_FIELDS
    assert ocr["build"]["context"] == "../.." and (COMPOSE_FILE.parent / "../../Dockerfile").resolve().exists()
    header = COMPOSE_FILE.read_text().split("services:")[0]
    keys = re.search(r"run --rm ocr (ocr-service keys create \w+ --data-dir /data)", header)
    assert keys, "the file says how to make paperless-ngx's key"
    assert "--data-dir" in cli_help("keys", "create").stdout
