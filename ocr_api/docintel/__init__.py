"""The Azure AI Document Intelligence "read" API beside /v1 (docs/integrations.md): the same jobs underneath,
answered in that API's shapes. `shape.py` is its error shape (ocr_api/errors.py applies it to every error on
its paths), `analyze.py` checks an analyze request and makes its job, `url_source.py` fetches a urlSource,
`operation.py` and `result.py` turn a job and its result.json into the operation and its analyzeResult,
`locales.py` maps locales to Tesseract languages. The routes are ocr_api/routes/docintel.py."""
