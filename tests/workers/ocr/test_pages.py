"""Pages and their pixel limit: checked by the pipeline itself for every frame, whatever Pillow's global says."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from workers.ocr import pages
from workers.ocr.errors import InputError


def _tiff(path: Path, sizes: list[tuple[int, int]]) -> Path:
    frames = [Image.new("L", size, 255) for size in sizes]
    frames[0].save(path, "TIFF", save_all=True, append_images=frames[1:])
    return path


@pytest.mark.parametrize("guard", [None, 1_000_000, Image.MAX_IMAGE_PIXELS])
def test_the_limit_is_the_pipelines_own_for_every_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guard: int | None
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", guard)
    path = _tiff(tmp_path / "two.tif", [(100, 100), (1200, 1000)])
    assert pages.count_pages(path, "image/tiff", 2_000_000) == 2
    assert pages.load_page(path, "image/tiff", 2, dpi=None, render_dpi=300, max_pixels=2_000_000).image.size == (
        1200,
        1000,
    )
    assert pages.load_page(path, "image/tiff", 1, dpi=None, render_dpi=300, max_pixels=50_000).image.size == (100, 100)
    with pytest.raises(InputError) as refused:
        pages.load_page(path, "image/tiff", 2, dpi=None, render_dpi=300, max_pixels=50_000)
    assert refused.value.code == "too_many_pixels"
    with pytest.raises(InputError) as refused:
        pages.count_pages(path, "image/tiff", 5_000)
    assert refused.value.code == "too_many_pixels"
    assert guard == Image.MAX_IMAGE_PIXELS  # the pipeline sets no process-wide limit
