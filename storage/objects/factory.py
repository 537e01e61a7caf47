"""Chooses the storage backend from configuration; nothing above storage/ knows which one is used."""

from __future__ import annotations

from functools import lru_cache

from storage.objects.base import Storage
from storage.settings import StorageSettings, get_storage_settings


def build_storage(settings: StorageSettings) -> Storage:
    if settings.storage == "s3":
        from storage.objects.s3 import S3Storage

        return S3Storage.from_settings(settings)
    from storage.objects.local import LocalStorage

    return LocalStorage(settings.files_dir)


@lru_cache
def get_storage() -> Storage:
    return build_storage(get_storage_settings())


def reset_storage() -> None:
    """Forget cached settings and backends (tests change the environment between cases)."""
    get_storage.cache_clear()
    get_storage_settings.cache_clear()
