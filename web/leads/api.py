"""The leads JSON API (admins' bearer tokens): leads, lead campaigns and QR codes."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel

from store.lead_campaigns import Campaign, CampaignExists
from store.lead_listing import Lead, LeadEvent
from store.qr_codes import QrRow
from web.deps import ApiAdmin, PoolDep, SettingsDep
from web.leads import campaigns, codes
from web.leads import listing as lead_list
from web.leads.campaigns import CampaignIn
from web.leads.codes import BadAttribution, QrCreate, QrIn
from web.leads.listing import LeadPage, Status
from web.leads.pages import public_base

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class QrOut(BaseModel):
    """A code's row (every field of :class:`store.qr_codes.QrRow`) and its addresses."""

    code: str
    campaign_id: str
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    max_leads: int | None
    lead_count: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    url: str
    png: str
    svg: str

    @classmethod
    def of(cls, row: QrRow, base: str) -> QrOut:
        base = base.rstrip("/")
        return cls(
            **asdict(row),
            url=codes.form_url(base, row.code),
            png=f"{base}/leads/qr/{row.code}.png",
            svg=f"{base}/leads/qr/{row.code}.svg",
        )


class LeadOut(BaseModel):
    lead: Lead
    events: list[LeadEvent]


@router.get("")
async def list_leads(
    pool: PoolDep,
    user: ApiAdmin,
    campaign: Annotated[str | None, Query(max_length=128)] = None,
    status: Status | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> LeadPage:
    """The tenant's leads, newest first (50 a page; ``has_more`` says whether more follow)."""
    return await lead_list.leads(pool, user, campaign, status, page)


@router.get("/campaigns")
async def list_campaigns(pool: PoolDep, user: ApiAdmin) -> list[Campaign]:
    return await campaigns.campaigns(pool, user)


@router.post("/campaigns", status_code=201, responses={409: {"description": "the campaign exists"}})
async def create_campaign(pool: PoolDep, user: ApiAdmin, body: CampaignIn) -> Campaign:
    try:
        await campaigns.create(pool, user, body)
    except CampaignExists as exc:
        raise HTTPException(409, f"lead campaign {body.campaign_id!r} exists") from exc
    created = await campaigns.campaign(pool, user, body.campaign_id)
    assert created is not None
    return created


@router.get("/qr")
async def list_codes(
    request: Request,
    pool: PoolDep,
    user: ApiAdmin,
    settings: SettingsDep,
    campaign: Annotated[str | None, Query(max_length=128)] = None,
) -> list[QrOut]:
    base = public_base(request, settings)
    return [QrOut.of(row, base) for row in await codes.codes(pool, user, campaign)]


@router.post(
    "/qr",
    status_code=201,
    responses={404: {"description": "no such campaign"}, 422: {"description": "bad attribution"}},
)
async def create_code(
    request: Request, pool: PoolDep, user: ApiAdmin, settings: SettingsDep, body: QrCreate
) -> QrOut:
    try:
        created = await codes.create(
            pool, user, body.campaign_id, QrIn(**body.model_dump(exclude={"campaign_id"}))
        )
    except BadAttribution as exc:
        raise HTTPException(422, str(exc)) from exc
    if created is None:
        raise HTTPException(404, f"no lead campaign {body.campaign_id!r} in your tenant")
    return QrOut.of(created, public_base(request, settings))


@router.get("/{lead_id}", responses={404: {"description": "no such lead"}})
async def get_lead(
    pool: PoolDep, user: ApiAdmin, lead_id: Annotated[str, Path(max_length=64)]
) -> LeadOut:
    found = await lead_list.lead(pool, user, lead_id)
    if found is None:
        raise HTTPException(404, f"no lead {lead_id!r} in your tenant")
    return LeadOut(lead=found[0], events=found[1])
