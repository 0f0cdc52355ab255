"""Every panel response carries the security headers: every route of the app's route table,
every method, anonymous and as an admin (cookie and bearer), whatever the status.

Issue #18 item 10 found no Content-Security-Policy, no X-Frame-Options or frame-ancestors (the
emergency-push and revoke forms could be framed), no nosniff and no ``Cache-Control:
no-store`` on signed-in pages. The sweep is built from ``app.routes``, so a new route is
covered without editing this file. The pages rendered for the admin are also checked to work
under their policy: every inline script and style carries the response's nonce, and no
inline event handler or style attribute is left (the browser would ignore them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute, Mount, Route

from tests.web.conftest import (  # noqa: F401 - fixtures used by name
    TenantFactory,
    api_token,
    panel,
    panel_settings,
    sign_in,
    tenant_factory,
)

pytestmark = pytest.mark.faults

STREAMS = re.compile(r"/stream$")
# Public files, the same for everyone (the service worker's own route revalidates: no-cache).
STATIC = ("/static/", "/agent-sw.js")
DOCS = ("/docs", "/redoc")  # FastAPI's pages: their own, looser policy (web/http/headers.py)
NONCE = re.compile(r"'nonce-([A-Za-z0-9_-]+)'")


def _routes(routes: Sequence[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, those of included routers too."""
    for route in routes:
        if (inner := getattr(route, "original_router", None)) is not None:
            yield from _routes(inner.routes)
        else:
            yield route


def _requests(client: TestClient) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, path parameters filled with a dummy."""
    for route in _routes(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            yield "GET", f"{route.path}/panel.css"
        elif isinstance(route, APIRoute | Route):
            path = re.sub(r"\{[^}]+\}", "x-missing", route.path)
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, path


def _check_headers(method: str, path: str, status: int, headers: dict[str, str]) -> list[str]:
    where = f"{method} {path} ({status})"
    problems: list[str] = []
    csp = headers.get("content-security-policy", "")
    for directive in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        if directive not in csp:
            problems.append(f"{where}: CSP without {directive}: {csp!r}")
    if "unsafe-inline" in csp and not path.startswith(DOCS):
        problems.append(f"{where}: CSP allows inline code: {csp!r}")
    wanted = {"x-frame-options": "DENY", "x-content-type-options": "nosniff"}
    for name, value in wanted.items():
        if headers.get(name) != value:
            problems.append(f"{where}: {name} is {headers.get(name)!r}")
    if not headers.get("referrer-policy"):
        problems.append(f"{where}: no Referrer-Policy")
    if not path.startswith(STATIC) and "no-store" not in headers.get("cache-control", ""):
        problems.append(f"{where}: Cache-Control is {headers.get('cache-control')!r}")
    return problems


def _check_page(path: str, headers: dict[str, str], html: str) -> list[str]:
    """The page works under its CSP: inline code carries the nonce, nothing else is inline."""
    problems: list[str] = []
    nonce = NONCE.search(headers.get("content-security-policy", ""))
    for tag in re.findall(r"<(?:script|style)\b[^>]*>", html):
        if "src=" in tag:
            continue
        if nonce is None or f'nonce="{nonce.group(1)}"' not in tag:
            problems.append(f"{path}: inline {tag!r} without the response's nonce")
    for attribute in re.findall(r"\s(?:on[a-z]+|style)=\"[^\"]*\"", html):
        problems.append(f"{path}: inline {attribute.strip()!r} (blocked by the CSP)")
    return problems


def _sweep(client: TestClient, headers: dict[str, str]) -> tuple[list[str], int, list[str]]:
    problems: list[str] = []
    pages: list[str] = []
    count = 0
    for method, path in _requests(client):
        if path == "/logout":  # the sweep must not sign itself out
            continue
        with client.stream(method, path, headers=headers, follow_redirects=False) as response:
            count += 1
            got = dict(response.headers)
            problems += _check_headers(method, path, response.status_code, got)
            html = "text/html" in got.get("content-type", "")
            checked = not STREAMS.search(path) and not path.startswith(DOCS)
            if method == "GET" and response.status_code == 200 and html and checked:
                problems += _check_page(path, got, response.read().decode())
                pages.append(path)
    return problems, count, pages


def test_every_route_has_the_security_headers(
    panel: TestClient,  # noqa: F811 - the fixture
    tenant_factory: TenantFactory,  # noqa: F811 - the fixture
) -> None:
    tenant = tenant_factory()
    anonymous, anonymous_count, _ = _sweep(panel, {})
    csrf = sign_in(panel, tenant.admin)
    admin, admin_count, pages = _sweep(
        panel, {**api_token(panel, tenant.admin), "Accept": "text/html"}
    )
    assert anonymous_count == admin_count > 60
    assert {"/", "/push", "/heatmap", "/alerts", "/playlists", "/login"} <= set(pages)
    assert anonymous + admin == [], "\n".join(anonymous + admin)
    assert csrf


def test_pages_with_data_work_under_their_policy(
    panel: TestClient,  # noqa: F811 - the fixture
    tenant_factory: TenantFactory,  # noqa: F811 - the fixture
) -> None:
    """The tablet page (revoke form, inline script) and the public lead form's own policy."""
    tenant = tenant_factory()
    sign_in(panel, tenant.admin)
    tablet = panel.get(f"/tablets/{tenant.all_tablets[0]}")
    assert tablet.status_code == 200
    assert 'data-confirm="Revoke' in tablet.text
    assert _check_page("/tablets/…", dict(tablet.headers), tablet.text) == []
    panel.cookies.clear()
    lead = panel.get("/l/no-such-code")
    assert lead.status_code == 404
    csp = lead.headers["content-security-policy"]
    assert "script-src" not in csp
    assert csp.startswith("default-src 'none'")
    assert lead.headers["referrer-policy"] == "no-referrer"  # the code is in the URL
    assert lead.headers["cache-control"] == "no-store"
