"""What the API and the workers agree on, importable without loading any OCR or image library."""

FORMATS = ("txt", "hocr", "alto", "tsv", "json", "pdf")
MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "hocr": "text/html; charset=utf-8",
    "alto": "application/xml; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "json": "application/json",
    "pdf": "application/pdf",
}
PAGE_SEPARATOR = "\f"
