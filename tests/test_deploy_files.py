"""There is no Docker engine here: check what can be checked of the Dockerfile and the compose file."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from ocr_api.app import create_app
from ocr_api.settings import ApiSettings
from ocr_telemetry.settings import TelemetrySettings
from storage.settings import StorageSettings
from tests.support import REPO
from workers.settings import WorkerSettings

DOCKERFILE = (REPO / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SETTINGS_CLASSES = (ApiSettings, StorageSettings, WorkerSettings, TelemetrySettings)
SETTINGS_FIELDS = {f"OCR_{name.upper()}" for cls in SETTINGS_CLASSES for name in cls.model_fields}


def cli_help(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocr_api.cli", *args, "--help"], capture_output=True, text=True)


def test_every_ocr_variable_in_the_deploy_files_is_a_setting() -> None:
    names = set(re.findall(r"\bOCR_[A-Z0-9_]+", DOCKERFILE + (REPO / "docker-compose.yml").read_text()))
    assert names, "the deploy files configure the service through OCR_ variables"
    assert names <= SETTINGS_FIELDS, f"unknown settings: {sorted(names - SETTINGS_FIELDS)}"


def test_compose_commands_are_real_subcommands() -> None:
    for name in ("api", "worker"):
        command = COMPOSE["services"][name]["command"]
        assert command[0] == "ocr-service"
        out = cli_help(command[1])
        assert out.returncode == 0, out.stderr
        for flag in (a for a in command[2:] if a.startswith("--")):
            assert flag in out.stdout, f"{name}: {flag} is not an option of 'ocr-service {command[1]}'"


def test_dockerfile_default_command_and_healthcheck() -> None:
    cmd = re.search(r"^CMD \[(.*)\]$", DOCKERFILE, re.M)
    assert cmd
    args = [a.strip().strip('"') for a in cmd.group(1).split(",")]
    assert args[:2] == ["ocr-service", "serve"]
    out = cli_help("serve")
    assert all(flag in out.stdout for flag in args[2:] if flag.startswith("--"))
    paths = create_app().openapi()["paths"]
    assert "/healthz" in paths and "/healthz" in DOCKERFILE


def test_ports_match_the_settings() -> None:
    default_port = ApiSettings.model_fields["port"].default
    assert f"EXPOSE {default_port}" in DOCKERFILE
    assert f"OCR_PORT={default_port}" in DOCKERFILE
    api = COMPOSE["services"]["api"]
    published = api["ports"][0].split(":")
    assert published[-1] == api["command"][api["command"].index("--port") + 1] == str(default_port)


def test_workers_can_be_scaled() -> None:
    worker = COMPOSE["services"]["worker"]
    assert "ports" not in worker and "container_name" not in worker, "--scale worker=N needs neither"


def test_compose_wires_redis_postgres_and_minio() -> None:
    services = COMPOSE["services"]
    env = services["worker"]["environment"]
    assert env["OCR_BROKER_URL"].startswith("redis://redis:")
    assert env["OCR_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:" in env["OCR_DATABASE_URL"]
    assert env["OCR_STORAGE"] == "s3" and env["OCR_S3_ENDPOINT_URL"].startswith("http://minio:")
    assert services["api"]["environment"]["OCR_S3_BUCKET"] == env["OCR_S3_BUCKET"]
    init = " ".join(services["minio-init"]["command"])
    assert f"local/{env['OCR_S3_BUCKET']}" in init, "the bucket is created at start"
    assert services["minio"]["environment"]["MINIO_ROOT_USER"] == env["AWS_ACCESS_KEY_ID"]


def test_image_installs_the_same_system_packages_as_the_install_script() -> None:
    script = (REPO / "scripts" / "install.sh").read_text()
    for package in (
        "tesseract-ocr-eng",
        "tesseract-ocr-osd",
        "tesseract-ocr-deu",
        "tesseract-ocr-fra",
        "redis-server",
    ):
        assert package in script and package in DOCKERFILE
    for package_dir in ("ocr_api", "workers", "storage"):
        assert f"COPY {package_dir} " in DOCKERFILE
        assert (REPO / package_dir / "__init__.py").exists()
    assert Path(REPO / "pyproject.toml").exists()
