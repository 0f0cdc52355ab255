"""Fleet management: the fleets a user sees, a fleet's settings and its cars.

Admins create fleets and change any of their tenant's; a fleet owner changes the fleets
linked to them (settings and cars) and sees no other. A fleet or car outside the user's scope
answers 404 and changes nothing. The changes are :func:`store.fleets.add_fleet` (as
``fleethub fleet add``) and :mod:`store.fleet_admin`, each audited and ``NOTIFY``-ed to the hub.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from config.durations import format_duration
from config.errors import ConfigError
from store import fleet_admin
from store.fleet_admin import FleetRow
from store.fleets import MAX_NAME, FleetSpec, add_fleet
from web.deps import AdminLogin, FleetLogin, FormLogin, Login, PoolDep
from web.http.admin_form import AdminFormDep
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
ZONES = sorted(available_timezones())
MAX_ALERT_S = 7 * 86_400
DONE = {
    "created": "Fleet created.",
    "saved": "Settings saved: the hub applies them now.",
    "car": "Car added.",
    "moved": "Car moved, with its tablets.",
    "removed": "Car removed: its tablets stay in the fleet, in no car.",
}


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"login": login, "zones": ZONES, "format_duration": format_duration, **context},
        status_code=status,
    )


def _done(request: Request) -> str | None:
    return DONE.get(request.query_params.get("done", ""))


def _spec(fields: Fields, fleet_id: str, tenant_id: str) -> FleetSpec:
    """The fleet's settings as posted (each checked; the store checks zone and hours)."""
    return FleetSpec(
        fleet_id=fleet_id,
        timezone=fields.text("timezone", "Time zone", 64) or "UTC",
        alert_after_s=fields.duration("alert_after", "Alert delay", 300, MAX_ALERT_S) or 300,
        hours=fields.text("hours", "Operating hours", 400),
        flap_limit=fields.integer("flap_limit", "Flap limit", 1, 1000, 6),
        name=fields.text("name", "Name", MAX_NAME) or None,
        tenant_id=tenant_id,
    )


@router.get("/manage/fleets", response_class=HTMLResponse)
async def fleets_page(request: Request, pool: PoolDep, login: FleetLogin) -> HTMLResponse:
    async with pool.connection() as conn:
        rows = await fleet_admin.fleets(conn, login.user)
    return _render(request, "manage_fleets.html", login, fleets=rows, done=_done(request))


@router.get("/manage/fleets/new", response_class=HTMLResponse)
async def new_fleet_page(request: Request, login: AdminLogin) -> HTMLResponse:
    return _render(request, "manage_fleet_new.html", login, values={}, error=None)


@router.post("/manage/fleets", response_class=HTMLResponse, response_model=None)
async def create_fleet(
    request: Request, pool: PoolDep, posted: AdminFormDep
) -> HTMLResponse | RedirectResponse:
    fields = Fields(posted.form)
    try:
        fleet_id = fields.required("fleet_id", "Fleet id", 63).lower()
        spec = _spec(fields, fleet_id, posted.user.tenant_id)
        async with pool.connection() as conn:
            await add_fleet(conn, spec, posted.user.email, new_only=True)
    except ConfigError as exc:
        values = {k: v for k, v in posted.form.items() if isinstance(v, str)}
        return _render(
            request, "manage_fleet_new.html", posted.login, 422, values=values, error=str(exc)
        )
    return RedirectResponse(f"/manage/fleets/{fleet_id}?done=created", status_code=303)


async def _fleet_or_404(pool: PoolDep, login: Login, fleet_id: str) -> FleetRow:
    async with pool.connection() as conn:
        found = await fleet_admin.fleets(conn, login.user, fleet_id)
    if not found:
        raise HTTPException(404, f"no fleet {fleet_id!r}")
    return found[0]


async def _fleet_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    fleet: FleetRow,
    status: int = 200,
    values: dict[str, str] | None = None,
    error: str | None = None,
    car_error: str | None = None,
) -> HTMLResponse:
    async with pool.connection() as conn:
        cars = await fleet_admin.cars(conn, login.user, fleet.fleet_id)
        others = await fleet_admin.fleets(conn, login.user)
    if values is None:
        values = {
            "name": fleet.name,
            "timezone": fleet.timezone,
            "hours": fleet.operating_hours,
            "alert_after": format_duration(fleet.alert_after_s),
            "flap_limit": str(fleet.flap_limit),
        }
    return _render(
        request,
        "manage_fleet.html",
        login,
        status,
        fleet=fleet,
        cars=cars,
        fleets=others,
        values=values,
        error=error,
        car_error=car_error,
        done=_done(request),
    )


@router.get("/manage/fleets/{fleet_id}", response_class=HTMLResponse)
async def fleet_page(
    fleet_id: str, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    return await _fleet_page(request, pool, login, await _fleet_or_404(pool, login, fleet_id))


@router.post("/manage/fleets/{fleet_id}", response_class=HTMLResponse, response_model=None)
async def save_fleet(
    fleet_id: str, request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> HTMLResponse | RedirectResponse:
    fleet = await _fleet_or_404(pool, login, fleet_id)
    fields = Fields(await request.form())
    try:
        spec = _spec(fields, fleet.fleet_id, login.user.tenant_id)
        async with pool.connection() as conn:
            await add_fleet(conn, spec, login.user.email)
    except ConfigError as exc:
        values = {k: v for k, v in fields.form.items() if isinstance(v, str)}
        return await _fleet_page(request, pool, login, fleet, 422, values, str(exc))
    return RedirectResponse(f"/manage/fleets/{fleet.fleet_id}?done=saved", status_code=303)


@router.post("/manage/fleets/{fleet_id}/cars", response_class=HTMLResponse, response_model=None)
async def add_car(
    fleet_id: str, request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> HTMLResponse | RedirectResponse:
    fleet = await _fleet_or_404(pool, login, fleet_id)
    fields = Fields(await request.form())
    try:
        car_id = fields.required("car_id", "Car id", 64)
        async with pool.connection() as conn:
            await fleet_admin.add_car(conn, login.user, car_id, fleet.fleet_id, login.user.email)
    except ConfigError as exc:
        return await _fleet_page(request, pool, login, fleet, 422, car_error=str(exc))
    return RedirectResponse(f"/manage/fleets/{fleet.fleet_id}?done=car#cars", status_code=303)


async def _car_fleet_or_404(pool: PoolDep, login: Login, car_id: str) -> FleetRow:
    async with pool.connection() as conn:
        found = await fleet_admin.cars(conn, login.user, car_id=car_id)
    if not found:
        raise HTTPException(404, f"no car {car_id!r}")
    return await _fleet_or_404(pool, login, found[0].fleet_id)


@router.post("/manage/cars/{car_id}/move", response_class=HTMLResponse, response_model=None)
async def move_car(
    car_id: str, request: Request, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> HTMLResponse | RedirectResponse:
    fleet = await _car_fleet_or_404(pool, login, car_id)
    fields = Fields(await request.form())
    try:
        target = fields.required("fleet_id", "Move to fleet", 63)
        async with pool.connection() as conn:
            moved = await fleet_admin.move_car(conn, login.user, car_id, target, login.user.email)
    except ConfigError as exc:
        return await _fleet_page(request, pool, login, fleet, 422, car_error=str(exc))
    if not moved:
        raise HTTPException(404, f"no car {car_id!r}")
    return RedirectResponse(f"/manage/fleets/{fleet.fleet_id}?done=moved#cars", status_code=303)


@router.post("/manage/cars/{car_id}/remove", response_model=None)
async def remove_car(
    car_id: str, pool: PoolDep, login: FleetLogin, form: FormLogin
) -> RedirectResponse:
    fleet = await _car_fleet_or_404(pool, login, car_id)
    async with pool.connection() as conn:
        if not await fleet_admin.remove_car(conn, login.user, car_id, login.user.email):
            raise HTTPException(404, f"no car {car_id!r}")
    return RedirectResponse(f"/manage/fleets/{fleet.fleet_id}?done=removed#cars", status_code=303)
