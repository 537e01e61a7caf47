"""botocore's errors as the storage errors (storage/errors.py): missing, permanently unusable, worth retrying."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NoReturn

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from storage.errors import ObjectNotFound, StorageError, StorageUnavailable, TransientStorageError

_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_PERMANENT = {
    "403",
    "AccessDenied",
    "AccountProblem",
    "AllAccessDisabled",
    "AuthorizationHeaderMalformed",
    "ExpiredToken",
    "InvalidAccessKeyId",
    "InvalidBucketName",
    "InvalidToken",
    "NoSuchBucket",
    "PermanentRedirect",
    "SignatureDoesNotMatch",
}
_TRANSIENT = {
    "InternalError",
    "RequestLimitExceeded",
    "RequestTimeout",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "TooManyRequests",
}


@contextlib.contextmanager
def storage_errors(where: str, key: str) -> Iterator[None]:
    """Turn what boto raises in the block into a storage error naming `where` (the bucket) and `key`."""
    try:
        yield
    except ClientError as exc:
        raise_client_error(where, key, exc)
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise StorageUnavailable(f"{where}: no usable AWS credentials: {exc}") from exc
    except (BotoConnectionError, HTTPClientError, IncompleteReadError) as exc:
        # Also covers connection refused, timeouts, and a body cut off mid-stream.
        raise TransientStorageError(f"{where}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"{where}: {exc}") from exc


def raise_client_error(where: str, key: str, exc: ClientError) -> NoReturn:
    code = error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _NOT_FOUND:
        raise ObjectNotFound(key) from exc
    if code in _PERMANENT:
        raise StorageUnavailable(f"{where} is not usable: {code}: {_message(exc)}") from exc
    if code in _TRANSIENT or status >= 500 or status == 429:
        raise TransientStorageError(f"{where}: {code}: {_message(exc)} (key {key})") from exc
    raise StorageError(f"{where}: {code}: {_message(exc)} (key {key})") from exc


def bucket_problem(exc: ClientError) -> str:
    """Why HEAD on the bucket failed, said for the person configuring it."""
    code = error_code(exc)
    if code in {"404", "NoSuchBucket", "NotFound"}:
        return "does not exist"
    if code in {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
        return "refused access: check the credentials and the bucket policy"
    if code in {"301", "PermanentRedirect", "400"}:
        region = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-bucket-region")
        return f"is in another region{f' ({region})' if region else ''}: set OCR_S3_REGION"
    return f"cannot be used: {code} {exc}"


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
