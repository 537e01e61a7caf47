"""Typed pipeline errors. InputError means the user's file is at fault: no retry, the job fails with its code."""


class PipelineError(Exception):
    code = "ocr_failed"


class InputError(PipelineError):
    """The input cannot be processed as given; retrying would not help."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class EngineUnavailable(PipelineError):
    code = "engine_unavailable"


class OcrFailed(PipelineError):
    code = "ocr_failed"
