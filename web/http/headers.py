"""Security headers on every panel response: CSP with a per-request nonce, no framing, no caching.

A pure ASGI middleware (it leaves streamed responses, the panel's server-sent events, alone):
it draws a fresh nonce per request, leaves it in ``request.state.csp_nonce`` for the
templates' few inline ``<script>`` and ``<style>`` blocks, and adds the headers when the
response starts. A header a route set itself wins (the public lead form's stricter
``Referrer-Policy``); the Content-Security-Policy and the framing headers always come from
here. Three policies:

- the panel: scripts and styles only from the panel itself or carrying the nonce, no inline
  event handlers or style attributes, no plugins, forms post only to the panel; the map page
  ``/map`` may also load images from the tile server (``FLEETHUB_MAP_TILE_URL``'s origin);
- the public lead form ``/l/…`` (passengers' phones): no script at all, its own stylesheet;
- the OpenAPI pages ``/docs`` and ``/redoc``: FastAPI's pages load their scripts and styles
  from a CDN over HTTPS and start them with an inline script.

Every policy has ``frame-ancestors 'none'`` (with ``X-Frame-Options: DENY`` for older
browsers): no page, and so no emergency-push or revoke form, can be framed by another site.
``Cache-Control: no-store`` goes on everything but ``/static/``: pages and API answers carry
one user's data and CSRF tokens, and a shared or back-button cache must not keep them.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = ("/docs", "/redoc")
LEAD_FORM_PREFIX = "/l/"
STATIC_PREFIX = "/static/"

FIXED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}
DEFAULTS = {
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
_COMMON = "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"


MAP_PATH = "/map"


def panel_policy(nonce: str, images: str | None = None) -> str:
    """``images``: one more image source (the map page's tile server)."""
    img_src = "'self' data:" + (f" {images}" if images else "")
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; img-src {img_src}; connect-src 'self'; "
        f"worker-src 'self'; manifest-src 'self'; {_COMMON}"
    )


LEAD_FORM_POLICY = f"default-src 'none'; style-src 'self'; img-src 'self'; {_COMMON}"
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https:; "
    f"style-src 'self' 'unsafe-inline' https:; img-src 'self' data: https:; {_COMMON}"
)


def policy_for(path: str, nonce: str, map_tiles: str | None = None) -> str:
    if path.startswith(LEAD_FORM_PREFIX):
        return LEAD_FORM_POLICY
    if path in DOCS_PATHS or path.startswith("/docs/"):
        return DOCS_POLICY
    if path == MAP_PATH:
        return panel_policy(nonce, map_tiles)
    return panel_policy(nonce)


class SecurityHeaders:
    """Adds the security headers to every HTTP response of the wrapped app; ``map_tiles`` is
    the tile server's origin, the one image source the map page adds."""

    def __init__(self, app: ASGIApp, map_tiles: str | None = None) -> None:
        self.app = app
        self.map_tiles = map_tiles

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["content-security-policy"] = policy_for(path, nonce, self.map_tiles)
                for name, value in FIXED.items():
                    headers[name] = value
                for name, value in DEFAULTS.items():
                    headers.setdefault(name, value)
                if not path.startswith(STATIC_PREFIX):
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
