"""Object storage (local disk or S3) and the job records, shared by the API and the workers."""

from storage.errors import ChecksumMismatch, InvalidKey, ObjectNotFound, StorageError, StorageUnavailable
from storage.objects.base import Storage, StoredObject
from storage.objects.factory import get_storage, reset_storage

__all__ = [
    "ChecksumMismatch",
    "InvalidKey",
    "ObjectNotFound",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "get_storage",
    "reset_storage",
]
