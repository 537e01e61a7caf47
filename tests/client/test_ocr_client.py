"""`ocr-client` and the ocr_client library against a real `serve`: folders mirrored under OUTDIR, files found by
their bytes, reruns that upload nothing, a Ctrl-C'd run resumed without a second upload, failures listed."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ocr_client import AsyncClient, Client, Event
from ocr_client.state import STATE_NAME

from bench.scoring import cer
from tests.client.conftest import Served
from tests.support import REPO, corpus_file, free_port, ground_truth, wait_for

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ocr_client(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocr_client.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=timeout
    )


def submit_json(served: Served, *args: str) -> tuple[int, dict[str, Any]]:
    out = ocr_client("submit", *args, "--server", served.url, "--json")
    return out.returncode, json.loads(out.stdout)


def copy(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(corpus_file(name).read_bytes())
    return dest


def test_submit_mirrors_the_tree_and_a_rerun_uploads_nothing(served: Served, tmp_path: Path) -> None:
    scans, out = tmp_path / "scans", tmp_path / "out"
    copy("tess_HelloGoogle.tif", scans / "a" / "b.tif")
    copy("pyt_test.png", scans / "c.scan")  # no image extension: found by its bytes
    (scans / "notes.txt").write_text("not a scan\n")
    copy("pyt_test.png", scans / ".hidden.png")

    code, summary = submit_json(served, str(scans), "--out", str(out), "--recursive", "--formats", "txt,pdf")
    assert code == 0, summary
    assert (summary["done"], summary["failed"], summary["ignored"], summary["pages"]) == (2, 0, 1, 2), summary
    assert cer(ground_truth("tess_HelloGoogle.tif"), (out / "a" / "b.txt").read_text()) < 0.05
    assert cer(ground_truth("pyt_test.png"), (out / "c.txt").read_text()) < 0.05
    assert (out / "a" / "b.pdf").read_bytes().startswith(b"%PDF-") and (out / "c.pdf").exists()
    assert not list(out.rglob("*.part")) and not (out / ".hidden.txt").exists()

    jobs = served.job_count()
    code, summary = submit_json(served, str(scans), "--out", str(out), "--recursive", "--formats", "txt,pdf")
    assert (code, summary["skipped"], summary["done"]) == (0, 2, 0), summary
    assert served.job_count() == jobs, "an unchanged file is not uploaded again"

    copy("tess_trainingtimes.tif", scans / "c.scan")  # new bytes under the same name
    plain = ocr_client("submit", str(scans), "--out", str(out), "-r", "--formats", "txt,pdf", "--server", served.url)
    assert plain.returncode == 0, plain.stderr
    assert "done    c.scan" in plain.stderr and "1 done" in plain.stderr and "1 skipped" in plain.stderr, plain.stderr
    assert served.job_count() == jobs + 1
    assert cer(ground_truth("tess_trainingtimes.tif"), (out / "c.txt").read_text()) < 0.1


def test_a_refused_file_is_listed_with_the_service_reason(served: Served, tmp_path: Path) -> None:
    scans, out = tmp_path / "scans", tmp_path / "out"
    copy("tess_HelloGoogle.tif", scans / "good.tif")
    (scans / "broken.png").write_bytes(PNG_MAGIC + b"\x00" * 64)  # looks like a PNG, is not one
    result = ocr_client("submit", str(scans), "--out", str(out), "--server", served.url)
    assert result.returncode == 1
    table = result.stderr[result.stderr.index("reason") - 20 :]
    assert "broken.png" in table and "422 damaged_file" in table, result.stderr
    assert (out / "good.txt").exists()
    code, summary = submit_json(served, str(scans), "--out", str(out))
    assert code == 1 and summary["skipped"] == 1 and summary["failures"][0]["path"] == "broken.png", summary


def test_an_interrupted_run_resumes_without_uploading_twice(served: Served, tmp_path: Path) -> None:
    scans, out = tmp_path / "scans", tmp_path / "out"
    # Six dense pages (seconds each on two workers), in a file of its own so no earlier job's cached result
    # can answer at once: the job is still running when the interrupt comes.
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.append(PdfReader(corpus_file("doctor_image-pdf.pdf")))
    writer.add_metadata({"/Title": str(uuid.uuid4())})
    scans.mkdir(parents=True)
    with (scans / "doc.pdf").open("wb") as fh:
        writer.write(fh)
    jobs = served.job_count()
    cmd = [sys.executable, "-m", "ocr_client.cli", "submit", str(scans), "--out", str(out), "--server", served.url]
    # Ctrl-C's default action, even when this suite runs in the background (a shell starts background
    # commands with SIGINT ignored, and children inherit that).
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    state = out / STATE_NAME
    wait_for(lambda: state.exists() and '"job_id"' in state.read_text(), 60, "the job id in the state file")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    entry = json.loads(state.read_text().splitlines()[-1])
    interrupted_before_done = not entry["done"]
    print("interrupted before done:", interrupted_before_done)

    code, summary = submit_json(served, str(scans), "--out", str(out))
    assert code == 0, summary
    assert served.job_count() == jobs + 1, "the file was uploaded once"
    if interrupted_before_done:
        assert summary["resumed"] == 1 and summary["done"] == 1, summary
    assert cer("\n".join([ground_truth("doctor_image-pdf.pdf")] * 3), (out / "doc.txt").read_text()) < 0.1


def test_status_get_and_languages(served: Served, tmp_path: Path) -> None:
    with Client(served.url) as client:
        job = client.submit(corpus_file("tess_HelloGoogle.tif"), formats=["txt", "json"], orient=False)
        done = client.wait(job.id, stream=False, raise_on_failure=True)  # polling; the CLI's get --wait streams
        assert done.status == "succeeded" and done.formats == ["txt", "json"]
        assert client.result(job.id, "txt").decode().strip() == "Hello Google"

    status = ocr_client("status", job.id, "--server", served.url)
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "succeeded"
    target = tmp_path / "hello.json"
    got = ocr_client("get", job.id, "--format", "json", "-o", str(target), "--wait", "--server", served.url)
    assert got.returncode == 0 and json.loads(target.read_text())
    assert ocr_client("get", job.id, "--server", served.url).stdout.strip() == "Hello Google"
    languages = ocr_client("languages", "--server", served.url)
    assert "eng  (default)" in languages.stdout.splitlines()
    missing = ocr_client("status", "no-such-job", "--server", served.url)
    assert missing.returncode == 1 and "404 job_not_found" in missing.stderr


def test_async_client_follows_the_event_stream(served: Served) -> None:
    async def run() -> tuple[str, list[Event]]:
        events: list[Event] = []
        async with AsyncClient(served.url) as client:
            data = corpus_file("paperless_multi-page-images.tiff").read_bytes()
            job = await client.submit(data, filename="pages.tiff", formats="txt")
            finished = await client.wait(job.id, on_event=events.append)
            assert finished.status == "succeeded" and finished.pages_total == 3
            return (await client.result(job.id)).decode(), events

    text, events = asyncio.run(run())
    assert sorted(e.data["page"] for e in events if e.type == "page") == [1, 2, 3]
    assert events[-1].terminal and events[-1].data["status"] == "succeeded"
    assert text.count("\f") == 2


def test_an_unreachable_server_fails_with_one_clear_line(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    out = ocr_client("languages", "--server", dead, "--retries", "1")
    assert out.returncode == 1 and out.stderr.startswith("ocr-client: ") and "ConnectError" in out.stderr
    copy("tess_HelloGoogle.tif", tmp_path / "scans" / "a.tif")
    copy("tess_HelloGoogle.tif", tmp_path / "scans" / "b.tif")
    result = ocr_client("submit", str(tmp_path / "scans"), "--out", str(tmp_path / "out"), "--server", dead,
                        "--retries", "1", "--concurrency", "1", "--json")  # fmt: skip
    summary = json.loads(result.stdout)
    assert result.returncode == 1 and summary["failed"] == 2, summary
    assert "server unreachable" in summary["failures"][0]["reason"]
    assert summary["failures"][1]["reason"].startswith("not tried"), "it stops instead of retrying every file"
    assert time.monotonic() - started < 30


def test_help_has_examples() -> None:
    out = ocr_client("--help")
    assert out.returncode == 0 and "ocr-client submit scans/ --out results/" in out.stdout
    submit = ocr_client("submit", "--help")
    for option in ("--formats", "--lang", "--recursive", "--concurrency", "--api-key", "--json", "--server"):
        assert option in submit.stdout


def test_the_client_imports_no_server_package() -> None:
    probe = (
        "import sys\n"
        "import ocr_client, ocr_client.cli, ocr_client.batch, ocr_client.progress\n"
        "from ocr_client import Client, AsyncClient\n"
        "server = ('ocr_api', 'workers', 'storage', 'celery', 'sqlalchemy', 'fastapi', 'PIL')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in server))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True, cwd="/")
    assert out.stdout.strip() == "[]", out.stdout
