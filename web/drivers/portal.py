"""A driver's own pages: signing in with the one-time link an admin or their fleet owner
sent (``/signin/{token}``: a confirm page, so a chat app's link preview does not spend it),
and their home (``/driver``): this month so far, their past statements, and their car's
tablets with any open incident.

The confirm form carries a token bound to a cookie of this browser (as the login form does,
web/security.py), so another site cannot sign a visitor in to a driver's account.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from billing.errors import BillingError
from billing.months import label, month_at, previous_month, title
from store import billing_closes, driver_links, drivers
from web.deps import LoginDep, PoolDep, SettingsDep
from web.earnings import access
from web.http.templating import TEMPLATES
from web.security import SESSION_COOKIE, login_csrf, login_csrf_ok, new_login_nonce, open_session

router = APIRouter(include_in_schema=False)
CSRF_COOKIE = "fleethub_signin_csrf"
NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # the token is in the page's address
PAST_MONTHS = 12


def _confirm_page(
    request: Request, token: str, status: int, name: str | None, error: str | None
) -> Response:
    nonce = request.cookies.get(CSRF_COOKIE)
    fresh = not nonce or len(nonce) > 64
    if fresh:
        nonce = new_login_nonce()
    assert nonce is not None
    response = TEMPLATES.TemplateResponse(
        request,
        "driver_signin.html",
        {
            "login": None,
            "name": name,
            "error": error,
            "token": token,
            "csrf": login_csrf(request.app.state.secret_key, nonce),
        },
        status_code=status,
        headers=NO_REFERRER,
    )
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, nonce, httponly=True, samesite="lax",
            secure=request.url.scheme == "https", path="/signin",
        )  # fmt: skip
    return response


@router.get("/signin/{token}", response_class=HTMLResponse)
async def confirm(token: str, request: Request, pool: PoolDep) -> Response:
    async with pool.connection() as conn:
        found = await driver_links.preview(conn, token)
    if found is None:
        return _confirm_page(request, token, 404, None, None)
    return _confirm_page(request, token, 200, found.name, None)


@router.post("/signin/{token}", response_class=HTMLResponse)
async def sign_in(
    token: str,
    request: Request,
    pool: PoolDep,
    settings: SettingsDep,
    csrf_token: Annotated[str | None, Form(max_length=128)] = None,
) -> Response:
    if not login_csrf_ok(
        request.app.state.secret_key, request.cookies.get(CSRF_COOKIE), csrf_token
    ):
        async with pool.connection() as conn:
            found = await driver_links.preview(conn, token)
        error = "The page expired or did not come from this panel: press the button again."
        return _confirm_page(request, token, 403, found.name if found else None, error)
    try:
        async with pool.connection() as conn:
            user = await driver_links.use(conn, token)
    except BillingError as exc:
        return _confirm_page(request, token, 404, None, str(exc))
    session = await open_session(pool, user, timedelta(hours=settings.session_hours))
    response = RedirectResponse("/driver", status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session, max_age=settings.session_hours * 3600, httponly=True,
        secure=settings.cookie_secure, samesite="lax", path="/",
    )  # fmt: skip
    response.delete_cookie(CSRF_COOKIE, path="/signin")
    return response


@router.get("/driver", response_class=HTMLResponse)
async def home(request: Request, pool: PoolDep, login: LoginDep) -> HTMLResponse:
    if login.user.role != "driver":
        raise HTTPException(403, "this page is a driver's own")
    async with pool.connection() as conn:
        me = await drivers.of_user(conn, login.user)
        closes = await billing_closes.live(conn, login.user.tenant_id)
        if me is None:
            raise HTTPException(404, "you are no longer in the driver register")
        tablets = await drivers.car_tablets(conn, me.fleet_id, me.car_today) if me.car_today else []
        incidents = (
            await drivers.car_incidents(conn, me.fleet_id, me.car_today) if me.car_today else []
        )
    month = month_at(datetime.now(UTC), me.timezone)
    current = await access.statements_for(pool, login.user, month)
    past: list[Any] = []
    earlier = month
    for _ in range(PAST_MONTHS):
        earlier = previous_month(earlier)
        if earlier in closes:
            found = await access.statements_for(pool, login.user, earlier)
            past += [(earlier, s) for s in found.drivers]
    return TEMPLATES.TemplateResponse(
        request,
        "driver_home.html",
        {
            "login": login,
            "me": me,
            "month": month,
            "statement": current.drivers[0] if current.drivers else None,
            "previous": previous_month(month),
            "previous_closed": previous_month(month) in closes,
            "past": past,
            "tablets": tablets,
            "incidents": incidents,
            "label": label,
            "title": title,
            "now": datetime.now(UTC),
        },
    )
