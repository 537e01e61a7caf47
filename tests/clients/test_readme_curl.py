"""The curl recipes of docs/api.md (the README links them), taken from the doc itself (blocks marked
`bash curl-recipe`) and run as written, in order, in one bash, against a live `serve`: the doc and this test
cannot drift apart."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

from bench.scoring import cer
from tests.clients.conftest import Served
from tests.support import REPO, corpus_file, ground_truth

RECIPE = re.compile(r"^```bash curl-recipe\n(.*?)^```", re.S | re.M)
RECIPES_DOC = REPO / "docs" / "api.md"


def recipes() -> list[str]:
    return RECIPE.findall(RECIPES_DOC.read_text(encoding="utf-8"))


def test_the_readme_shows_each_recipe() -> None:
    text = "\n".join(recipes())
    for what in (
        "-F file=@scan.png",
        "/events",
        "until curl",
        "result.pdf",
        "for f in scans/*",
        "/text",
        "results.zip",
    ):
        assert what in text, f"no curl recipe with {what!r}"
    assert re.search(r"curl [^\n]*-N[^\n]*/events", text), "the SSE stream with curl -N"


def test_the_readme_curl_recipes_run_as_written(served: Served, tmp_path: Path) -> None:
    assert shutil.which("curl") and shutil.which("jq"), "scripts/install.sh --test installs curl and jq"
    shutil.copy(corpus_file("pyt_test.png"), tmp_path / "scan.png")
    (tmp_path / "scans").mkdir()
    for name in ("tess_HelloGoogle.tif", "tess_trainingtimes.tif"):
        shutil.copy(corpus_file(name), tmp_path / "scans" / name)
    (tmp_path / "scans" / "notes.txt").write_text("not a scan\n")
    script = "set -euo pipefail\n" + "\n".join(recipes())
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    env["OCR"] = served.url
    out = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]

    assert "event: status" in out.stdout and '"status": "succeeded"' in out.stdout, "the SSE stream, to its end"
    assert cer(ground_truth("pyt_test.png"), (tmp_path / "scan.txt").read_text()) < 0.05
    assert (tmp_path / "scan.pdf").read_bytes().startswith(b"%PDF-")
    assert "refused: scans/notes.txt" in out.stderr, "the loop reports the file the service refused"
    for name in ("tess_HelloGoogle", "tess_trainingtimes"):
        assert cer(ground_truth(f"{name}.tif"), (tmp_path / "out" / f"{name}.txt").read_text()) < 0.1
    with zipfile.ZipFile(tmp_path / "results.zip") as batch:
        names = set(batch.namelist())
        assert {"scan.txt", "scan.pdf", "tess_HelloGoogle.txt", "tess_HelloGoogle.pdf", "manifest.json"} == names
        assert cer(ground_truth("pyt_test.png"), batch.read("scan.txt").decode()) < 0.05
