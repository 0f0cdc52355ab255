"""Pairing for bearer tokens: claim codes of a fleet, and revoking a tablet.

The same as the panel's pairing page (web/pairing/pages.py): admins and the fleet's owners
may create codes and revoke tablets; everything else is outside their scope and answers 404.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from store.claims import ClaimError
from web.deps import ApiUser, BrokerLinkDep, PoolDep
from web.device.auth import VerifiedDevicesDep
from web.pairing import codes as pairing
from web.pairing.pages import fleet_or_404, revoke_checked

router = APIRouter(
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


@router.post(
    "/fleets/{fleet_id}/claim-codes",
    status_code=201,
    responses={409: {"description": "the car id is in use by another fleet"}},
)
async def create_code(
    fleet_id: str, request: Request, pool: PoolDep, user: ApiUser, body: CodeIn | None = None
) -> CodeOut:
    """A single-use claim code for a new tablet of the fleet (``ABCD-EFGH``)."""
    await fleet_or_404(request, user, fleet_id)
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


@router.get("/fleets/{fleet_id}/claim-codes")
async def list_codes(
    fleet_id: str, request: Request, pool: PoolDep, user: ApiUser
) -> list[pairing.CodeRow]:
    """The fleet's newest claim codes (hints only) and what became of them."""
    await fleet_or_404(request, user, fleet_id)
    return await pairing.codes(pool, user, fleet_id)


@router.post("/tablets/{tablet_id}/revoke", status_code=204)
async def revoke_tablet(
    tablet_id: str,
    pool: PoolDep,
    link: BrokerLinkDep,
    user: ApiUser,
    verified: VerifiedDevicesDep,
) -> Response:
    """Revoke the tablet: its device tokens stop working, its broker credentials are
    removed (which disconnects it) and the hub forgets it. Repeating it is harmless."""
    await revoke_checked(pool, link, user, user.email, tablet_id)
    verified.forget(tablet_id)
    return Response(status_code=204)
