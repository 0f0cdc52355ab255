"""Tablet management: the tablets of a user's scope, one tablet's registration, bulk actions.

Admins and fleet owners manage the tablets of the fleets they see (a fleet owner: their own
fleets); a tablet, fleet or car outside that scope answers 404 and changes nothing. The
changes are the CLI's: :func:`store.fleets.add_tablet` (register, move, re-time),
:mod:`store.revocation` with the broker (revoke), :mod:`store.device_tokens`; each is audited
and reaches the hub by ``NOTIFY fleethub_tablets``. A new secret (a broker password, a device
token) is shown once, after a redirect (web/http/reveal.py).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from broker import dynsec
from config.errors import BrokerError, ConfigError
from store import device_tokens, fleet_admin, tablet_admin
from store.fleets import TabletSpec, add_tablet
from store.tablet_admin import TabletRow
from web.deps import BrokerLinkDep, FleetLogin, FormLogin, Login, PoolDep
from web.device.auth import VerifiedDevicesDep
from web.http import reveal
from web.http.templating import TEMPLATES
from web.manage.fields import Fields
from web.pairing import codes as pairing

router = APIRouter(include_in_schema=False)
PAGE = 200
MAX_INTERVAL_S = 86_400
MAX_BULK = 500  # one push takes at most this many targets (web/emergency/form.py)
DONE = {
    "registered": "Tablet registered.",
    "saved": "Saved: the hub applies it now.",
    "moved": "Tablets moved.",
    "revoked": "Revoked: its tokens ended and the broker disconnected it.",
    "token": "New device token made.",
    "tokens-revoked": "Every device token of the tablet was revoked.",
}


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, template, {"login": login, **context}, status_code=status
    )


def _like(q: str) -> str | None:
    if not q:
        return None
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _query(request: Request, name: str, most: int = 100) -> str:
    value = request.query_params.get(name, "").strip()
    return value[:most]


async def _list_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    status: int = 200,
    error: str | None = None,
    selected: frozenset[str] = frozenset(),
) -> HTMLResponse:
    fleet = _query(request, "fleet", 63)
    q = _query(request, "q")
    revoked = request.query_params.get("show") == "revoked"
    page_text = _query(request, "page", 6)
    page = int(page_text) if page_text.isdigit() and 0 < int(page_text) < 100_000 else 1
    async with pool.connection() as conn:
        fleets = await fleet_admin.fleets(conn, login.user)
        rows = await tablet_admin.tablets(
            conn,
            login.user,
            fleet_id=fleet or None,
            like=_like(q),
            revoked=revoked,
            limit=PAGE + 1,
            offset=(page - 1) * PAGE,
        )
    more = len(rows) > PAGE
    filters = {"fleet": fleet, "q": q, "show": "revoked" if revoked else ""}
    return _render(
        request,
        "manage_tablets.html",
        login,
        status,
        tablets=rows[:PAGE],
        fleets=fleets,
        filters=filters,
        page=page,
        more=more,
        page_url=lambda n: "/manage/tablets?" + urlencode({**filters, "page": n}),
        error=error,
        selected=selected,
        done=DONE.get(_query(request, "done", 20)),
    )


@router.get("/manage/tablets", response_class=HTMLResponse)
async def tablets_page(request: Request, pool: PoolDep, login: FleetLogin) -> HTMLResponse:
    return await _list_page(request, pool, login)


async def _revoke(
    pool: PoolDep, link: BrokerLinkDep, login: Login, tablet_id: str, verified: Any
) -> bool:
    """Revoke in scope (store, then broker); False when not in scope. Raises BrokerError."""
    found = await pairing.revoke(pool, link.target, login.user, login.user.email, tablet_id)
    if found:
        verified.forget(tablet_id)
    return found


@router.post("/manage/tablets/bulk", response_class=HTMLResponse, response_model=None)
async def bulk(
    request: Request,
    pool: PoolDep,
    link: BrokerLinkDep,
    login: FleetLogin,
    form: FormLogin,
    verified: VerifiedDevicesDep,
) -> HTMLResponse | RedirectResponse:
    """Move, push to or revoke the tablets ticked on the list."""
    fields = Fields(await request.form())
    ids: list[str] = []
    back = fields.text("back", "Back", 400)
    back = back if back.startswith("/manage/tablets") else "/manage/tablets"
    try:
        ids = fields.texts("tablet", "Tablets", 64, MAX_BULK)
        action = fields.text("action", "Action", 10)
        if not ids:
            raise ConfigError("Tick at least one tablet first.")
        async with pool.connection() as conn:
            mine = [s.tablet_id for s in await tablet_admin.specs(conn, login.user, ids)]
        if len(mine) != len(set(ids)):  # not in scope, or revoked meanwhile: nothing happens
            raise HTTPException(404, "no such tablet: reload the list")
        if action == "push":
            if not login.user.is_admin:
                raise HTTPException(403, "pushing a playlist needs the admin role")
            return RedirectResponse("/push?" + urlencode({"tablets": " ".join(mine)}), 303)
        if action == "move":
            fleet_id = fields.required("fleet_id", "Move to fleet", 63)
            car_id = fields.text("car_id", "Car", 64) or None
            async with pool.connection() as conn:
                await tablet_admin.move(conn, login.user, mine, fleet_id, car_id, login.user.email)
            return RedirectResponse(_with_done(back, "moved"), 303)
        if action == "revoke":
            for tablet_id in mine:
                await _revoke(pool, link, login, tablet_id, verified)
            return RedirectResponse(_with_done(back, "revoked"), 303)
        raise ConfigError("Choose an action: move, push or revoke.")
    except ConfigError as exc:
        return await _list_page(request, pool, login, 422, str(exc), frozenset(ids))
    except BrokerError as exc:
        message = f"The broker could not remove a tablet's credentials: {exc}. Revoke again."
        return await _list_page(request, pool, login, 503, message, frozenset(ids))


def _with_done(url: str, done: str) -> str:
    return url + ("&" if "?" in url else "?") + f"done={done}"


# --- registering -----------------------------------------------------------------------


def _timing(fields: Fields) -> tuple[int, int | None]:
    interval = fields.duration("interval", "Heartbeat every", 60, MAX_INTERVAL_S) or 60
    offline = fields.duration("offline_after", "Offline after", None, 7 * MAX_INTERVAL_S)
    return interval, offline


@router.get("/manage/tablets/new", response_class=HTMLResponse)
async def new_tablet_page(request: Request, pool: PoolDep, login: FleetLogin) -> HTMLResponse:
    return await _new_page(request, pool, login, {"fleet_id": _query(request, "fleet", 63)})


async def _new_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    values: dict[str, str],
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with pool.connection() as conn:
        fleets = await fleet_admin.fleets(conn, login.user)
    return _render(
        request,
        "manage_tablet_new.html",
        login,
        status,
        fleets=fleets,
        values=values,
        error=error,
    )


@router.post("/manage/tablets", response_class=HTMLResponse, response_model=None)
async def register(
    request: Request, pool: PoolDep, link: BrokerLinkDep, login: FleetLogin, form: FormLogin
) -> HTMLResponse | RedirectResponse:
    """A new tablet in a fleet of the user's scope, with broker credentials (shown once)."""
    fields = Fields(await request.form())
    try:
        tablet_id = fields.required("tablet_id", "Tablet id", 64)
        fleet_id = fields.required("fleet_id", "Fleet", 63)
        car_id = fields.text("car_id", "Car", 64) or None
        interval, offline = _timing(fields)
        async with pool.connection() as conn:
            if not await fleet_admin.fleets(conn, login.user, fleet_id):
                raise ConfigError(f"no fleet {fleet_id!r}")
            if link.target is None:
                raise ConfigError("no broker is configured for the panel: use fleethub tablet add")
            password = secrets.token_urlsafe(24)
            spec = TabletSpec(tablet_id, fleet_id, car_id, interval, offline)
            async with conn.transaction():  # a broker failure leaves nothing behind
                await add_tablet(conn, spec, login.user.email, new_only=True)
                await dynsec.provision_tablet(link.target, tablet_id, password)
    except ConfigError as exc:
        values = {k: v for k, v in fields.form.items() if isinstance(v, str)}
        return await _new_page(request, pool, login, values, str(exc), 422)
    except BrokerError as exc:
        values = {k: v for k, v in fields.form.items() if isinstance(v, str)}
        message = f"The broker refused the tablet's credentials ({exc}); nothing was registered."
        return await _new_page(request, pool, login, values, message, 503)
    url = f"/manage/tablets/{tablet_id}?done=registered"
    return reveal.redirect_revealing(request, url, f"broker:{password}")


# --- one tablet ------------------------------------------------------------------------


async def _tablet_or_404(pool: PoolDep, login: Login, tablet_id: str) -> TabletRow:
    async with pool.connection() as conn:
        found = await tablet_admin.tablet(conn, login.user, tablet_id)
    if found is None:
        raise HTTPException(404, f"no tablet {tablet_id!r}")
    return found


async def _tablet_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    tablet: TabletRow,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    async with pool.connection() as conn:
        fleets = await fleet_admin.fleets(conn, login.user)
    if values is None:
        values = {
            "fleet_id": tablet.fleet_id,
            "car_id": tablet.car_id or "",
            "interval": f"{tablet.heartbeat_interval_s}s",
            "offline_after": f"{tablet.offline_after_s}s",
        }
    kind, _, value = (reveal.secret(request) or "").partition(":")
    response = _render(
        request,
        "manage_tablet.html",
        login,
        status,
        tablet=tablet,
        fleets=fleets,
        values=values,
        error=error,
        done=DONE.get(_query(request, "done", 20)),
        secret=value if kind in ("broker", "token") else None,
        secret_kind=kind,
    )
    reveal.clear(request, response)
    return response


@router.get("/manage/tablets/{tablet_id}", response_class=HTMLResponse)
async def tablet_page(
    tablet_id: str, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    return await _tablet_page(request, pool, login, await _tablet_or_404(pool, login, tablet_id))


@router.post("/manage/tablets/{tablet_id}", response_class=HTMLResponse, response_model=None)
async def save_tablet(
    tablet_id: str, request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> HTMLResponse | RedirectResponse:
    """Move the tablet to a fleet or car of the user's scope; its heartbeat timing."""
    tablet = await _tablet_or_404(pool, login, tablet_id)
    if tablet.revoked_at is not None:
        raise HTTPException(409, "the tablet is revoked: register it again to change it")
    fields = Fields(await request.form())
    try:
        fleet_id = fields.required("fleet_id", "Fleet", 63)
        car_id = fields.text("car_id", "Car", 64) or None
        interval, offline = _timing(fields)
        async with pool.connection() as conn:
            if not await fleet_admin.fleets(conn, login.user, fleet_id):
                raise ConfigError(f"no fleet {fleet_id!r}")
            async with conn.transaction():
                specs = await tablet_admin.specs(conn, login.user, [tablet_id])
                if not specs:
                    raise HTTPException(404, f"no tablet {tablet_id!r}")
                spec = replace(
                    specs[0],
                    fleet_id=fleet_id,
                    car_id=car_id,
                    heartbeat_interval_s=interval,
                    offline_after_s=offline,
                )
                await add_tablet(conn, spec, login.user.email)
    except ConfigError as exc:
        values = {k: v for k, v in fields.form.items() if isinstance(v, str)}
        return await _tablet_page(request, pool, login, tablet, values, str(exc), 422)
    return RedirectResponse(f"/manage/tablets/{tablet_id}?done=saved", 303)


@router.post("/manage/tablets/{tablet_id}/revoke", response_class=HTMLResponse, response_model=None)
async def revoke_tablet(
    tablet_id: str,
    request: Request,
    pool: PoolDep,
    link: BrokerLinkDep,
    login: FleetLogin,
    form: FormLogin,
    verified: VerifiedDevicesDep,
) -> HTMLResponse | RedirectResponse:
    tablet = await _tablet_or_404(pool, login, tablet_id)
    try:
        await _revoke(pool, link, login, tablet_id, verified)
    except BrokerError as exc:
        message = f"The broker could not remove the tablet's credentials: {exc}. Revoke again."
        return await _tablet_page(request, pool, login, tablet, None, message, 503)
    return RedirectResponse(f"/manage/tablets/{tablet_id}?done=revoked", 303)


@router.post("/manage/tablets/{tablet_id}/token", response_class=HTMLResponse, response_model=None)
async def new_token(
    tablet_id: str, request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> HTMLResponse | RedirectResponse:
    """A new device token for the HTTP device API, shown once."""
    tablet = await _tablet_or_404(pool, login, tablet_id)
    try:
        async with pool.connection() as conn:
            token = await device_tokens.issue(conn, tablet.tablet_id, login.user.email)
    except ConfigError as exc:
        return await _tablet_page(request, pool, login, tablet, None, str(exc), 409)
    url = f"/manage/tablets/{tablet_id}?done=token"
    return reveal.redirect_revealing(request, url, f"token:{token}")


@router.post("/manage/tablets/{tablet_id}/tokens/revoke", response_model=None)
async def revoke_tokens(
    tablet_id: str, pool: PoolDep, login: FleetLogin, form: FormLogin, verified: VerifiedDevicesDep
) -> RedirectResponse:
    tablet = await _tablet_or_404(pool, login, tablet_id)
    async with pool.connection() as conn:
        await device_tokens.revoke(conn, tablet.tablet_id, login.user.email)
    verified.forget(tablet_id)
    return RedirectResponse(f"/manage/tablets/{tablet_id}?done=tokens-revoked", 303)
