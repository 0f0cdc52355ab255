"""Signing in and out of the panel (session cookie), and API tokens (JWT).

The login form carries a CSRF token of its own: the page sets a random cookie and the form a
token only the panel can derive from it (web/security.py), so another site cannot post a
sign-in to its own account in the victim's browser. Failed sign-ins make the same account
from the same address wait longer each time (web/auth/throttle.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, OAuth2PasswordRequestForm
from pydantic import BaseModel

from config.settings import Settings
from web.auth.throttle import Throttles
from web.deps import FormLogin, PoolDep, SettingsDep, bearer, bearer_user
from web.http.templating import TEMPLATES
from web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    authenticate,
    close_session,
    issue_token,
    login_csrf,
    login_csrf_ok,
    new_login_nonce,
    open_session,
    token_claims,
)

router = APIRouter()


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


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next=next)


def _too_many(wait: int) -> str:
    return f"Too many failed sign-ins. Wait {wait} s and try again."


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
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
    if user.role == "agent" and target == "/":  # agents have no grid: their inbox instead
        target = "/agent/leads"
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


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, pool: PoolDep, signed_in: FormLogin) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await close_session(pool, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


@router.post("/api/v1/auth/token", tags=["auth"])
async def api_token(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenOut:
    """Trade an e-mail (``username``) and password for a bearer token."""
    throttles = _throttles(request)
    if wait := await throttles.retry_after(request, form.username):
        raise HTTPException(
            429, f"too many failed sign-ins; wait {wait} s", headers={"Retry-After": str(wait)}
        )
    user = await authenticate(pool, form.username, form.password)
    if user is None:
        await throttles.failed(request, form.username)
        raise HTTPException(401, "wrong e-mail or password", headers={"WWW-Authenticate": "Bearer"})
    await throttles.succeeded(request, form.username)
    minutes = settings.api_token_minutes
    session = await open_session(pool, user, timedelta(minutes=minutes), kind="api")
    token = issue_token(user, request.app.state.secret_key, minutes, session)
    return TokenOut(access_token=token, expires_in=minutes * 60)


@router.post(
    "/api/v1/auth/logout", tags=["auth"], status_code=204, dependencies=[Depends(bearer_user)]
)
async def api_logout(
    request: Request,
    pool: PoolDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """End the bearer token's session: the token (and nothing else) stops working at once."""
    claims = token_claims(
        credentials.credentials if credentials else "", request.app.state.secret_key
    )
    if claims is not None:
        await close_session(pool, claims[1])
    return Response(status_code=204)
