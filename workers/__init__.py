"""Celery workers: the edge (app, tasks, queue, signals, the job steps) around the pure OCR pipeline in workers/ocr/.

The job steps (steps.py) load a job, call the pipeline page by page with complete options and store what it
returns; the pipeline (workers/ocr/) knows no Celery, database, storage or web.
"""
