"""Signing in and out of the panel (session cookie), and API tokens (JWT)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from web.deps import CsrfSession, PoolDep, SettingsDep
from web.security import (
    SESSION_COOKIE,
    LoginThrottle,
    authenticate,
    close_session,
    issue_token,
    open_session,
)
from web.templating import TEMPLATES

router = APIRouter()


class Throttles:
    """Failed sign-ins are limited per account and, more loosely, per client address."""

    def __init__(self) -> None:
        self.by_email = LoginThrottle(limit=5, window_s=300)
        self.by_client = LoginThrottle(limit=30, window_s=300)

    def keys(self, request: Request, email: str) -> list[tuple[LoginThrottle, str]]:
        client = request.client.host if request.client else "?"
        return [(self.by_email, email.strip().lower()), (self.by_client, client)]

    def blocked(self, request: Request, email: str) -> bool:
        return any(t.blocked(k) for t, k in self.keys(request, email))

    def failed(self, request: Request, email: str) -> None:
        for t, k in self.keys(request, email):
            t.failed(k)

    def succeeded(self, request: Request, email: str) -> None:
        self.by_email.succeeded(email.strip().lower())


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


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None, "email": ""}
    )


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str | None, Form(max_length=2048)] = None,
) -> Response:
    throttles = _throttles(request)
    if throttles.blocked(request, email):
        return TEMPLATES.TemplateResponse(
            request, "login.html",
            {"next": _safe_next(next), "email": email,
             "error": "Too many failed sign-ins. Wait a few minutes and try again."},
            status_code=429,
        )  # fmt: skip
    user = await authenticate(pool, email, password)
    if user is None:
        throttles.failed(request, email)
        return TEMPLATES.TemplateResponse(
            request, "login.html",
            {"next": _safe_next(next), "email": email, "error": "Wrong e-mail or password."},
            status_code=401,
        )  # fmt: skip
    throttles.succeeded(request, email)
    token = await open_session(pool, user, settings.session_hours)
    target = _safe_next(next)
    if user.role == "agent" and target == "/":  # agents have no grid: their inbox instead
        target = "/agent/leads"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=settings.session_hours * 3600, httponly=True,
        secure=settings.cookie_secure, samesite="lax", path="/",
    )  # fmt: skip
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, pool: PoolDep, session: CsrfSession) -> Response:
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
    if throttles.blocked(request, form.username):
        raise HTTPException(429, "too many failed sign-ins; wait a few minutes")
    user = await authenticate(pool, form.username, form.password)
    if user is None:
        throttles.failed(request, form.username)
        raise HTTPException(401, "wrong e-mail or password", headers={"WWW-Authenticate": "Bearer"})
    minutes = settings.api_token_minutes
    token = issue_token(user, request.app.state.secret_key, minutes)
    return TokenOut(access_token=token, expires_in=minutes * 60)
