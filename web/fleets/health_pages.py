"""A fleet's health thresholds: the defaults (settings) and the fleet's own overrides.

Admins and the fleet's owners change them; a field left empty takes the default. Saving is
:func:`store.health_policies.set_policy` (audited, ``NOTIFY``-ed: the hub's tablet actors
judge their next heartbeats by it). A fleet outside the user's scope answers 404.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from config.errors import ConfigError
from config.health import HealthPolicy
from store import health_policies
from web.deps import FleetLogin, FormLogin, Login, PoolDep, SettingsDep
from web.fleets.pages import _fleet_or_404
from web.http.templating import TEMPLATES

router = APIRouter(include_in_schema=False)

# Each threshold's label and unit, in the form's order.
LABELS = {
    "low_storage_mb": ("Low storage below", "MB free"),
    "crash_loop_boots": ("Crash loop at", "boots within an hour"),
    "playback_stuck_factor": ("Playback stuck after", "× the ad's duration"),
    "not_charging_s": ("Not charging for", "seconds, battery falling"),
    "clock_skew_s": ("Clock skew over", "seconds"),
    "min_app_version": ("Minimum app version", "older opens app outdated"),
    "clear_s": ("Resolve after clear for", "seconds"),
}


def parse_form(form: dict[str, str], defaults: HealthPolicy) -> HealthPolicy:
    """The posted thresholds over ``defaults`` (empty: the default); :class:`ConfigError`."""
    given: dict[str, Any] = {}
    for f in fields(HealthPolicy):
        text = form.get(f.name, "").strip()
        if not text:
            continue
        label = LABELS[f.name][0]
        if f.name == "min_app_version":
            given[f.name] = text[:65]
            continue
        try:
            given[f.name] = float(text) if f.name == "playback_stuck_factor" else int(text)
        except ValueError:
            raise ConfigError(f"{label}: a number, or empty for the default") from None
    return defaults.merged(given)


async def _page(
    request: Request,
    login: Login,
    fleet_id: str,
    name: str,
    defaults: HealthPolicy,
    overrides: dict[str, Any],
    status: int = 200,
    error: str | None = None,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    if values is None:
        values = {k: "" if v is None else str(v) for k, v in overrides.items()}
    return TEMPLATES.TemplateResponse(
        request,
        "fleet_health.html",
        {
            "login": login,
            "fleet_id": fleet_id,
            "fleet_name": name,
            "labels": LABELS,
            "defaults": asdict(defaults),
            "values": values,
            "error": error,
            "saved": request.query_params.get("done") == "saved",
        },
        status_code=status,
    )


@router.get("/manage/fleets/{fleet_id}/health", response_class=HTMLResponse)
async def health_page(
    fleet_id: str, request: Request, pool: PoolDep, login: FleetLogin, settings: SettingsDep
) -> HTMLResponse:
    fleet = await _fleet_or_404(pool, login, fleet_id)
    overrides = await health_policies.overrides(pool, login.user, fleet.fleet_id)
    if overrides is None:
        raise HTTPException(404, f"no fleet {fleet_id!r}")
    defaults = settings.health_policy()
    return await _page(request, login, fleet.fleet_id, fleet.name, defaults, overrides)


@router.post("/manage/fleets/{fleet_id}/health", response_class=HTMLResponse, response_model=None)
async def save_health(
    fleet_id: str,
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    form: FormLogin,
    settings: SettingsDep,
) -> HTMLResponse | RedirectResponse:
    fleet = await _fleet_or_404(pool, login, fleet_id)
    posted = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    defaults = settings.health_policy()
    try:
        policy = parse_form(posted, defaults)
    except ConfigError as exc:
        return await _page(
            request, login, fleet.fleet_id, fleet.name, defaults, {}, 422, str(exc), posted
        )
    if not await health_policies.set_policy(pool, login.user, fleet.fleet_id, policy, defaults):
        raise HTTPException(404, f"no fleet {fleet_id!r}")
    return RedirectResponse(f"/manage/fleets/{fleet.fleet_id}/health?done=saved", status_code=303)
