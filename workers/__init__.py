"""Celery workers: the OCR pipeline, run as background jobs, page by page."""
