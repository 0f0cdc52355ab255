"""Pairing in the panel and the API: claim codes of a fleet, and revoking a tablet.

Admins and the fleet's owners may create codes and revoke tablets; everything else is
outside their scope and answers 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from config.durations import parse_duration
from config.errors import BrokerError, ConfigError
from store.claims import ClaimError
from store.users import User
from web.deps import ApiUser, BrokerLinkDep, FleetLogin, FormLogin, PoolDep
from web.device.auth import VerifiedDevicesDep
from web.http.templating import TEMPLATES
from web.pairing import codes as pairing

pages = APIRouter(include_in_schema=False)
api = APIRouter(
    prefix="/api/v1",
    tags=["pairing"],
    responses={404: {"description": "no such fleet or tablet in scope"}},
)


class CodeIn(BaseModel):
    ttl_s: int = Field(default=86_400, ge=60, le=30 * 86_400, description="default 24 h")
    car_id: str | None = Field(default=None, max_length=64)


class CodeOut(BaseModel):
    claim_code: str = Field(description="shown only now; the store keeps its hash")
    fleet_id: str
    car_id: str | None
    expires_at: datetime


async def _fleet(request: Request, user: User, fleet_id: str) -> pairing.FleetRef:
    found = await pairing.fleet(request.app.state.pool, user, fleet_id)
    if found is None:
        raise HTTPException(404, f"no fleet {fleet_id!r}")
    return found


@api.post(
    "/fleets/{fleet_id}/claim-codes",
    status_code=201,
    responses={409: {"description": "the car id is in use by another fleet"}},
)
async def create_code(
    fleet_id: str, request: Request, pool: PoolDep, user: ApiUser, body: CodeIn | None = None
) -> CodeOut:
    """A single-use claim code for a new tablet of the fleet (``ABCD-EFGH``)."""
    await _fleet(request, user, fleet_id)
    body = body or CodeIn()
    try:
        new = await pairing.create_code(
            pool, user, user.email, fleet_id, timedelta(seconds=body.ttl_s), body.car_id
        )
    except ClaimError as exc:  # a car id in use by another fleet: 409
        raise HTTPException(exc.status, str(exc)) from None
    return CodeOut(
        claim_code=new.code, fleet_id=new.fleet_id, car_id=new.car_id, expires_at=new.expires_at
    )


@api.get("/fleets/{fleet_id}/claim-codes")
async def list_codes(
    fleet_id: str, request: Request, pool: PoolDep, user: ApiUser
) -> list[pairing.CodeRow]:
    """The fleet's newest claim codes (hints only) and what became of them."""
    await _fleet(request, user, fleet_id)
    return await pairing.codes(pool, user, fleet_id)


@api.post("/tablets/{tablet_id}/revoke", status_code=204)
async def revoke_tablet(
    tablet_id: str,
    pool: PoolDep,
    link: BrokerLinkDep,
    user: ApiUser,
    verified: VerifiedDevicesDep,
) -> Response:
    """Revoke the tablet: its device tokens stop working, its broker credentials are
    removed (which disconnects it) and the hub forgets it. Repeating it is harmless."""
    await _revoke(pool, link, user, user.email, tablet_id)
    verified.forget(tablet_id)
    return Response(status_code=204)


async def _revoke(
    pool: PoolDep, link: BrokerLinkDep, user: User, actor: str, tablet_id: str
) -> None:
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


@pages.get("/fleets/{fleet_id}/pairing", response_class=HTMLResponse)
async def pairing_page(
    fleet_id: str, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    return await _page(request, pool, login, fleet_id, None, None)


@pages.post("/fleets/{fleet_id}/pairing", response_class=HTMLResponse)
async def pairing_create(
    fleet_id: str,
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    form: FormLogin,
    ttl: Annotated[str, Form(max_length=16)] = "24h",
    car_id: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    await _fleet(request, login.user, fleet_id)
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
    fleet = await _fleet(request, login.user, fleet_id)
    rows = await pairing.codes(pool, login.user, fleet_id)
    return TEMPLATES.TemplateResponse(
        request,
        "pairing.html",
        {"login": login, "fleet": fleet, "codes": rows, "new": new, "error": error},
        status_code=status,
    )


@pages.post("/tablets/{tablet_id}/revoke")
async def revoke_page(
    tablet_id: str,
    pool: PoolDep,
    link: BrokerLinkDep,
    login: FleetLogin,
    form: FormLogin,
    verified: VerifiedDevicesDep,
) -> RedirectResponse:
    await _revoke(pool, link, login.user, login.user.email, tablet_id)
    verified.forget(tablet_id)
    return RedirectResponse("/", status_code=303)


router = APIRouter()
router.include_router(pages)
router.include_router(api)
