"""What the API and the workers share for operations: JSON logs with request and job ids, request timings,
and Prometheus metrics across processes. Cheap to import: no OCR, no web framework."""
