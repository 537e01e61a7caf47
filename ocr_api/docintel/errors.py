"""The typed errors of the Document Intelligence API's own checks. Each code is that API's inner error code;
ocr_api/docintel/shape.py gives its status and outer code, ocr_api/errors.py answers it."""

from __future__ import annotations

from ocr_api.errors import ApiError


class ModelNotFound(ApiError):
    status_code = 404
    code = "ModelNotFound"


class UnsupportedApiVersion(ApiError):
    status_code = 404
    code = "UnsupportedApiVersion"


class ParameterMissing(ApiError):
    code = "ParameterMissing"


class InvalidParameter(ApiError):
    code = "InvalidParameter"


class InvalidContentSourceFormat(ApiError):
    code = "InvalidContentSourceFormat"


class ContentSourceNotAccessible(ApiError):
    code = "ContentSourceNotAccessible"


class UnsupportedContentType(ApiError):
    status_code = 415
    code = "UnsupportedMediaType"


class OutputNotRequested(ApiError):
    status_code = 404
    code = "OutputNotRequested"
