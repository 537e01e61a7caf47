"""Alembic migrations of the job database; applied by storage.records.migrate (`ocr-service migrate`)."""
