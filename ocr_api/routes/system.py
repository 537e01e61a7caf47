"""Health, readiness and the installed languages."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ocr_api import service
from ocr_api.schemas import Languages, Readiness
from ocr_api.settings import get_api_settings

router = APIRouter(tags=["system"])


# HEAD where GET is (FastAPI adds none): probes and `curl -I` get the headers (docs/security.md).
@router.get("/healthz", summary="The process is up")
@router.head("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, summary="Dependencies")
@router.head("/readyz", include_in_schema=False)
def readyz() -> JSONResponse:
    checks = service.readiness()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503)


@router.get("/v1/languages", response_model=Languages, summary="Installed Tesseract languages")
@router.head("/v1/languages", include_in_schema=False)
def languages() -> Languages:
    return Languages(languages=service.listed_languages(), default=get_api_settings().default_lang)
