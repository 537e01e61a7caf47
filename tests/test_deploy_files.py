"""There is no Docker engine here: check what can be checked of the Dockerfile and the compose file."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import yaml

from ocr_api.app import create_app
from ocr_api.settings import ApiSettings
from ocr_telemetry.settings import TelemetrySettings
from storage.settings import StorageSettings
from tests.support import REPO
from workers.ocr.settings import OcrSettings
from workers.settings import WorkerSettings

DOCKERFILE = (REPO / "Dockerfile").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SETTINGS_CLASSES = (ApiSettings, StorageSettings, WorkerSettings, OcrSettings, TelemetrySettings)
SETTINGS_FIELDS = {f"OCR_{name.upper()}" for cls in SETTINGS_CLASSES for name in cls.model_fields}


def cli_help(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocr_api.cli", *args, "--help"], capture_output=True, text=True)


BUILD_ARGS = set(re.findall(r"^ARG (\w+)", DOCKERFILE, re.M))


def test_every_ocr_variable_in_the_deploy_files_is_a_setting() -> None:
    text = DOCKERFILE + (REPO / "docker-compose.yml").read_text() + (REPO / ".env.example").read_text()
    names = set(re.findall(r"\bOCR_[A-Z0-9_]+", text)) - BUILD_ARGS
    assert names, "the deploy files configure the service through OCR_ variables"
    assert names <= SETTINGS_FIELDS, f"unknown settings: {sorted(names - SETTINGS_FIELDS)}"


def test_compose_commands_are_real_subcommands() -> None:
    for name in ("api", "worker", "migrate"):
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


def image_packages() -> set[str]:
    """The Debian packages the final stage installs with the default OCR_LANGS."""
    langs = re.search(r'^ARG OCR_LANGS="([^"]*)"', DOCKERFILE, re.M)
    assert langs, "the languages are a build argument"
    assert 'tesseract-ocr-$lang"; done' in DOCKERFILE
    return {"tesseract-ocr", "tesseract-ocr-osd", "redis-server", *(f"tesseract-ocr-{x}" for x in langs[1].split())}


def test_image_installs_the_same_system_packages_as_the_install_script() -> None:
    script = (REPO / "scripts" / "install.sh").read_text()
    packages = image_packages()
    assert {"tesseract-ocr-frk", "tesseract-ocr-script-frak", "tesseract-ocr-eng"} <= packages
    for package in re.findall(r"\b(tesseract-ocr-[a-z_-]+|redis-server)\b", script):
        assert package in packages, f"{package}: installed by scripts/install.sh, not in the image"
    assert COMPOSE["services"]["migrate"]["build"]["args"]["OCR_LANGS"].endswith(
        re.search(r'^ARG OCR_LANGS="([^"]*)"', DOCKERFILE, re.M)[1] + "}"  # type: ignore[index]
    )
    for package_dir in installed_package_dirs():
        top = package_dir.split("/")[0]
        assert f"COPY {top} ./{top}" in DOCKERFILE, f"{package_dir}: installed by pyproject.toml, not copied"
    assert "COPY pyproject.toml" in DOCKERFILE


def test_image_and_install_script_install_the_best_models_with_a_real_command() -> None:
    """Both fetch tessdata_best as root, before the image drops to its user, into the venv's model directory
    that the workers read (tests/workers/ocr/test_models.py checks the command itself)."""
    final = DOCKERFILE.split("\nFROM ")[-1]
    run = final.index("RUN ocr-service models install")
    assert final.index("COPY --from=build /opt/venv /opt/venv") < run < final.index("\nUSER ")
    assert ".venv/bin/ocr-service models install" in (REPO / "scripts" / "install.sh").read_text()
    out = cli_help("models", "install")
    assert out.returncode == 0 and "LANG" in out.stdout, out.stderr


def installed_package_dirs() -> list[str]:
    """The folders of the top-level packages pyproject.toml installs, relative to the repository."""
    import tomllib

    find = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    tops = [pattern.rstrip("*") for pattern in find["include"]]
    dirs = []
    for top in tops:
        found = [
            f"{where}/{top}".removeprefix("./")
            for where in find["where"]
            if (REPO / where / top / "__init__.py").exists()
        ]
        assert len(found) == 1, f"package {top}: found in {found} of {find['where']}"
        dirs += found
    assert {"ocr_api", "workers", "storage", "client/ocr_client"} <= set(dirs)
    return dirs


def test_image_is_multi_stage_pinned_non_root_and_single_threaded() -> None:
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", DOCKERFILE, re.M)
    assert len(stages) == 2 and stages[0][1] == "build"
    final = DOCKERFILE.split("\nFROM ")[-1]
    assert "COPY --from=build /opt/venv /opt/venv" in final and "g++" not in final, "no compiler in the image"
    assert "pip install --constraint requirements.lock ." in DOCKERFILE
    assert "--constraint requirements.lock" in (REPO / "scripts" / "install.sh").read_text(), "tests use the lock"
    assert re.search(r"^USER (?!root|0)\w+", final, re.M)
    assert "OMP_THREAD_LIMIT=1" in final and "HEALTHCHECK" in final


def test_the_lock_pins_every_dependency() -> None:
    import tomllib

    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            lock[re.sub(r"[-_.]+", "-", name).lower()] = version
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        name = re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~ ]", requirement)[0]).lower()
        assert name in lock, f"{name} is not in requirements.lock: run scripts/lock.sh"


def test_compose_migrates_once_before_api_and_workers() -> None:
    services = COMPOSE["services"]
    assert services["migrate"]["command"] == ["ocr-service", "migrate"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["environment"]["OCR_AUTO_MIGRATE"] == "false"
    from storage.settings import StorageSettings as Storage

    assert Storage.model_fields["auto_migrate"].default is True, "serve migrates by default"


def test_compose_monitoring_profile_and_worker_limits() -> None:
    services = COMPOSE["services"]
    for name in ("flower", "prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    for name in ("api", "worker", "migrate", "redis", "postgres"):
        assert "profiles" not in services[name]
    limits = services["worker"]["deploy"]["resources"]["limits"]
    assert limits["cpus"] and limits["memory"]
    for service in services.values():
        for volume in service.get("volumes", []):
            if volume.startswith("./"):
                assert (REPO / volume.split(":")[0]).exists(), volume


def test_env_example_names_exactly_the_compose_variables() -> None:
    compose_vars = set(re.findall(r"\$\{(\w+)", (REPO / "docker-compose.yml").read_text()))
    example = (REPO / ".env.example").read_text()
    example_vars = set(re.findall(r"^(\w+)=", example, re.M))
    assert compose_vars == example_vars


def test_prometheus_scrapes_the_ports_that_serve_metrics() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in config["scrape_configs"]}
    services = COMPOSE["services"]
    assert jobs["ocr-api"]["names"] == ["api"] and str(jobs["ocr-api"]["port"]) == "8000"
    assert jobs["ocr-worker"]["names"] == ["worker"]
    assert str(jobs["ocr-worker"]["port"]) == services["worker"]["environment"]["OCR_WORKER_METRICS_PORT"]
    assert "/metrics" in create_app().openapi()["paths"]
    yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())


def metric_series_names() -> set[str]:
    from prometheus_client import Counter, Histogram

    from ocr_api import metrics as api_metrics
    from workers import metrics as worker_metrics

    names = {api_metrics.QUEUE_MESSAGES, api_metrics.JOBS}
    for module in (api_metrics, worker_metrics):
        for value in vars(module).values():
            if isinstance(value, Counter):
                names.add(value._name + "_total")
            elif isinstance(value, Histogram):
                names.update(value._name + suffix for suffix in ("_bucket", "_count", "_sum"))
    return names


def test_dashboard_and_alerts_use_only_metrics_that_exist() -> None:
    import json

    known = metric_series_names()
    assert all(name.startswith("ocr_") for name in known)
    dashboard = json.loads((REPO / "deploy" / "grafana" / "dashboards" / "ocr-service.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    alerts = (REPO / "deploy" / "prometheus" / "alerts.yml").read_text()
    used = set(re.findall(r"\bocr_[a-z_]+", exprs + alerts))
    assert used <= known, sorted(used - known)
    families = {re.sub(r"_(bucket|count|sum)$", "", name) for name in known}
    on_dashboard = {re.sub(r"_(bucket|count|sum)$", "", name) for name in re.findall(r"\bocr_[a-z_]+", exprs)}
    assert families <= on_dashboard, f"not on the dashboard: {sorted(families - on_dashboard)}"
