"""The driver register in the panel (admins: the tenant's drivers; fleet owners: their
fleets'): add and edit drivers, assign them to cars from one day to another, see what the
tablets report as ``driver_id`` against the register, and send a driver their one-time
sign-in link (shown once) or end their access. A driver outside the user's scope is 404.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from config.errors import ConfigError
from store import driver_links, drivers, fleet_admin
from store.drivers import DriverRow
from web.deps import FleetLogin, FormLogin, Login, PoolDep, SettingsDep
from web.earnings.rate_form import parse_day
from web.http import reveal
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
DONE = {
    "added": "Driver added.",
    "saved": "Driver saved.",
    "assigned": "Assignment added.",
    "ended": "Assignment ended.",
    "link": "Sign-in link made: send it to the driver (it works once, for 72 hours).",
    "revoked": "Access ended: the driver is signed out and their links no longer work.",
}


async def fleet_form(
    login: FleetLogin, posted: FormLogin, request: Request
) -> tuple[Login, FormData]:
    """An admin's or fleet owner's form post: the role, then the CSRF token and size."""
    return posted, await request.form()


FleetForm = Annotated[tuple[Login, FormData], Depends(fleet_form)]


def _render(
    request: Request, template: str, login: Login, status: int = 200, **context: Any
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, template, {"login": login, "here": "drivers", **context}, status_code=status
    )


async def _list_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    status: int = 200,
    values: dict[str, str] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    async with pool.connection() as conn:
        rows = await drivers.drivers(conn, login.user)
        fleets = await fleet_admin.fleets(conn, login.user)
        reported = await drivers.reported(conn, login.user)
    return _render(
        request,
        "drivers.html",
        login,
        status,
        drivers=rows,
        fleets=fleets,
        reported=reported,
        values=values or {},
        error=error,
        done=DONE.get(request.query_params.get("done", "")),
    )


@router.get("/drivers", response_class=HTMLResponse)
async def drivers_page(request: Request, pool: PoolDep, login: FleetLogin) -> HTMLResponse:
    return await _list_page(request, pool, login)


@router.post("/drivers", response_class=HTMLResponse, response_model=None)
async def add_driver(
    request: Request, pool: PoolDep, posted: FleetForm
) -> HTMLResponse | RedirectResponse:
    login, form = posted
    fields = Fields(form)
    values: dict[str, str] = {}
    try:
        values = {
            "fleet_id": fields.required("fleet_id", "Fleet", 63),
            "code": fields.required("code", "Driver code", 64),
            "name": fields.required("name", "Name", 120),
            "phone": fields.text("phone", "Phone", 32),
        }
        async with pool.connection() as conn:
            driver_id = await drivers.add(conn, login.user, actor=login.user.email, **values)
    except LookupError:
        return await _list_page(request, pool, login, 422, values, "no such fleet")
    except ConfigError as exc:
        return await _list_page(request, pool, login, 422, values, str(exc))
    return RedirectResponse(f"/drivers/{driver_id}?done=added", 303)


def _driver_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise HTTPException(404, "no such driver")
    return int(text)


async def _driver_or_404(pool: PoolDep, login: Login, driver_id: str) -> DriverRow:
    async with pool.connection() as conn:
        found = await drivers.driver(conn, login.user, _driver_id(driver_id))
    if found is None:
        raise HTTPException(404, "no such driver")
    return found


def _link(request: Request, settings: SettingsDep, token: str) -> str:
    base = (settings.public_base_url or str(request.base_url)).rstrip("/")
    return f"{base}/signin/{token}"


async def _driver_page(
    request: Request,
    pool: PoolDep,
    login: Login,
    driver: DriverRow,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    async with pool.connection() as conn:
        held = await drivers.assignments(conn, login.user.tenant_id, driver.driver_id)
        cars = await fleet_admin.cars(conn, login.user, driver.fleet_id)
    link = reveal.secret(request)
    response = _render(
        request,
        "driver.html",
        login,
        status,
        driver=driver,
        assignments=held,
        cars=cars,
        link=link if link and "/signin/" in link else None,
        error=error,
        done=DONE.get(request.query_params.get("done", "")),
    )
    reveal.clear(request, response)
    return response


@router.get("/drivers/{driver_id}", response_class=HTMLResponse)
async def driver_page(
    driver_id: str, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    return await _driver_page(request, pool, login, await _driver_or_404(pool, login, driver_id))


@router.post("/drivers/{driver_id}", response_class=HTMLResponse, response_model=None)
async def save_driver(
    driver_id: str, request: Request, pool: PoolDep, posted: FleetForm
) -> HTMLResponse | RedirectResponse:
    login, form = posted
    driver = await _driver_or_404(pool, login, driver_id)
    fields = Fields(form)
    try:
        async with pool.connection() as conn:
            await drivers.update(
                conn,
                login.user,
                driver.driver_id,
                fields.required("code", "Driver code", 64),
                fields.required("name", "Name", 120),
                fields.text("phone", "Phone", 32),
                login.user.email,
            )
    except ConfigError as exc:
        return await _driver_page(request, pool, login, driver, 422, str(exc))
    return RedirectResponse(f"/drivers/{driver.driver_id}?done=saved", 303)


def _optional_day(text: str, what: str) -> date | None:
    return parse_day(text, what) if text else None


@router.post("/drivers/{driver_id}/assignments", response_class=HTMLResponse, response_model=None)
async def add_assignment(
    driver_id: str, request: Request, pool: PoolDep, posted: FleetForm
) -> HTMLResponse | RedirectResponse:
    login, form = posted
    driver = await _driver_or_404(pool, login, driver_id)
    fields = Fields(form)
    try:
        start = parse_day(fields.required("valid_from", "From", 20), "'from'")
        end = _optional_day(fields.text("valid_to", "To", 20), "'to'")
        async with pool.connection() as conn:
            await drivers.assign(
                conn, login.user, driver.driver_id, fields.required("car_id", "Car", 64),
                start, end, login.user.email,
            )  # fmt: skip
    except ConfigError as exc:
        return await _driver_page(request, pool, login, driver, 422, str(exc))
    return RedirectResponse(f"/drivers/{driver.driver_id}?done=assigned", 303)


@router.post(
    "/drivers/{driver_id}/assignments/{assignment_id}/end",
    response_class=HTMLResponse,
    response_model=None,
)
async def end_assignment(
    driver_id: str, assignment_id: str, request: Request, pool: PoolDep, posted: FleetForm
) -> HTMLResponse | RedirectResponse:
    login, form = posted
    driver = await _driver_or_404(pool, login, driver_id)
    try:
        end = parse_day(Fields(form).required("valid_to", "Last day", 20), "the last day")
        async with pool.connection() as conn:
            await drivers.end_assignment(
                conn, login.user, driver.driver_id, _driver_id(assignment_id), end,
                login.user.email,
            )  # fmt: skip
    except LookupError:
        raise HTTPException(404, "no such assignment") from None
    except ConfigError as exc:
        return await _driver_page(request, pool, login, driver, 422, str(exc))
    return RedirectResponse(f"/drivers/{driver.driver_id}?done=ended", 303)


@router.post("/drivers/{driver_id}/link", response_class=HTMLResponse, response_model=None)
async def sign_in_link(
    driver_id: str, request: Request, pool: PoolDep, posted: FleetForm, settings: SettingsDep
) -> RedirectResponse:
    login, _ = posted
    driver = await _driver_or_404(pool, login, driver_id)
    async with pool.connection() as conn:
        token = await driver_links.issue(
            conn, login.user.tenant_id, driver.driver_id, login.user.email
        )
    url = f"/drivers/{driver.driver_id}?done=link"
    return reveal.redirect_revealing(request, url, _link(request, settings, token))


@router.post("/drivers/{driver_id}/revoke", response_class=HTMLResponse, response_model=None)
async def revoke(driver_id: str, pool: PoolDep, posted: FleetForm) -> RedirectResponse:
    login, _ = posted
    driver = await _driver_or_404(pool, login, driver_id)
    async with pool.connection() as conn:
        await driver_links.revoke(conn, login.user.tenant_id, driver.driver_id, login.user.email)
    return RedirectResponse(f"/drivers/{driver.driver_id}?done=revoked", 303)
