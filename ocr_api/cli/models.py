"""`ocr-service models`: install the more accurate tessdata_best models (integerised) beside Tesseract's own."""

from __future__ import annotations

import argparse
import sys

from ocr_api.cli.common import fail


def cmd_models(args: argparse.Namespace) -> None:
    from workers.ocr import models, tesseract

    if args.action == "install":
        langs = args.langs or list(models.DEFAULT_LANGS)
        directory = args.dir or models.service_dir()
        print(f"installing tessdata_best (integerised) for {', '.join(langs)} into {directory}", file=sys.stderr)
        try:
            installed = models.install(langs, directory, tesseract.own_tessdata_dir())
        except models.ModelInstallError as exc:
            fail(f"{exc}; the service keeps reading with Tesseract's own models ({tesseract.own_tessdata_dir()})")
        print(f"best models in {directory}: {', '.join(installed)}", flush=True)
        return
    directory = tesseract.tessdata_dir()
    best = set(models.own_models(directory))
    print(f"models read from: {directory}")
    names = tesseract.installed_languages()
    for name in names:
        if name.removeprefix(tesseract.SCRIPT_PREFIX) in names and name.startswith(tesseract.SCRIPT_PREFIX):
            continue  # listed once, by the name its file has (as /v1/languages does)
        print(f"  {name}: {'tessdata_best (integerised)' if name in best else 'as packaged'}")
    print(f"  osd: {'present' if (directory / 'osd.traineddata').exists() else 'missing'}", flush=True)
