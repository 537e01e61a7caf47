"""The client is a distribution of its own: a fresh venv with only ./client installed has `ocr-client` and
ocr_client's types, none of the server (no Celery, FastAPI, Tesseract bindings), and talks to a real server."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from ocr_client import __version__
from ocr_client.state import STATE_NAME

from bench.scoring import cer
from tests.client.conftest import Served
from tests.support import REPO, corpus_file, ground_truth

SERVER_MODULES = ("celery", "fastapi", "tesserocr", "pytesseract", "sqlalchemy", "boto3", "ocr_api", "workers")


def run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    # Nothing of this checkout's environment: no PYTHONPATH to the repo, no OCR_ settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OCR_", "PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with `pip install ./client` (from a copy, so no build files land in the checkout), at the
    versions the service is tested with; pip resolves from the package index the machine is set up with."""
    root = tmp_path_factory.mktemp("client-venv")
    source = root / "client"
    shutil.copytree(REPO / "client", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    venv.create(root / "venv", with_pip=True)
    python = root / "venv" / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "-q", "--constraint", str(REPO / "requirements.lock"), str(source)]
    out = run(install, root, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "venv"


@pytest.mark.slow
def test_the_client_installs_alone(client_venv: Path, tmp_path: Path) -> None:
    python = str(client_venv / "bin" / "python")
    probe = (
        "import importlib.util, json, pathlib, ocr_client\n"
        f"server = {SERVER_MODULES!r}\n"
        "print(json.dumps({'server': [m for m in server if importlib.util.find_spec(m)],\n"
        "  'file': ocr_client.__file__, 'typed': (pathlib.Path(ocr_client.__file__).parent / 'py.typed').is_file(),\n"
        "  'version': ocr_client.__version__}))\n"
    )
    out = run([python, "-c", probe], tmp_path)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["server"] == [], f"the client's venv has server packages: {found['server']}"
    assert Path(found["file"]).is_relative_to(client_venv), "ocr_client came from the venv, not the checkout"
    assert found["typed"] and found["version"] == __version__

    help_out = run([str(client_venv / "bin" / "ocr-client"), "--help"], tmp_path)
    assert help_out.returncode == 0 and "ocr-client submit scans/ --out results/" in help_out.stdout
    version = run([str(client_venv / "bin" / "ocr-client"), "--version"], tmp_path)
    assert version.stdout.strip() == f"ocr-client {__version__}"

    metadata = run([python, "-m", "pip", "show", "ocr-client"], tmp_path).stdout
    assert f"Version: {__version__}" in metadata and "Requires: httpx, pydantic, rich, watchfiles" in metadata, metadata


@pytest.mark.slow
def test_the_installed_client_reads_a_scan_with_a_real_server(
    client_venv: Path, served: Served, tmp_path: Path
) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    (scans / "hello.tif").write_bytes(corpus_file("tess_HelloGoogle.tif").read_bytes())
    cmd = [str(client_venv / "bin" / "ocr-client"), "submit", "scans", "--out", "out", "--server", served.url,
           "--formats", "txt,json", "--no-auto-model", "--retain-hours", "2", "--json"]  # fmt: skip
    out = run(cmd, tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert (summary["done"], summary["failed"]) == (1, 0), summary
    assert cer(ground_truth("tess_HelloGoogle.tif"), (tmp_path / "out" / "hello.txt").read_text()) < 0.05
    assert json.loads((tmp_path / "out" / "hello.json").read_text())
    # The two fields the client could not send before it took every JobOptions field from the model.
    with served.client() as http:
        job = http.get(f"/v1/jobs/{summary_job_id(tmp_path)}").json()
    assert job["options"].get("auto_model") is False, job
    finished = datetime.fromisoformat(job["finished_at"])
    assert datetime.fromisoformat(job["expires_at"]) - finished == timedelta(hours=2), job


def summary_job_id(root: Path) -> str:
    """The job of the one file, from the state file `ocr-client submit` keeps in OUTDIR."""
    lines = (root / "out" / STATE_NAME).read_text().splitlines()
    return str(json.loads(lines[-1])["job_id"])
