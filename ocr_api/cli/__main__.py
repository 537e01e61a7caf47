"""`python -m ocr_api.cli`: the `ocr-service` command."""

from ocr_api.cli import main

main()
