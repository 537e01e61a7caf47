"""The version of ocr-client and of the service: one source, read by both distributions' pyproject.toml and
by the API's OpenAPI document."""

__version__ = "0.1.0"
