"""User management (admins, their tenant's users) and the one-time set-password pages.

An admin invites a user (a role, a fleet owner's fleets) and hands over the one-time link the
panel shows once; changes a user's name, role and fleets; deactivates (their sessions end, an
agent's broker login goes) or reactivates them; resets them (their password and sessions end,
a new link is shown). Another tenant's user answers 404. The link's page ``/password/{token}``
needs no sign-in: the token is the credential (:mod:`store.user_links`).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from broker import dynsec
from config.errors import BrokerError, ConfigError
from store import fleet_admin, user_admin, user_links
from store.user_admin import UserRow
from store.users import ROLES
from web.deps import AdminLogin, BrokerLinkDep, Login, PoolDep, SettingsDep
from web.http import reveal
from web.http.admin_form import AdminFormDep
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
ROLE_NAMES = {
    "admin": "Admin: everything in the tenant",
    "fleet_owner": "Fleet owner: their fleets",
    "agent": "Lead agent: their lead inbox",
    "advertiser": "Advertiser",
}
DONE = {
    "invited": "User invited: send them the link below.",
    "saved": "User saved.",
    "deactivated": "User deactivated: their sessions ended.",
    "reactivated": "User reactivated.",
    "reset": "Password reset: their sessions ended; send them the link below.",
}


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"login": login, "roles": ROLES, "role_names": ROLE_NAMES, **context},
        status_code=status,
    )


def _link(request: Request, settings: SettingsDep, token: str) -> str:
    base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    return f"{base}/password/{token}"


async def _users_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    status: int = 200,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    async with pool.connection() as conn:
        users = await user_admin.users(conn, login.user.tenant_id)
        fleets = await fleet_admin.fleets(conn, login.user)
    return _render(
        request,
        "manage_users.html",
        login,
        status,
        users=users,
        fleets=fleets,
        values=values or {"role": "fleet_owner", "fleets": []},
        error=error,
    )


@router.get("/manage/users", response_class=HTMLResponse)
async def users_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    return await _users_page(request, pool, login)


@router.post("/manage/users", response_class=HTMLResponse, response_model=None)
async def invite(
    request: Request, pool: PoolDep, posted: AdminFormDep, settings: SettingsDep
) -> HTMLResponse | RedirectResponse:
    fields = Fields(posted.form)
    values: dict[str, Any] = {}
    try:
        values = {
            "email": fields.required("email", "E-mail", 254),
            "name": fields.text("name", "Name", user_admin.MAX_NAME),
            "role": fields.required("role", "Role", 20),
            "fleets": fields.texts("fleet", "Fleets", 63, 1000),
        }
        async with pool.connection() as conn:
            user_id, token = await user_admin.invite(
                conn,
                posted.user.tenant_id,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                fleets=values["fleets"],
                actor=posted.user.email,
            )
    except ConfigError as exc:
        if isinstance(exc, user_admin.EmailTaken):  # it may be another tenant's: not echoed
            values["email"] = ""
        return await _users_page(request, pool, posted.login, 422, values, str(exc))
    url = f"/manage/users/{user_id}?done=invited"
    return reveal.redirect_revealing(request, url, _link(request, settings, token))


def _user_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise HTTPException(404, "no such user")
    return int(text)


async def _user_or_404(pool: PoolDep, login: Login, user_id: str) -> UserRow:
    async with pool.connection() as conn:
        found = await user_admin.user(conn, login.user.tenant_id, _user_id(user_id))
    if found is None:
        raise HTTPException(404, "no such user")
    return found


async def _user_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    user: UserRow,
    status: int = 200,
    values: dict[str, Any] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    async with pool.connection() as conn:
        fleets = await fleet_admin.fleets(conn, login.user)
    link = reveal.secret(request)
    response = _render(
        request,
        "manage_user.html",
        login,
        status,
        user=user,
        fleets=fleets,
        values=values or {"name": user.name, "role": user.role, "fleets": user.fleets},
        error=error,
        link=link if link and "/password/" in link else None,
        done=DONE.get(request.query_params.get("done", "")),
        itself=user.user_id == login.user.user_id,
    )
    reveal.clear(request, response)
    return response


@router.get("/manage/users/{user_id}", response_class=HTMLResponse)
async def user_page(
    user_id: str, request: Request, pool: PoolDep, login: AdminLogin
) -> HTMLResponse:
    return await _user_page(request, pool, login, await _user_or_404(pool, login, user_id))


@router.post("/manage/users/{user_id}", response_class=HTMLResponse, response_model=None)
async def save_user(
    user_id: str, request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    user = await _user_or_404(pool, posted.login, user_id)
    fields = Fields(posted.form)
    values: dict[str, Any] = {}
    try:
        values = {
            "name": fields.required("name", "Name", user_admin.MAX_NAME),
            "role": fields.required("role", "Role", 20),
            "fleets": fields.texts("fleet", "Fleets", 63, 1000),
        }
        async with pool.connection() as conn:
            await user_admin.update(
                conn,
                posted.user.tenant_id,
                user.user_id,
                **values,
                actor=posted.user.email,
                by_user_id=posted.user.user_id,
            )
    except ConfigError as exc:
        return await _user_page(request, pool, posted.login, user, 422, values or None, str(exc))
    return RedirectResponse(f"/manage/users/{user.user_id}?done=saved", 303)


@router.post("/manage/users/{user_id}/active", response_class=HTMLResponse, response_model=None)
async def set_active(
    user_id: str, request: Request, pool: PoolDep, link: BrokerLinkDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    """``active=no`` deactivates the user, ``active=yes`` reactivates them."""
    user = await _user_or_404(pool, posted.login, user_id)
    active = Fields(posted.form).text("active", "Active", 3) == "yes"
    try:
        async with pool.connection() as conn:
            await user_admin.set_active(
                conn,
                posted.user.tenant_id,
                user.user_id,
                active,
                actor=posted.user.email,
                by_user_id=posted.user.user_id,
            )
    except ConfigError as exc:
        return await _user_page(request, pool, posted.login, user, 422, error=str(exc))
    if not active and user.role == "agent" and link.target is not None:
        try:  # their lead app's broker login goes too (fleethub agent credentials makes one)
            await dynsec.revoke_agent(link.target, user.user_id)
        except BrokerError as exc:
            log.warning(
                "agent %s deactivated; removing their broker login failed: %s", user_id, exc
            )
            message = (
                f"Deactivated, but the broker kept their lead app's login ({exc}): "
                "deactivate again to retry."
            )
            return await _user_page(request, pool, posted.login, user, 503, error=message)
    done = "reactivated" if active else "deactivated"
    return RedirectResponse(f"/manage/users/{user.user_id}?done={done}", 303)


@router.post("/manage/users/{user_id}/reset", response_class=HTMLResponse, response_model=None)
async def reset(
    user_id: str, request: Request, pool: PoolDep, posted: AdminFormDep, settings: SettingsDep
) -> HTMLResponse | RedirectResponse:
    user = await _user_or_404(pool, posted.login, user_id)
    try:
        async with pool.connection() as conn:
            done = await user_admin.reset(
                conn, posted.user.tenant_id, user.user_id, actor=posted.user.email
            )
    except ConfigError as exc:
        return await _user_page(request, pool, posted.login, user, 422, error=str(exc))
    if done is None:
        raise HTTPException(404, "no such user")
    url = f"/manage/users/{user.user_id}?done=reset"
    return reveal.redirect_revealing(request, url, _link(request, settings, done[1]))


# --- the one-time link (no sign-in) ------------------------------------------------------

NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # the token is in this page's address


def _password_page(
    request: Request, status: int, found: user_links.LinkUser | None, error: str | None
) -> Response:
    return TEMPLATES.TemplateResponse(
        request,
        "set_password.html",
        {"login": None, "found": found, "error": error},
        status_code=status,
        headers=NO_REFERRER,
    )


@router.get("/password/done", response_class=HTMLResponse)
async def password_done(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "password_done.html", {"login": None})


@router.get("/password/{token}", response_class=HTMLResponse)
async def password_form(token: str, request: Request, pool: PoolDep) -> Response:
    async with pool.connection() as conn:
        found = await user_links.valid(conn, token)
    if found is None:
        return _password_page(request, 404, None, None)
    return _password_page(request, 200, found, None)


@router.post("/password/{token}", response_class=HTMLResponse, response_model=None)
async def password_set(token: str, request: Request, pool: PoolDep) -> Response:
    fields = Fields(await request.form())
    try:
        password = fields.required("password", "Password", 200)
        if password != fields.text("again", "Password again", 200):
            raise ConfigError("the two passwords differ: type the same one twice")
        async with pool.connection() as conn:
            await user_links.set_password(conn, token, password)
    except ConfigError as exc:
        async with pool.connection() as conn:
            found = await user_links.valid(conn, token)
        return _password_page(request, 422 if found else 404, found, str(exc))
    return RedirectResponse("/password/done", 303)
