"""Alembic migrations of the job database; applied by storage.migrate (`ocr-service migrate`)."""
