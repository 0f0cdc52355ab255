"""Pairing in the panel: claim codes of a fleet, and revoking a tablet.

Admins and the fleet's owners may create codes and revoke tablets; everything else is
outside their scope and answers 404. A new code is shown after a post/redirect/get (it
rides to the page in a signed cookie, web/http/flash.py, for as long as the installer may
need it on this browser: a reload shows it again and never posts the form twice), with the
server address the tablet app needs, a QR code of both, and the installer's steps. The
same for bearer tokens: web/pairing/api.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from config.durations import parse_duration
from config.errors import BrokerError, ConfigError
from store.claims import ClaimError
from store.fleets import FleetRef
from store.users import User
from web.deps import BrokerLinkDep, FleetLogin, FormLogin, PoolDep, SettingsDep
from web.device.auth import VerifiedDevicesDep
from web.http import flash
from web.http.public import public_address
from web.http.templating import TEMPLATES
from web.pairing import codes as pairing
from web.reports.heatmap import scoped_fleets

router = APIRouter(include_in_schema=False)

NEW_CODE = "fleethub_new_claim"
SHOWN_FOR_S = 15 * 60  # how long this browser shows a new code again on a reload
CLAIM_PATH = "/v1/device/pairing/claim"


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


@router.get("/pairing", response_class=HTMLResponse)
async def pairing_start(request: Request, pool: PoolDep, login: FleetLogin) -> Response:
    """Pair a tablet: first choose its fleet (straight to it when there is one)."""
    fleets = await scoped_fleets(pool, login.user)
    if len(fleets) == 1:
        return RedirectResponse(f"/fleets/{fleets[0].fleet_id}/pairing", status_code=303)
    return TEMPLATES.TemplateResponse(
        request, "pairing_start.html", {"login": login, "fleets": fleets}
    )


@router.get("/fleets/{fleet_id}/pairing", response_class=HTMLResponse)
async def pairing_page(
    fleet_id: str, request: Request, pool: PoolDep, login: FleetLogin, settings: SettingsDep
) -> HTMLResponse:
    return await _page(request, pool, login, settings, fleet_id, None)


@router.post("/fleets/{fleet_id}/pairing", response_class=HTMLResponse)
async def pairing_create(
    fleet_id: str,
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    form: FormLogin,
    settings: SettingsDep,
    ttl: Annotated[str, Form(max_length=16)] = "24h",
    car_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    await fleet_or_404(request, login.user, fleet_id)
    try:
        lifetime = timedelta(seconds=parse_duration(ttl))
        new = await pairing.create_code(
            pool, login.user, login.user.email, fleet_id, lifetime, car_id.strip() or None
        )
    except (ConfigError, ClaimError) as exc:
        status = exc.status if isinstance(exc, ClaimError) else 422
        return await _page(request, pool, login, settings, fleet_id, str(exc), status=status)
    path = f"/fleets/{fleet_id}/pairing"
    response = RedirectResponse(f"{path}#new-code", status_code=303)
    shown = {"code": new.code, "car_id": new.car_id, "expires_at": new.expires_at.isoformat()}
    flash.put(response, request, NEW_CODE, path, shown, SHOWN_FOR_S)
    return response


def _new_code(request: Request) -> dict[str, Any] | None:
    """The code this browser made here last, while it is shown and not expired."""
    found = flash.get(request, NEW_CODE)
    if found is None or not isinstance(found.get("code"), str):
        return None
    try:
        expires = datetime.fromisoformat(str(found.get("expires_at")))
    except ValueError:
        return None
    if expires <= datetime.now(UTC):
        return None
    return {"code": found["code"], "car_id": found.get("car_id"), "expires_at": expires}


async def _page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    settings: SettingsDep,
    fleet_id: str,
    error: str | None,
    status: int = 200,
) -> HTMLResponse:
    fleet = await fleet_or_404(request, login.user, fleet_id)
    zone = next(
        (f.timezone for f in await scoped_fleets(pool, login.user) if f.fleet_id == fleet_id),
        "UTC",
    )
    rows = await pairing.codes(pool, login.user, fleet_id)
    address = public_address(request, settings)
    new = _new_code(request)
    qr = pairing.qr_data_uri(pairing.pairing_payload(address.url, new["code"])) if new else None
    return TEMPLATES.TemplateResponse(
        request,
        "pairing.html",
        {
            "login": login,
            "fleet": fleet,
            "codes": rows,
            "new": new,
            "qr": qr,
            "error": error,
            "address": address,
            "claim_path": CLAIM_PATH,
            "zone": login.zone_for(zone),
            "now": datetime.now(UTC),
        },
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
