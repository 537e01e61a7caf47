"""Content-Disposition (storage/objects/headers.py), the one header both the API's downloads and S3's presigned
ones carry; hostile names through the API: tests/api/test_fuzz.py."""

from __future__ import annotations

import pytest

from storage.objects.headers import content_disposition


@pytest.mark.parametrize(
    ("name", "inline", "expected"),
    [
        ("scan.txt", True, "inline; filename=\"scan.txt\"; filename*=UTF-8''scan.txt"),
        (
            "Résumé scan.pdf",
            False,
            "attachment; filename=\"Rsum scan.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20scan.pdf",
        ),
        ('a"b\\c\r\nd.txt', True, "inline; filename=\"abcd.txt\"; filename*=UTF-8''a%22b%5Cc%0D%0Ad.txt"),
        ("名前", False, "attachment; filename=\"result\"; filename*=UTF-8''%E5%90%8D%E5%89%8D"),
    ],
)
def test_an_ascii_fallback_and_the_exact_name(name: str, inline: bool, expected: str) -> None:
    header = content_disposition(name, inline=inline)
    assert header == expected
    header.encode("latin-1")  # an HTTP header value
