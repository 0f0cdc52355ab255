"""Signing in and out of the panel (session cookie); API tokens (JWT) are web/auth/api.py.

The login form carries a CSRF token of its own: the page sets a random cookie and the form a
token only the panel can derive from it (web/security.py), so another site cannot post a
sign-in to its own account in the victim's browser. Failed sign-ins make the same account
from the same address wait longer each time (web/auth/throttle.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from config.settings import Settings
from web.auth.throttle import Throttles
from web.deps import FormLogin, PoolDep, SettingsDep
from web.http.menu import home_of
from web.http.templating import TEMPLATES
from web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    authenticate,
    close_session,
    login_csrf,
    login_csrf_ok,
    new_login_nonce,
    open_session,
)

router = APIRouter(include_in_schema=False)


def _throttles(request: Request) -> Throttles:
    throttles: Throttles = request.app.state.throttles
    return throttles


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after login."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _login_page(
    request: Request,
    status: int = 200,
    *,
    next: str | None = None,
    email: str = "",
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The form, with a CSRF token for this browser's login cookie (set here when missing)."""
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
    fresh = not nonce or len(nonce) > 64
    if fresh:
        nonce = new_login_nonce()
    assert nonce is not None
    context = {
        "next": _safe_next(next),
        "email": email,
        "error": error,
        "login_csrf": login_csrf(request.app.state.secret_key, nonce),
    }
    response = TEMPLATES.TemplateResponse(
        request, "login.html", context, status_code=status, headers=headers
    )
    if fresh:
        settings: Settings = request.app.state.settings
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            path="/login",
        )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next=next)


def _too_many(wait: int) -> str:
    return f"Too many failed sign-ins. Wait {wait} s and try again."


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=2048)] = None,
    csrf_token: Annotated[str | None, Form(max_length=128)] = None,
) -> Response:
    if not login_csrf_ok(
        request.app.state.secret_key, request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token
    ):
        return _login_page(
            request,
            403,
            next=next,
            email=email,
            error="The sign-in form expired or did not come from this panel. Sign in again.",
        )
    throttles = _throttles(request)
    if wait := await throttles.retry_after(request, email):
        return _login_page(
            request,
            429,
            next=next,
            email=email,
            error=_too_many(wait),
            headers={"Retry-After": str(wait)},
        )
    user = await authenticate(pool, email, password)
    if user is None:
        await throttles.failed(request, email)
        return _login_page(request, 401, next=next, email=email, error="Wrong e-mail or password.")
    await throttles.succeeded(request, email)
    token = await open_session(pool, user, timedelta(hours=settings.session_hours))
    target = _safe_next(next)
    if target == "/":  # each role starts on its own page (the grid, an agent's inbox, …)
        target = home_of(user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, pool: PoolDep, signed_in: FormLogin) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await close_session(pool, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
