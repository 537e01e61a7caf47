"""`Client.submit`, `AsyncClient.submit` and `ocr-client submit` accept exactly JobOptions' fields: every field,
given to each of them, arrives in the upload's multipart body with its value (recorded by an httpx
MockTransport); a field not given is not sent; an unknown keyword or a bad value is refused before anything is
sent. (The server's side, the OpenAPI document, is held to JobOptions by the API's tests.)"""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path
from typing import Any, get_args, get_type_hints

import httpx
import pytest
from ocr_client import AsyncClient, Client, JobOptions
from ocr_client._requests import JobFields
from ocr_client.batch import Batch, Outcome
from ocr_client.cli import build_parser, upload_options
from ocr_client.discover import discover
from ocr_client.options import MAX_PAGE_NUMBER, page_numbers
from pydantic import ValidationError

from tests.support import REPO

PNG = b"\x89PNG\r\n\x1a\n"
JOB = {"id": "j1", "status": "queued", "pages_total": 1, "pages_done": 0, "formats": ["txt"], "filename": "a.png"}
# The flags of `ocr-client submit` that are not the job's fields: where to send, what to read and write.
BATCH_FLAGS = {"--help", "--server", "--api-key", "--retries", "--out", "--recursive", "--concurrency", "--poll",
               "--json", "--quiet", "--verbose", "--version"}  # fmt: skip


def sample(name: str) -> Any:
    """A value of the field that is not its default and within its limits, from JobOptions alone."""
    info = JobOptions.model_fields[name]
    if info.annotation is bool:
        return not info.default
    if int in get_args(info.annotation):
        bounds = [m.ge for m in info.metadata if hasattr(m, "ge")]
        return (bounds[0] if bounds else 0) + 1
    if name == "pages":
        return "1-2,4"
    return "txt,pdf" if name == "formats" else f"https://hooks.test/{name}" if name.endswith("url") else "eng+deu"


SAMPLES = {name: sample(name) for name in JobOptions.model_fields}
# What the form carries for each: the wire's text of the value.
EXPECTED = {name: ("true" if v else "false") if isinstance(v, bool) else str(v) for name, v in SAMPLES.items()}


def form_fields(request: httpx.Request) -> dict[str, str]:
    """The plain fields of a multipart body (the file part, which has a filename, is left out)."""
    return dict(re.findall(r'name="([^"]+)"\r\n\r\n([^\r]*)\r\n', request.content.decode("latin-1")))


class Recorder:
    def __init__(self) -> None:
        self.uploads: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            request.read()
            self.uploads.append(request)
            return httpx.Response(202, json=JOB)
        if request.url.path.endswith("/events"):
            body = 'id: 1\nevent: status\ndata: {"status": "succeeded"}\n\n'
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        if "/result." in request.url.path:
            return httpx.Response(200, content=b"text")
        return httpx.Response(200, json={**JOB, "status": "succeeded"})

    def fields(self) -> dict[str, str]:
        assert len(self.uploads) == 1
        return form_fields(self.uploads[0])


def sync_submit(**kwargs: Any) -> dict[str, str]:
    recorder = Recorder()
    with Client("http://ocr.test", transport=httpx.MockTransport(recorder)) as client:
        client.submit(PNG, filename="a.png", **kwargs)
    return recorder.fields()


def async_submit(**kwargs: Any) -> dict[str, str]:
    recorder = Recorder()

    async def run() -> None:
        async with AsyncClient("http://ocr.test", transport=httpx.MockTransport(recorder)) as client:
            await client.submit(PNG, filename="a.png", **kwargs)

    asyncio.run(run())
    return recorder.fields()


def submit_args(*flags: str) -> argparse.Namespace:
    return build_parser().parse_args(["submit", "scans", "--out", "out", *flags])


def cli_flags(name: str, value: Any) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    return [flag, str(value)]


@pytest.mark.parametrize("submit", [sync_submit, async_submit], ids=["Client", "AsyncClient"])
def test_every_field_is_a_keyword_of_submit_and_is_sent(submit: Any) -> None:
    assert submit(**SAMPLES) == EXPECTED
    for name, value in SAMPLES.items():
        assert submit(**{name: value}) == {name: EXPECTED[name]}, name


@pytest.mark.parametrize("submit", [sync_submit, async_submit], ids=["Client", "AsyncClient"])
def test_what_is_not_given_is_not_sent(submit: Any) -> None:
    assert submit() == {}
    assert submit(lang=None, psm=None, formats=None) == {}
    assert submit(formats=["txt", "hocr"], psm=0) == {"formats": "txt,hocr", "psm": "0"}
    # Keywords go on top of an options model; its unset fields stay unsent.
    options = JobOptions(lang="deu", deskew=False)
    assert submit(options=options, lang="eng") == {"lang": "eng", "deskew": "false"}


@pytest.mark.parametrize("submit", [sync_submit, async_submit], ids=["Client", "AsyncClient"])
def test_an_unknown_keyword_or_a_bad_value_is_refused_before_sending(submit: Any) -> None:
    with pytest.raises(TypeError, match=r"\['colour'\].*'retain_hours'"):
        submit(colour=True)
    with pytest.raises(ValidationError, match="psm"):
        submit(psm=14)
    with pytest.raises(ValidationError, match="retain_hours"):
        submit(retain_hours=-1)
    with pytest.raises(ValidationError, match="pages"):
        submit(pages="3-1")


def test_the_keywords_type_is_jobs_fields() -> None:
    """The TypedDict behind submit's **fields (for type checkers) has JobOptions' fields, in its order, each
    taking the model's type (and None, meaning not given)."""
    hints = get_type_hints(JobFields)
    assert list(hints) == list(JobOptions.model_fields)
    for name, info in JobOptions.model_fields.items():
        accepted = set(get_args(hints[name]))
        assert {info.annotation, type(None)} <= accepted or set(get_args(info.annotation)) <= accepted, name


def test_every_field_is_a_flag_of_ocr_client_submit() -> None:
    submit = next(
        parser
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
        for name, parser in action.choices.items()
        if name == "submit"
    )
    flags = {s for action in submit._actions for s in action.option_strings if s.startswith("--")}
    names = {"--" + name.replace("_", "-") for name in JobOptions.model_fields}
    negations = {"--no-" + name.replace("_", "-") for name in JobOptions.switch_names()}
    assert flags - BATCH_FLAGS == names | negations
    help_text = submit.format_help()
    for name, info in JobOptions.model_fields.items():
        assert (info.description or "")[:20] in " ".join(help_text.split()), name

    flags_of_all = [flag for name, value in SAMPLES.items() for flag in cli_flags(name, value)]
    assert upload_options(submit_args(*flags_of_all)).given() == {**SAMPLES}
    for name, value in SAMPLES.items():
        given = upload_options(submit_args(*cli_flags(name, value))).given()
        assert given == ({"formats": "txt", name: value} if name != "formats" else {"formats": value}), name


def test_left_out_flags_are_not_sent_and_bad_values_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert upload_options(submit_args()).given() == {"formats": "txt"}
    for flags in (
        ["--psm", "14"],
        ["--dpi", "many"],
        ["--retain-hours", "-1"],
        ["--formats", "txt,doc"],
        ["--pages", "0"],
        ["--pages", "1-"],
    ):
        with pytest.raises(SystemExit):
            submit_args(*flags)
        assert flags[0] in capsys.readouterr().err


def test_ocr_client_submit_sends_every_flag(tmp_path: Path) -> None:
    """The batch uploads with the flags' options (the whole of `ocr-client submit` but the process)."""
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "a.png").write_bytes(PNG)
    flags = [flag for name, value in SAMPLES.items() for flag in cli_flags(name, value)]
    options = upload_options(submit_args(*flags))
    recorder = Recorder()

    class Quiet:
        def discovered(self, count: int, complete: bool) -> None: ...
        def page_done(self) -> None: ...
        def finished(self, outcome: Outcome) -> None: ...

    async def run() -> list[Outcome]:
        async with AsyncClient("http://ocr.test", transport=httpx.MockTransport(recorder)) as client:
            return await Batch(client, tmp_path / "out", options, Quiet(), 1).run(discover([tmp_path / "scans"]))

    outcomes = asyncio.run(run())
    assert [o.status for o in outcomes] == ["done"], outcomes
    assert recorder.fields() == EXPECTED
    assert (tmp_path / "out" / "a.txt").read_bytes() == b"text" and (tmp_path / "out" / "a.pdf").exists()


def test_docs_list_every_field_with_its_flag() -> None:
    docs = (REPO / "docs" / "clients.md").read_text()
    for name in JobOptions.model_fields:
        assert f"| `{name}` | `--{name.replace('_', '-')}" in docs, f"{name} is not in docs/clients.md's table"


def test_pages_names_page_numbers_in_order_once_each() -> None:
    assert page_numbers("1-3,5") == (1, 2, 3, 5)
    assert page_numbers(" 7, 2 - 3 ,2,3 ") == (2, 3, 7)
    assert JobOptions(pages=" 2-3 ").pages == "2-3" and JobOptions(pages="").pages is None
    for bad in ("0", "3-1", "1,,2", "a", "1-2-3", "-1", f"1-{MAX_PAGE_NUMBER + 1}", "1;2"):
        with pytest.raises(ValueError, match="pages"):
            page_numbers(bad)
