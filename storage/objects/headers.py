"""HTTP headers about stored objects, built once for every path that serves one: the API's own downloads
(ocr_api/routes/jobs.py) and S3's presigned ones (storage/objects/s3.py)."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(filename: str, inline: bool = False) -> str:
    """`inline` or `attachment` with the file's name: an ASCII fallback and the exact name (RFC 6266/5987)."""
    # The plain fallback: printable ASCII only, no quote or backslash (a control character would split the header)
    ascii_name = "".join(c for c in filename if " " <= c <= "~" and c not in '"\\').strip() or "result"
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
