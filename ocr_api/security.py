"""What keeps browsers from misusing the API (docs/security.md): response headers, and in open mode the Host and
Origin checks.

Every response: no MIME sniffing, no framing, no Referer to other sites. The form page adds its own
Content-Security-Policy (ocr_api/routes/ui.py): its script and styles come only from /static. The API's
documentation pages (/docs, /redoc: ocr_api/routes/docs.py) get DOCS_CSP: everything from this origin, their
one inline script by its hash, nothing from any other host.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocr_api.errors import error_body

HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
FORM_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# Swagger UI and ReDoc as FastAPI renders them: scripts and styles from /static/docs, one inline script that
# starts them (allowed by its sha256, computed from the page), inline styles (ReDoc's styled-components writes
# <style> elements at run time), SVG icons as data: URLs, ReDoc's search index in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.S | re.I)


def docs_csp(page: bytes) -> str:
    """DOCS_CSP for this page: its inline scripts allowed by their hashes, and no other inline script."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(page)
    ]
    return DOCS_CSP.format(hashes=" ".join(hashes)).replace("'self' ;", "'self';")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


LOOPBACK_NAMES = frozenset({"localhost", "localhost."})
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
GUARD_HEADERS = frozenset({b"host", b"origin", b"sec-fetch-site"})  # only these are decoded


def host_name(host: str) -> str:
    """The name of a Host header without its port: `[::1]:8000` -> `::1`, `Example.com:80` -> `example.com`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_name(name: str) -> bool:
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class OpenModeGuard:
    """With keys off (OCR_AUTH=off), the API is protected only by being reachable from this machine alone. Two
    ways a web page in a local browser could still use it, refused here (docs/security.md, "Open mode"):

    - DNS rebinding: a page on evil.example re-resolves its own name to 127.0.0.1 and reads the API as
      same-origin. Its requests carry `Host: evil.example`, so only loopback Host names (and the operator's
      OCR_ALLOWED_HOSTS) are answered; others get 421.
    - Cross-site writes: any page may POST a form (an upload) without a preflight. An unsafe method whose
      Origin is not this Host (nor an OCR_CORS_ORIGINS origin), or that the browser marks
      `Sec-Fetch-Site: cross-site`, gets 403. Clients without a browser send neither header and pass.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: list[str], allowed_origins: list[str]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed_hosts = frozenset(host_name(h) for h in allowed_hosts)
        self.allowed_origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            refused = self.refusal(scope)
            if refused is not None:
                status, code, message = refused
                await JSONResponse(error_body(code, message), status_code=status)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        headers = {name: value.decode("latin-1") for name, value in scope["headers"] if name in GUARD_HEADERS}
        host = headers.get(b"host", "")
        name = host_name(host)
        if not (self.any_host or is_loopback_name(name) or name in self.allowed_hosts):
            return (
                421,
                "host_not_allowed",
                (
                    f"this API answers loopback host names only while API keys are off (Host: {host[:100]!r}); "
                    "list other names in OCR_ALLOWED_HOSTS"
                ),
            )
        if scope["method"] not in UNSAFE_METHODS:
            return None
        origin = headers.get(b"origin")
        if origin is not None and origin.rstrip("/").lower() in self.allowed_origins:
            return None
        if headers.get(b"sec-fetch-site") == "cross-site" or (origin is not None and not _same_origin(origin, host)):
            return (
                403,
                "cross_site_request",
                (
                    "cross-site requests that change jobs are refused while API keys are off; "
                    "list the page's origin in OCR_CORS_ORIGINS to allow it"
                ),
            )
        return None


def _same_origin(origin: str, host: str) -> bool:
    """Whether an Origin header (`http://localhost:8000`; `null` from sandboxed pages) names this Host."""
    scheme, sep, netloc = origin.strip().lower().partition("://")
    return bool(sep) and scheme in ("http", "https") and netloc.rstrip("/") == host.strip().lower()
