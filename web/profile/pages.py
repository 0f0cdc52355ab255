"""The signed-in user's own page: who they are, the time zone of their times, and their
personal API tokens (made, listed and revoked here; each shown once, post/redirect/get)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web.deps import FormLogin, Login, LoginDep, PoolDep
from web.http import flash
from web.http.templating import TEMPLATES
from web.profile import settings
from web.profile.settings import DEFAULT_LIFETIME, LIFETIMES, ProfileInputError

router = APIRouter(include_in_schema=False)

NEW_TOKEN = "fleethub_new_token"  # noqa: S105 - a cookie name, not a secret
DONE = {
    "timezone": "Your time zone is saved: every time in the panel is shown in it.",
    "revoked": "The token was revoked: it stops working at once.",
}


async def _page(request: Request, login: Login, status: int = 200, **extra: Any) -> HTMLResponse:
    pool = request.app.state.pool
    context: dict[str, Any] = {
        "login": login,
        "tokens": await settings.tokens(pool, login.user),
        "zones": settings.zones(),
        "lifetimes": LIFETIMES,
        "default_lifetime": DEFAULT_LIFETIME,
        "now": datetime.now(UTC),
        "new_token": None,
        "done": None,
        "zone_error": None,
        "token_error": None,
        "token_name": "",
        "api_base": str(request.base_url).rstrip("/"),
        **extra,
    }
    return TEMPLATES.TemplateResponse(request, "profile.html", context, status_code=status)


@router.get("/profile", response_class=HTMLResponse)
async def profile_page(
    request: Request,
    login: LoginDep,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    new = flash.get(request, NEW_TOKEN)
    response = await _page(request, login, new_token=new, done=DONE.get(done or ""))
    if new is not None:
        flash.drop(response, NEW_TOKEN, "/profile")  # shown once
    return response


@router.post("/profile/timezone", response_class=HTMLResponse)
async def save_timezone(
    request: Request,
    pool: PoolDep,
    login: FormLogin,
    timezone: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    try:
        await settings.set_zone(pool, login.user, timezone)
    except ProfileInputError as exc:
        return await _page(request, login, 422, zone_error=str(exc))
    return RedirectResponse("/profile?done=timezone#timezone", status_code=303)


@router.post("/profile/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request,
    pool: PoolDep,
    login: FormLogin,
    name: Annotated[str, Form(max_length=400)] = "",
    lifetime: Annotated[str, Form(max_length=16)] = DEFAULT_LIFETIME,
) -> Response:
    try:
        label, token = await settings.create_token(pool, login.user, name, lifetime)
    except ProfileInputError as exc:
        return await _page(request, login, 422, token_error=str(exc), token_name=name[:100])
    response = RedirectResponse("/profile#new-token", status_code=303)
    flash.put(response, request, NEW_TOKEN, "/profile", {"name": label, "token": token}, 300)
    return response


@router.post("/profile/tokens/{token_id}/revoke")
async def revoke_token(token_id: str, pool: PoolDep, login: FormLogin) -> Response:
    if not token_id.isdigit() or len(token_id) > 18:
        raise HTTPException(404, "no such token of yours")
    if not await settings.revoke_token(pool, login.user, int(token_id)):
        raise HTTPException(404, "no such token of yours, or it was already revoked")
    return RedirectResponse("/profile?done=revoked#tokens", status_code=303)
