"""Pairing in the panel: claim codes of a fleet, and revoking a tablet.

Admins and the fleet's owners may create codes and revoke tablets; everything else is
outside their scope and answers 404. The same for bearer tokens: web/pairing/api.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from config.durations import parse_duration
from config.errors import BrokerError, ConfigError
from store.claims import ClaimError
from store.fleets import FleetRef
from store.users import User
from web.deps import BrokerLinkDep, FleetLogin, FormLogin, PoolDep
from web.device.auth import VerifiedDevicesDep
from web.http.templating import TEMPLATES
from web.pairing import codes as pairing

router = APIRouter(include_in_schema=False)


async def fleet_or_404(request: Request, user: User, fleet_id: str) -> FleetRef:
    """The fleet of a path, a 404 when it is not in the user's scope."""
    found = await pairing.fleet(request.app.state.pool, user, fleet_id)
    if found is None:
        raise HTTPException(404, f"no fleet {fleet_id!r}")
    return found


async def revoke_checked(
    pool: PoolDep, link: BrokerLinkDep, user: User, actor: str, tablet_id: str
) -> None:
    """Revoke the tablet; a 404 outside the user's scope, a 503 while the broker refuses."""
    try:
        found = await pairing.revoke(pool, link.target, user, actor, tablet_id)
    except BrokerError as exc:
        raise HTTPException(
            503,
            f"the broker could not remove the tablet's credentials: {exc}. Revoke again to retry.",
            headers={"Retry-After": "30"},
        ) from exc
    if not found:
        raise HTTPException(404, f"no tablet {tablet_id!r}")


@router.get("/fleets/{fleet_id}/pairing", response_class=HTMLResponse)
async def pairing_page(
    fleet_id: str, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    return await _page(request, pool, login, fleet_id, None, None)


@router.post("/fleets/{fleet_id}/pairing", response_class=HTMLResponse)
async def pairing_create(
    fleet_id: str,
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    form: FormLogin,
    ttl: Annotated[str, Form(max_length=16)] = "24h",
    car_id: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    await fleet_or_404(request, login.user, fleet_id)
    try:
        lifetime = timedelta(seconds=parse_duration(ttl))
        new = await pairing.create_code(
            pool, login.user, login.user.email, fleet_id, lifetime, car_id.strip() or None
        )
    except (ConfigError, ClaimError) as exc:
        status = exc.status if isinstance(exc, ClaimError) else 422
        return await _page(request, pool, login, fleet_id, None, str(exc), status=status)
    return await _page(request, pool, login, fleet_id, new, None, status=201)


async def _page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet_id: str,
    new: object,
    error: str | None,
    status: int = 200,
) -> HTMLResponse:
    fleet = await fleet_or_404(request, login.user, fleet_id)
    rows = await pairing.codes(pool, login.user, fleet_id)
    return TEMPLATES.TemplateResponse(
        request,
        "pairing.html",
        {"login": login, "fleet": fleet, "codes": rows, "new": new, "error": error},
        status_code=status,
    )


@router.post("/tablets/{tablet_id}/revoke")
async def revoke_page(
    tablet_id: str,
    pool: PoolDep,
    link: BrokerLinkDep,
    login: FleetLogin,
    form: FormLogin,
    verified: VerifiedDevicesDep,
) -> RedirectResponse:
    await revoke_checked(pool, link, login.user, login.user.email, tablet_id)
    verified.forget(tablet_id)
    return RedirectResponse("/", status_code=303)
