"""/docs (Swagger UI) and /redoc (ReDoc), served whole by the service: nothing is loaded from another host, so
the API's documentation works air-gapped.

Their scripts, styles and favicon are the files the fastapi-offline package ships (Swagger UI's and ReDoc's
own distribution builds, re-bundled with each of its releases; licences in NOTICE), served under
/static/docs. The pages are FastAPI's own (get_swagger_ui_html, get_redoc_html) pointed at those files, under
the request's root path (OCR_ROOT_PATH), with a Content-Security-Policy that lets them run their one inline
script (by its hash) and nothing from elsewhere (ocr_api/security.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from ocr_client._version import __version__

from ocr_api.security import docs_csp

ASSETS_PATH = "/static/docs"  # mounted before /static (ocr_api/app.py): the first mount that matches serves
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
TITLE = "OCR service"
# Swagger UI's defaults, less the online validator badge (it would call validator.swagger.io); no OAuth2 flow.
SWAGGER_PARAMETERS = {"validatorUrl": None, "tryItOutEnabled": False, "displayRequestDuration": True}

router = APIRouter(include_in_schema=False)


def assets() -> StaticFiles:
    return StaticFiles(directory=ASSETS_DIR)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


@lru_cache(maxsize=16)
def swagger_page(root: str) -> tuple[bytes, str]:
    page = get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{TITLE} {__version__} - Swagger UI",
        swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )
    body = bytes(page.body)
    return body, docs_csp(body)


@lru_cache(maxsize=16)
def redoc_page(root: str) -> tuple[bytes, str]:
    page = get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{TITLE} {__version__} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
        with_google_fonts=False,
    )
    body = bytes(page.body)
    return body, docs_csp(body)


def _html(body_and_policy: tuple[bytes, str]) -> HTMLResponse:
    body, policy = body_and_policy
    return HTMLResponse(body, headers={"Content-Security-Policy": policy, "Cache-Control": "no-cache"})


@router.get("/docs")
@router.head("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return _html(swagger_page(_root(request)))


@router.get("/redoc")
@router.head("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return _html(redoc_page(_root(request)))
