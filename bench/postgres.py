"""A PostgreSQL database of its own for each benchmark stack, made and dropped on the server given."""

from __future__ import annotations

import uuid


def new_pg_database(admin_url: str) -> str:
    """A fresh, empty PostgreSQL database for one stack (the API migrates it on start); its SQLAlchemy URL."""
    import psycopg

    name = f"ocr_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://{admin_url.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"


def drop_pg_database(admin_url: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
