"""Staged app rollouts (admins): start one for a fleet, follow its waves live, halt, resume
or cancel it. Stepping is the hub's (hub/rollouts.py); the SQL is store/rollouts.py."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from actors.rules.rollouts import check_waves
from config.errors import ConfigError
from store import rollouts
from store.rollouts import RolloutSpec
from web.deps import AdminFormLogin, AdminLogin, Login, PoolDep
from web.grid.tiles import fleets
from web.http.templating import TEMPLATES
from web.manage.fields import Fields

router = APIRouter(include_in_schema=False)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
URL = re.compile(r"^https?://\S{1,2000}$")
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$")


def _percent(fields: Fields, name: str, label: str, default: float) -> float:
    text = fields.text(name, label, 8)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{label}: a number of percentage points from 0 to 100") from None
    if not 0 <= value <= 100:
        raise ConfigError(f"{label}: a number of percentage points from 0 to 100")
    return value


def read_rollout(fields: Fields) -> RolloutSpec:
    fleet = fields.required("fleet", "Fleet", 128)
    version = fields.required("app_version", "App version", 64)
    if not VERSION.match(version):
        raise ConfigError("App version: like 3.2.0")
    url = fields.required("package_url", "Package URL", 2000)
    if not URL.match(url):
        raise ConfigError("Package URL: an http:// or https:// address")
    sha = fields.required("sha256", "SHA-256", 64).lower()
    if not SHA256.match(sha):
        raise ConfigError("SHA-256: the package's 64 hexadecimal digits")
    try:
        waves = check_waves(
            [int(w) for w in re.split(r"[\s,]+", fields.text("waves", "Waves")) if w]
        )
    except ValueError:
        raise ConfigError("Waves: whole percentages, like 1, 10, 50, 100") from None
    soak = fields.duration("soak", "Soak", 1800, 7 * 86_400) or 1800
    if soak < 60:
        raise ConfigError("Soak: at least a minute")
    return RolloutSpec(
        fleet,
        version,
        url,
        sha,
        waves,
        soak,
        _percent(fields, "crash_excess", "Crash loops", 5.0),
        _percent(fields, "offline_excess", "Offline", 10.0),
    )


async def _page(
    request: Request,
    pool: PoolDep,
    login: Login,
    status: int = 200,
    error: str | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request,
        "rollouts.html",
        {
            "login": login,
            "rows": await rollouts.listing(pool, login.user),
            "fleets": await fleets(pool, login.user),
            "values": values or {"waves": "1, 10, 50, 100", "soak": "30m"},
            "error": error,
            "zone": login.timezone,
        },
        status_code=status,
    )


@router.get("/rollouts", response_class=HTMLResponse)
async def rollouts_page(request: Request, pool: PoolDep, login: AdminLogin) -> HTMLResponse:
    return await _page(request, pool, login)


@router.post("/rollouts", response_class=HTMLResponse, response_model=None)
async def start(
    request: Request, pool: PoolDep, login: AdminFormLogin
) -> HTMLResponse | RedirectResponse:
    posted = await request.form()
    try:
        spec = read_rollout(Fields(posted))
        async with pool.connection() as conn:
            rollout_id = await rollouts.create(conn, login.user, spec)
    except ConfigError as exc:
        values = {k: v for k, v in posted.items() if isinstance(v, str)}
        return await _page(request, pool, login, 422, str(exc), values)
    return RedirectResponse(f"/rollouts/{rollout_id}", status_code=303)


async def _detail(pool: PoolDep, login: Login, rollout_id: int) -> dict[str, Any]:
    found = await rollouts.one(pool, login.user, rollout_id)
    if found is None:
        raise HTTPException(404, f"no rollout {rollout_id}")
    return {
        "login": login,
        "r": found,
        "waves": {w.wave: w for w in await rollouts.waves(pool, rollout_id)},
        "zone": login.timezone,
    }


@router.get("/rollouts/{rollout_id}", response_class=HTMLResponse)
async def rollout_page(
    rollout_id: int, request: Request, pool: PoolDep, login: AdminLogin
) -> HTMLResponse:
    context = await _detail(pool, login, rollout_id)
    return TEMPLATES.TemplateResponse(request, "rollout.html", context)


@router.get("/rollouts/{rollout_id}/progress", response_class=HTMLResponse)
async def rollout_progress(
    rollout_id: int, request: Request, pool: PoolDep, login: AdminLogin
) -> HTMLResponse:
    """The page's waves, re-read by its script while the rollout runs."""
    context = await _detail(pool, login, rollout_id)
    return TEMPLATES.TemplateResponse(request, "_rollout_progress.html", context)


async def _act(pool: PoolDep, login: Login, rollout_id: int, action: str) -> RedirectResponse:
    try:
        await rollouts.change(pool, login.user, rollout_id, action)
    except LookupError:
        raise HTTPException(404, f"no rollout {rollout_id}") from None
    except ConfigError as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(f"/rollouts/{rollout_id}", status_code=303)


@router.post("/rollouts/{rollout_id}/halt", response_model=None)
async def halt(rollout_id: int, pool: PoolDep, login: AdminFormLogin) -> RedirectResponse:
    return await _act(pool, login, rollout_id, "halt")


@router.post("/rollouts/{rollout_id}/resume", response_model=None)
async def resume(rollout_id: int, pool: PoolDep, login: AdminFormLogin) -> RedirectResponse:
    """A halted rollout runs again: its wave soaks again from now, then is judged."""
    return await _act(pool, login, rollout_id, "resume")


@router.post("/rollouts/{rollout_id}/cancel", response_model=None)
async def cancel(rollout_id: int, pool: PoolDep, login: AdminFormLogin) -> RedirectResponse:
    return await _act(pool, login, rollout_id, "cancel")
