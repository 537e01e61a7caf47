"""HTTP API of the OCR service: accepts uploads, enqueues work, serves status and results."""
