"""Bad input gets the right status and a JSON error naming the problem; nothing is left behind, nothing 500s."""

from __future__ import annotations

import io
import shutil
import struct
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
    ],
    ids=["text", "html", "elf"],
)
def test_not_an_image_is_415_naming_accepted_types(api_only_stack: Stack, data: bytes, declared: str) -> None:
    before = stored_files(api_only_stack.data_dir)
    error = assert_error(post_bytes(api_only_stack, data, "scan.png", declared), 415, "unsupported_media_type")
    assert "PNG" in error["message"] and "PDF" in error["message"]
    assert stored_files(api_only_stack.data_dir) == before


@pytest.mark.parametrize(
    ("data", "claimed"),
    [
        (corpus_file("pyt_test.jpg").read_bytes()[:100], "JPEG"),  # a tiny JPEG cut off before its frame header
        (b"\x89PNG\r\n\x1a\nthis is not really a png", "PNG"),
        (b"GIF89a\x01", "GIF"),
    ],
    ids=["truncated-jpeg", "png-magic-then-junk", "gif-header-cut"],
)
def test_a_damaged_image_is_422_not_415(api_only_stack: Stack, data: bytes, claimed: str) -> None:
    """Bytes that start like a supported image but do not open are a damaged file of that type: 422 saying so,
    not the 415 that would tell the user to convert a file the service does read."""
    before = stored_files(api_only_stack.data_dir)
    error = assert_error(post_bytes(api_only_stack, data, "scan.jpg", "image/jpeg"), 422, "damaged_file")
    assert claimed in error["message"] and "damaged or cut short" in error["message"], error
    assert error["details"] == {"format": claimed}
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


def gif_with_a_later_frame(width: int, height: int) -> bytes:
    """A 10 x 10 GIF whose second frame's descriptor grows the canvas to `width` x `height` (its image data
    is a stub: only the headers matter before decoding)."""
    first = io.BytesIO()
    Image.new("P", (10, 10), 0).save(first, "GIF")
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return first.getvalue()[:-1] + descriptor + b"\x08\x01\x00\x00;"


@pytest.fixture(scope="module")
def tiff_with_a_huge_second_page() -> bytes:
    small, huge = Image.new("1", (100, 100), 1), Image.new("1", (10950, 10950), 1)
    out = io.BytesIO()
    small.save(out, "TIFF", save_all=True, append_images=[huge], compression="group4")
    return out.getvalue()


def test_a_tiff_whose_second_page_is_over_the_pixel_limit_is_413(
    api_only_stack: Stack, tiff_with_a_huge_second_page: bytes
) -> None:
    # The probe: 7.9 KB, page 1 small, page 2 10950 x 10950 (twice the default limit); it was accepted.
    data = tiff_with_a_huge_second_page
    assert len(data) < 10_000
    before = stored_files(api_only_stack.data_dir)
    error = assert_error(post_bytes(api_only_stack, data, "pages.tif", "image/tiff"), 413, "upload_too_large")
    assert "page 2" in error["message"] and "10950 x 10950" in error["message"]
    assert "OCR_MAX_PIXELS_PER_PAGE" in error["message"]
    assert error["details"] == {"page": 2, "width": 10950, "height": 10950, "max_pixels": 60_000_000}
    assert stored_files(api_only_stack.data_dir) == before


def test_a_gif_whose_later_frame_grows_past_the_pixel_limit_is_413(api_only_stack: Stack) -> None:
    data = gif_with_a_later_frame(10950, 10950)
    assert Image.open(io.BytesIO(data)).size == (10, 10)  # what the first header says
    error = assert_error(post_bytes(api_only_stack, data, "anim.gif", "image/gif"), 413, "upload_too_large")
    assert "page 2" in error["message"] and "10950 x 10950" in error["message"]


def test_frames_within_the_limit_pass_and_every_format_is_checked_per_frame() -> None:
    from ocr_api.errors import UploadTooLarge
    from ocr_api.uploads import sniff_media_type

    def frames(fmt: str, sizes: list[tuple[int, int]], **options: object) -> io.BytesIO:
        images = [Image.new("RGB", size, (index * 40, 0, 0)) for index, size in enumerate(sizes)]
        out = io.BytesIO()
        images[0].save(out, fmt, save_all=True, append_images=images[1:], **options)
        out.seek(0)
        return out

    assert sniff_media_type(frames("TIFF", [(10, 10), (100, 100)]), 10_000) == "image/tiff"
    assert sniff_media_type(io.BytesIO(gif_with_a_later_frame(100, 100)), 10_000) == "image/gif"
    refused = [
        frames("TIFF", [(10, 10), (20, 20), (101, 100)]),
        frames("MPO", [(10, 10), (101, 100)]),
        io.BytesIO(gif_with_a_later_frame(101, 100)),
        frames("WEBP", [(101, 100), (101, 100)], lossless=True),  # a WebP's frames share its canvas
    ]
    for stream in refused:
        with pytest.raises(UploadTooLarge) as error:
            sniff_media_type(stream, 10_000)
        assert "101 x 100" in error.value.message
        assert stream.tell() == 0  # the stream is rewound for storing


def test_a_pdf_page_that_cannot_render_within_the_limit_fails_the_job(stack: Stack, tmp_path: Path) -> None:
    # Nothing at upload looks at a PDF's pages; the worker checks each page's rendered size before rendering.
    from tests.workers.ocr.test_pages import blank_pdf

    job = stack.run(blank_pdf(tmp_path / "strip.pdf", 1e8, 1))
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "too_many_pixels"
    assert "OCR_MAX_PIXELS_PER_PAGE" in job["error"]["message"]
    assert stack.run(corpus_file("tess_HelloGoogle.tif"))["status"] == "succeeded"


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
        ({"pages": "3-1"}, "pages"),
        ({"pages": "1-600"}, "OCR_MAX_PAGES"),
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


def test_skip_text_and_redo_ocr_together_are_refused_naming_both(api_only_stack: Stack) -> None:
    png = corpus_file("paperless_simple.png").read_bytes()
    response = post_bytes(api_only_stack, png, skip_text="true", redo_ocr="true")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and "choose one" in error["message"]
    assert error["details"] == {"fields": ["skip_text", "redo_ocr"]}


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
    error = assert_error(result, 409, "job_failed")  # not job_not_finished: it has finished, without results
    assert job["error"]["message"] in error["message"]
    assert error["details"] == {"status": "failed", "error": {k: job["error"][k] for k in ("code", "message")}}
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
