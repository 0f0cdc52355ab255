"""How the panel answers what went wrong: a page for browsers, JSON for the API and scripts.

No page a browser opens answers raw JSON: an HTTP error or a query value a route cannot
use gets the error page, with the signed-in user's menu, sign-out and a way back to
their own start page (web/http/menu.py). ``/api/`` and ``/v1/`` answer JSON as before,
except that a browser opening an ``/api/`` link without a token is told how to use one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import psycopg
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from config.settings import Settings
from web.deps import Login, LoginRequired, optional_login
from web.http.templating import TEMPLATES

TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Cannot use that value",
    503: "Temporarily unavailable",
}
MACHINE_PREFIXES = ("/api/", "/v1/")


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def is_machine_path(request: Request) -> bool:
    return request.url.path.startswith(MACHINE_PREFIXES)


def readable(errors: Sequence[Any]) -> str:
    """FastAPI's validation errors as one sentence: which value, what was wrong."""
    parts = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("query", "body", "path", "form")]
        name = ".".join(loc) or "the request"
        given = e.get("input")
        shown = f" {str(given)[:40]!r}" if isinstance(given, str | int | float) else ""
        message = str(e.get("msg", "is not valid")).rstrip(".")
        parts.append(f"{name}{shown}: {message[:1].lower()}{message[1:]}")
    return "; ".join(parts) + "."


async def error_page(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    login: Login | None = None,
    template: str = "error.html",
) -> Response:
    """The error page, with the menu of whoever is signed in (read here when not given)."""
    if login is None and status != 503:
        login = await optional_login(request)
    title = TITLES.get(status, "Something went wrong")
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"login": login, "status": status, "title": title, "detail": detail},
        status_code=status,
        headers=headers,
    )


def install(app: FastAPI, settings: Settings) -> None:
    """Register the panel's exception handlers on ``app``."""

    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages get a page; the API (and scripts asking for JSON) get FastAPI's JSON."""
        if not wants_html(request):
            return await http_exception_handler(request, exc)
        headers = getattr(exc, "headers", None)
        if is_machine_path(request):
            if exc.status_code == 401 and request.url.path.startswith("/api/"):
                detail = exc.detail if isinstance(exc.detail, str) else TITLES[401]
                return await error_page(request, 401, detail, headers, template="api_help.html")
            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        return await error_page(request, exc.status_code, detail, headers)

    @app.exception_handler(RequestValidationError)
    async def bad_value(request: Request, exc: RequestValidationError) -> Response:
        """A value a page cannot use: the error page says which (the API keeps its JSON)."""
        if is_machine_path(request) or not wants_html(request):
            return await request_validation_exception_handler(request, exc)
        return await error_page(
            request, 422, "This address has a value the panel cannot use: " + readable(exc.errors())
        )

    @app.exception_handler(psycopg.OperationalError)
    async def store_away(request: Request, exc: psycopg.OperationalError) -> Response:
        """The store is away (StoreUnavailable at once, or a pool timeout or broken
        connection that made the gate suspect it): 503 + Retry-After, a page for browsers."""
        request.app.state.store_gate.suspect()
        retry_after = settings.web_store_retry_after_s
        headers = {"Retry-After": str(retry_after)}
        if is_machine_path(request) or not wants_html(request):
            detail = "the store is unavailable: try again in a few seconds"
            return JSONResponse({"detail": detail}, status_code=503, headers=headers)
        again = request.url.path if request.method == "GET" else "/"
        return TEMPLATES.TemplateResponse(
            request,
            "unavailable.html",
            {"login": None, "retry_after": retry_after, "again": again},
            status_code=503,
            headers=headers,
        )

    @app.exception_handler(psycopg.DataError)
    async def store_refused(request: Request, exc: psycopg.DataError) -> Response:
        """Input the store cannot hold that slipped past web/http/unstorable.py: a 422, no 500."""
        detail = f"the store refused a value: {exc}"
        return await http_error(request, StarletteHTTPException(422, detail))
