"""`ocr-client`'s job commands against a real `serve` (list, cancel, delete), `--version` on every command, the
ignored files named, singular counts, and a reader that goes away (`| head`) without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from ocr_client import Client, __version__

from tests.client.conftest import Served
from tests.client.test_ocr_client import copy, ocr_client
from tests.support import REPO, corpus_file

COMMANDS = ("submit", "watch", "status", "get", "cancel", "delete", "list", "languages")


@pytest.mark.parametrize("command", COMMANDS)
def test_version_works_on_every_command(command: str) -> None:
    out = ocr_client(command, "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"ocr-client {__version__}", out.stderr


def slow_pdf(path: Path) -> Path:
    """Six dense pages, in bytes of their own (no earlier job's cached result answers at once)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for _ in range(3):
        writer.append(PdfReader(corpus_file("doctor_image-pdf.pdf")))
    writer.add_metadata({"/Title": str(uuid.uuid4())})
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def test_list_cancel_and_delete(served: Served, tmp_path: Path) -> None:
    with Client(served.url) as client:
        done = [client.submit(corpus_file("tess_HelloGoogle.tif")).id for _ in range(2)]
        for job_id in done:
            client.wait(job_id)
        running = client.submit(slow_pdf(tmp_path / "doc.pdf")).id

    cancelled = ocr_client("cancel", running, "--server", served.url)
    assert cancelled.returncode == 0 and cancelled.stdout.split() == [running, "cancelled"], cancelled.stderr
    again = ocr_client("cancel", done[0], "--server", served.url)
    assert again.returncode == 1 and "409 job_finished" in again.stderr, again.stderr

    page = ocr_client("list", "--limit", "2", "--json", "--server", served.url)
    assert page.returncode == 0, page.stderr
    listed = [json.loads(line) for line in page.stdout.splitlines()]
    assert [j["id"] for j in listed] == [running, done[1]], "newest first, two a page"
    assert "more: ocr-client list --cursor " in page.stderr
    cursor = page.stderr.split("--cursor ", 1)[1].split()[0]
    second = ocr_client("list", "--limit", "2", "--cursor", cursor, "--server", served.url)
    assert second.stdout.splitlines()[0].startswith(f"{done[0]}  succeeded"), second.stdout
    everything = ocr_client("list", "--all", "--limit", "3", "--server", served.url)
    assert everything.returncode == 0 and "more:" not in everything.stderr
    assert len(everything.stdout.splitlines()) == served.job_count()

    deleted = ocr_client("delete", *done, "--server", served.url)
    assert deleted.returncode == 0 and deleted.stdout.split() == [done[0], "deleted", done[1], "deleted"]
    gone = ocr_client("status", done[0], "--server", served.url)
    assert gone.returncode == 1 and "404 job_not_found" in gone.stderr


def closed_pipe_run(*args: str) -> subprocess.CompletedProcess[str]:
    """The command with its standard output a real pipe whose reader has gone (as `| head` leaves it)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocr_client.cli", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the command writes anything: its first write meets a pipe with no reader
    err = proc.stderr.read().decode()
    return subprocess.CompletedProcess(proc.args, proc.wait(60), "", err)


def test_a_reader_that_goes_away_is_no_traceback(served: Served) -> None:
    with Client(served.url) as client:
        job = client.wait(client.submit(corpus_file("pyt_test.png"), formats="txt,pdf").id)
    for args in (("list", "--all"), ("get", job.id, "--format", "pdf"), ("languages",)):
        out = closed_pipe_run(*args, "--server", served.url)
        assert out.returncode == 141, (args, out.stderr)  # as a shell reports a program SIGPIPE ended
        assert out.stderr == "", (args, out.stderr)
    # And through a shell pipe into `head`, as a person types it.
    shell = subprocess.run(
        ["bash", "-c", f'set -o pipefail; "{sys.executable}" -m ocr_client.cli list --all --json --server '
         f'{served.url} | head -n 1'],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert json.loads(shell.stdout)["id"] and "Traceback" not in shell.stderr, shell.stderr


def test_ignored_files_are_named_and_counts_are_singular(served: Served, tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    copy("tess_HelloGoogle.tif", scans / "a.tif")
    (scans / "notes.txt").write_text("not a scan\n")
    (scans / "budget.xlsx").write_bytes(b"PK\x03\x04 not an image")
    out = ocr_client("submit", str(scans), "--out", str(tmp_path / "out"), "--server", served.url)
    assert out.returncode == 0, out.stderr
    assert "1 done (1 page, 0 resumed)" in out.stderr and "(1 page, job " in out.stderr, out.stderr
    assert "2 ignored (not an image or PDF)" in out.stderr
    assert "ignored: " in out.stderr and "budget.xlsx" in out.stderr and "notes.txt" in out.stderr, out.stderr
    summary = json.loads(
        ocr_client("submit", str(scans), "--out", str(tmp_path / "out"), "--server", served.url, "--json").stdout
    )
    assert sorted(Path(p).name for p in summary["ignored_files"]) == ["budget.xlsx", "notes.txt"]
