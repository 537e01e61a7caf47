"""Bad input gets the right status and a JSON error naming the problem; nothing is left behind, nothing 500s."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.support import Stack, corpus_file, stored_files


def post_bytes(stack: Stack, data: bytes, filename: str = "upload.png", content_type: str = "image/png", **fields):  # type: ignore[no-untyped-def]
    files = {"file": (filename, io.BytesIO(data), content_type)}
    return stack.client.post("/v1/jobs", files=files, data=fields)


def assert_error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code, error
    return dict(error)


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (b"just some text, not an image\n" * 10, "image/png"),
        (b"<!DOCTYPE html><html><body><img src=x></body></html>", "image/jpeg"),
        (Path(shutil.which("true") or "/bin/true").read_bytes()[:4096], "image/tiff"),
        (b"\x89PNG\r\n\x1a\nthis is not really a png", "image/png"),
    ],
    ids=["text", "html", "elf", "fake-png-magic"],
)
def test_not_an_image_is_415_naming_accepted_types(api_only_stack: Stack, data: bytes, declared: str) -> None:
    before = stored_files(api_only_stack.data_dir)
    error = assert_error(post_bytes(api_only_stack, data, "scan.png", declared), 415, "unsupported_media_type")
    assert "PNG" in error["message"] and "PDF" in error["message"]
    assert stored_files(api_only_stack.data_dir) == before


def test_type_is_sniffed_from_bytes_not_name(api_only_stack: Stack) -> None:
    pdf = corpus_file("paperless_multi-page-images.pdf").read_bytes()
    as_png = post_bytes(api_only_stack, pdf, "renamed.png", "image/png")
    assert as_png.status_code == 202 and as_png.json()["media_type"] == "application/pdf"
    png = corpus_file("paperless_simple.png").read_bytes()
    as_pdf = post_bytes(api_only_stack, png, "renamed.pdf", "application/pdf")
    assert as_pdf.status_code == 202 and as_pdf.json()["media_type"] == "image/png"


def test_empty_file_is_422(api_only_stack: Stack) -> None:
    assert_error(post_bytes(api_only_stack, b""), 422, "invalid_input")


def test_missing_file_part_is_422(api_only_stack: Stack) -> None:
    response = api_only_stack.client.post("/v1/jobs", data={"lang": "eng"})
    error = assert_error(response, 422, "invalid_request")
    assert "file" in error["message"]


def test_upload_over_the_limit_is_413_and_leaves_nothing(api_only_stack: Stack) -> None:
    before = stored_files(api_only_stack.data_dir)
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 * 1024 * 1024)  # the stack's limit is 1 MiB
    error = assert_error(post_bytes(api_only_stack, big), 413, "upload_too_large")
    assert "OCR_MAX_UPLOAD_MB" in error["message"]
    assert stored_files(api_only_stack.data_dir) == before
    tmp = api_only_stack.data_dir / "files" / ".tmp"
    assert not any(tmp.iterdir()) if tmp.exists() else True


def test_decompression_bomb_is_refused_at_upload(api_only_stack: Stack) -> None:
    buf = io.BytesIO()
    Image.new("1", (20000, 20000), 1).save(buf, "PNG")  # a few kB declaring 400 million pixels
    assert len(buf.getvalue()) < 1024 * 1024
    error = assert_error(post_bytes(api_only_stack, buf.getvalue()), 413, "upload_too_large")
    assert "20000 x 20000" in error["message"]


def test_unknown_language_is_422_listing_installed(api_only_stack: Stack) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    for lang in ("xyz", "eng+klingon", "../../etc/passwd", "eng+", ""):
        response = post_bytes(api_only_stack, png, lang=lang)
        if lang == "":
            assert response.status_code == 202  # empty means the default language
            continue
        error = assert_error(response, 422, "invalid_input")
        assert "eng" in error["details"]["installed"] and "deu" in error["message"]


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"psm": "99"}, "psm"),
        ({"psm": "abc"}, "psm"),
        ({"dpi": "5"}, "dpi"),
        ({"formats": "txt,docx"}, "docx"),
        ({"retain_hours": "-1"}, "retain_hours"),
        ({"normalize": "maybe"}, "normalize"),
    ],
)
def test_bad_options_are_422(api_only_stack: Stack, fields: dict[str, str], needle: str) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    error = assert_error(post_bytes(api_only_stack, png, **fields), 422)
    assert needle in error["message"]


def test_option_errors_name_each_field_in_the_one_error_shape(api_only_stack: Stack) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    error = assert_error(post_bytes(api_only_stack, png, psm="abc", dpi="5", orient="maybe"), 422, "invalid_request")
    assert error["details"] == [
        {"field": "psm", "message": "Input should be a valid integer, unable to parse string as an integer"},
        {"field": "dpi", "message": "Input should be greater than or equal to 50"},
        {"field": "orient", "message": "Input should be a valid boolean, unable to interpret input"},
    ]
    assert error["message"] == "; ".join(f"{d['field']}: {d['message']}" for d in error["details"])


def test_unknown_fields_are_ignored_and_the_job_records_the_switches_given(api_only_stack: Stack) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    response = post_bytes(api_only_stack, png, deskew="false", skip_text="1", colour="blue", options="{}")
    assert response.status_code == 202, response.text
    assert response.json()["options"] == {"deskew": False, "skip_text": True}


@pytest.mark.parametrize(
    "filename",
    [
        "../../x.png",
        "/etc/passwd",
        "..\\..\\windows\\system32\\x.png",
        "a" * 300 + ".png",
        "nul\x00byte.png",
        "ü😀 name.png",
    ],
    ids=["dotdot", "absolute", "backslash", "long", "nul", "unicode"],
)
def test_hostile_filenames_are_stored_safely(api_only_stack: Stack, filename: str) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    response = post_bytes(api_only_stack, png, filename)
    assert response.status_code == 202, response.text
    job = response.json()
    reported = job["filename"]
    assert reported is None or ("/" not in reported and "\\" not in reported and "\x00" not in reported)
    assert reported is None or len(reported) <= 200
    root = (api_only_stack.data_dir / "files").resolve()
    for path in stored_files(api_only_stack.data_dir):
        assert root in path.resolve().parents
        assert "passwd" not in path.name and "x.png" not in path.name
    assert (root / "jobs" / job["id"] / "input").is_file()
    assert api_only_stack.client.get(f"/v1/jobs/{job['id']}").json()["filename"] == reported


def test_truncated_image_fails_the_job_and_the_worker_keeps_going(stack: Stack, tmp_path: Path) -> None:
    data = corpus_file("pyt_test.jpg").read_bytes()
    broken = tmp_path / "truncated.png"
    png = io.BytesIO()
    Image.open(io.BytesIO(data)).save(png, "PNG")
    broken.write_bytes(png.getvalue()[: len(png.getvalue()) // 3])
    job = stack.run(broken)
    assert job["status"] == "failed"
    assert job["error"]["code"] == "unreadable_input"
    assert "truncated" in job["error"]["message"] or "damaged" in job["error"]["message"]
    result = stack.client.get(f"/v1/jobs/{job['id']}/result.txt")
    assert result.status_code == 409 and "failed" in result.json()["error"]["message"]
    assert stack.run(corpus_file("tess_HelloGoogle.tif"))["status"] == "succeeded"


def test_odd_requests_never_500(api_only_stack: Stack) -> None:
    client = api_only_stack.client
    png = corpus_file("paperless_simple.png").read_bytes()
    attempts = [
        client.post("/v1/jobs", content=b"not multipart", headers={"content-type": "multipart/form-data"}),
        client.post("/v1/jobs", content=b"--x\r\n\r\n", headers={"content-type": "multipart/form-data; boundary=x"}),
        client.post("/v1/jobs", json={"file": "abc"}),
        client.post("/v1/jobs", files={"other": ("a.png", png, "image/png")}),
        client.post("/v1/jobs", files={"file": ("a.png", png, "image/png")}, data={"orient": "maybe"}),
        client.get("/v1/jobs", params={"limit": "0"}),
        client.get("/v1/jobs", params={"limit": "many"}),
        client.get("/v1/jobs/" + "x" * 5000),
        client.put("/v1/jobs"),
        client.get("/v1/jobs/%00/result.txt"),
        client.get("/nowhere"),
    ]
    for response in attempts:
        assert 400 <= response.status_code < 500, (response.request.url, response.status_code, response.text)
        assert "error" in response.json()


def test_chunked_upload_over_the_limit_is_413(api_only_stack: Stack) -> None:
    boundary = "bnd"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()

    def body():  # type: ignore[no-untyped-def]
        yield head + b"\x89PNG\r\n\x1a\n"
        for _ in range(40):  # 2.5 MiB in chunks, no Content-Length
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    before = stored_files(api_only_stack.data_dir)
    response = api_only_stack.client.post(
        "/v1/jobs", content=body(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )
    assert_error(response, 413, "upload_too_large")
    assert stored_files(api_only_stack.data_dir) == before


def test_file_just_over_the_limit_is_413(api_only_stack: Stack) -> None:
    """Within the multipart allowance but over the file limit: refused after storing, then removed."""
    before = stored_files(api_only_stack.data_dir)
    png = io.BytesIO()
    Image.effect_noise((700, 700), 100).convert("RGB").save(png, "PNG")
    assert 1024 * 1024 < len(png.getvalue()) < 2 * 1024 * 1024
    assert_error(post_bytes(api_only_stack, png.getvalue()), 413, "upload_too_large")
    assert stored_files(api_only_stack.data_dir) == before
