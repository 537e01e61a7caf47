"""`ocr-client watch` against a real `serve`: what is in the folder at the start, a file written slowly in place
and one renamed in are OCR'd once complete, their results mirrored under OUT and the inputs moved aside; SIGTERM
ends it cleanly; a restart with the same OUT redoes nothing."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench.scoring import cer
from tests.client.conftest import Served
from tests.support import REPO, corpus_file, ground_truth, wait_for

DROP_TIMEOUT_S = 60  # the promise: a dropped file's text is in OUT within a minute


def start_watch(served: Served, inbox: Path, out: Path, *flags: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "ocr_client.cli", "watch", str(inbox), "--out", str(out), "--server", served.url,
           "--recursive", "--settle", "2", *flags]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def text_of(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def unique_png(name: str) -> bytes:
    """The corpus scan as a PNG with a text chunk of its own: bytes no other test uploaded (ocr-client's
    Idempotency-Key is the file's hash, so the same bytes would get an earlier test's job back)."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("test", str(uuid.uuid4()))
    out = io.BytesIO()
    Image.open(corpus_file(name)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def jobs_named(served: Served, names: set[str]) -> list[str]:
    """The file names of the service's jobs among `names` (one entry per job: a name twice is two uploads)."""
    with served.client() as client:
        jobs = client.get("/v1/jobs", params={"limit": 500}).json()["jobs"]
    return sorted(j["filename"] for j in jobs if j["filename"] in names)


def test_watch_takes_files_once_complete_and_resumes_without_redoing(served: Served, tmp_path: Path) -> None:
    inbox, out, done = tmp_path / "inbox", tmp_path / "out", tmp_path / "done"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "there.png").write_bytes(unique_png("tess_HelloGoogle.tif"))  # before the start
    names = {"there.png", "slow.png", "renamed.png"}
    assert jobs_named(served, names) == []
    proc = start_watch(served, inbox, out, "--move-done", str(done))
    try:
        # Written in place, slowly: the writer pauses (0.3 s) less than the settle time (2 s) between pieces, so
        # the file is not taken half-written (a PNG cut short would be refused, or fail its job).
        slow = unique_png("tess_trainingtimes.tif")
        with (inbox / "slow.png").open("wb") as fh:
            for start in range(0, len(slow), len(slow) // 5 + 1):
                fh.write(slow[start : start + len(slow) // 5 + 1])
                fh.flush()
                time.sleep(0.3)
        dropped = time.monotonic()
        # Renamed in: written under a hidden name first (never taken), then moved into a subfolder.
        hidden = inbox / ".incoming.png"
        hidden.write_bytes(unique_png("pyt_test.png"))
        os.rename(hidden, inbox / "sub" / "renamed.png")
        (inbox / "notes.txt").write_text("not a scan\n")

        wanted = {"there": "tess_HelloGoogle.tif", "slow": "tess_trainingtimes.tif", "sub/renamed": "pyt_test.png"}

        def all_read() -> bool:
            return all(cer(ground_truth(gt), text_of(out / f"{rel}.txt")) < 0.1 for rel, gt in wanted.items())

        wait_for(all_read, DROP_TIMEOUT_S, "the watched files' text in OUT", interval=0.2)
        assert time.monotonic() - dropped < DROP_TIMEOUT_S
        # Done inputs moved aside, their tree kept; the ignored file stays where it is.
        wait_for(lambda: not (inbox / "sub" / "renamed.png").exists(), 10, "the inputs moved")
        assert sorted(p.relative_to(done).as_posix() for p in done.rglob("*") if p.is_file()) == [
            "slow.png", "sub/renamed.png", "there.png"
        ]  # fmt: skip
        assert (inbox / "notes.txt").exists()
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert jobs_named(served, names) == sorted(names), f"each file uploaded once, whole:\n{err}"
    assert "ignored notes.txt (not an image or PDF)" in err, err
    assert "stopped; 3 done (3 pages)" in err and "Traceback" not in err, err

    # A restart with the same OUT: the same bytes back in the folder are not OCR'd again.
    (inbox / "there.png").write_bytes((done / "there.png").read_bytes())
    (done / "there.png").unlink()
    proc = start_watch(served, inbox, out, "--move-done", str(done))
    try:
        wait_for(lambda: (done / "there.png").exists(), 30, "the already-done input moved aside again")
    finally:
        code, err = stop(proc)
    assert code == 0 and "skipped there.png" in err, err
    assert jobs_named(served, names) == sorted(names), "nothing uploaded again"


def test_watch_refuses_a_missing_folder(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "ocr_client.cli", "watch", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "not a folder" in done.stderr


def test_the_documented_unit_and_compose_service_run_real_flags() -> None:
    """docs/clients.md's systemd unit and compose service: their commands are `ocr-client watch` with flags it
    has, and the compose block is valid YAML."""
    import re
    import shlex

    import yaml
    from ocr_client.cli import build_parser

    doc = (REPO / "docs" / "clients.md").read_text()
    unit = re.search(r"```ini\n(.*?)```", doc, re.S)
    service = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert unit and service
    exec_start = re.search(r"^ExecStart=(.*)$", unit[1], re.M)
    assert exec_start and "KillSignal" not in unit[1]  # systemd's default, SIGTERM, is what watch stops on
    compose = yaml.safe_load(service[1])["ocr-watch"]
    assert compose["environment"]["OCR_SERVER"].startswith("http://api:")
    for command in (shlex.split(exec_start[1]), compose["command"]):
        assert Path(command[0]).name == "ocr-client" and command[1] == "watch", command
        args = build_parser().parse_args(command[1:])  # SystemExit on an unknown flag
        assert args.func.__name__ == "cmd_watch" and args.move_done and args.recursive
