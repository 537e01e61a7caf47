"""Typed storage errors; the API maps them to HTTP in one place, workers to job failures."""


class StorageError(Exception):
    """Base class of every storage failure."""


class InvalidKey(StorageError):
    """An object key that could escape the store's root or prefix."""


class ObjectNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"object not found: {key}")
        self.key = key


class ChecksumMismatch(StorageError):
    def __init__(self, key: str, expected: str, actual: str) -> None:
        super().__init__(f"checksum mismatch for {key}: stored sha256 {expected}, read {actual}")
        self.key = key


class StorageUnavailable(StorageError):
    """The backend cannot be reached or used (missing bucket, bad credentials, unwritable directory)."""


class TransientStorageError(StorageError):
    """A failure worth retrying (timeouts, throttling, 5xx from the object store)."""
