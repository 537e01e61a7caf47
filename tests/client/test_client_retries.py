"""What the real service cannot be made to answer on demand (429, 503 with Retry-After, a refused connection
that heals), played by an httpx MockTransport in front of the client; and the walk staying lazy."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from ocr_client import ApiError, AsyncClient, Client, RetryPolicy, ServerUnreachable
from ocr_client.discover import discover, sniff
from ocr_client.retry import retry_after_seconds

FAST = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.02)
JOB = {"id": "j1", "status": "queued", "pages_done": 0, "formats": ["txt"], "filename": "a.png"}


def scripted(answers: list[httpx.Response | Exception]) -> tuple[Callable[[httpx.Request], httpx.Response], list]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def test_upload_waits_out_503_and_429_as_told_and_keeps_its_idempotency_key() -> None:
    handler, seen = scripted(
        [
            httpx.Response(
                503, headers={"Retry-After": "0"}, json={"error": {"code": "queue_unavailable", "message": "x"}}
            ),
            httpx.Response(429, headers={"Retry-After": "0"}),
            httpx.ConnectError("refused"),
            httpx.Response(202, json=JOB),
        ]
    )
    with Client("http://ocr.test", retry=FAST, transport=httpx.MockTransport(handler)) as client:
        job = client.submit(b"\x89PNG\r\n\x1a\n", filename="a.png", idempotency_key="k-1", lang="eng+deu")
    assert job.id == "j1" and len(seen) == 4
    assert {r.headers["Idempotency-Key"] for r in seen} == {"k-1"}
    assert all(b'name="lang"\r\n\r\neng+deu' in r.content for r in seen), "the whole upload is sent every time"


def test_errors_that_will_not_heal_are_not_retried() -> None:
    handler, seen = scripted(
        [httpx.Response(415, json={"error": {"code": "unsupported_media_type", "message": "not an image"}})]
    )
    client = Client("http://ocr.test", retry=FAST, transport=httpx.MockTransport(handler))
    with client, pytest.raises(ApiError) as caught:
        client.submit(b"text", filename="a.txt")
    error = caught.value
    assert (error.status, error.code, error.message) == (415, "unsupported_media_type", "not an image")
    assert len(seen) == 1


def test_a_server_that_stays_away_ends_in_server_unreachable() -> None:
    handler, seen = scripted([httpx.ConnectError("refused")] * 4)

    async def run() -> None:
        async with AsyncClient("http://ocr.test", retry=FAST, transport=httpx.MockTransport(handler)) as client:
            await client.languages()

    with pytest.raises(ServerUnreachable):
        asyncio.run(run())
    assert len(seen) == FAST.attempts


def test_retry_after_as_seconds_or_a_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(httpx.Response(503, headers={"Retry-After": "7"})) == 7
    assert 25 < (retry_after_seconds(httpx.Response(503, headers={"Retry-After": later})) or 0) <= 30
    assert retry_after_seconds(httpx.Response(503)) is None
    assert RetryPolicy().delay(0, retry_after=7) == 7


def test_file_types_come_from_the_bytes() -> None:
    assert sniff(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"junk\n%PDF-1.7") == "application/pdf"
    assert sniff(b"II*\x00") == sniff(b"MM\x00*") == "image/tiff"
    assert sniff(b"hello") is None


def test_the_walk_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One folder is read at a time: the first file comes before the other folders are listed."""
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    calls: list[str] = []
    real = os.scandir

    def counting(path: str | os.PathLike[str]) -> object:
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counting)
    found = discover([tmp_path], recursive=True)
    first = next(found)
    assert first.rel.as_posix() == "a/x.png" and len(calls) == 2, calls
    assert [i.rel.as_posix() for i in found] == ["b/x.png", "c/x.png"]


def test_the_terminal_display_shows_files_pages_rate_and_eta() -> None:
    import io

    from ocr_client.batch import Outcome
    from ocr_client.progress import RichReporter
    from rich.console import Console

    screen = io.StringIO()
    reporter = RichReporter(Console(file=screen, force_terminal=True, width=120))
    reporter.discovered(2, complete=True)
    reporter.page_done()
    reporter.finished(Outcome("a/b.tif", "done", "j1", 1))
    reporter.finished(Outcome("c[1].png", "failed", reason="415 unsupported_media_type: not an image"))
    reporter.close()
    shown = screen.getvalue()
    for text in ("2/2", "1 page,", "files/s", "ETA", "failed", "c[1].png", "not an image"):
        assert text in shown, (text, shown)


def test_one_run_at_a_time_per_output_folder(tmp_path: Path) -> None:
    from ocr_client.state import StateFile, StateInUse

    first = StateFile(tmp_path)
    with pytest.raises(StateInUse):
        StateFile(tmp_path)
    first.close()
    StateFile(tmp_path).close()
