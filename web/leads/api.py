"""The leads JSON API (admins' bearer tokens): leads, lead campaigns and QR codes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel

from web.deps import ApiAdmin, PoolDep, SettingsDep
from web.leads import campaigns, codes
from web.leads import listing as lead_list
from web.leads.campaigns import Campaign, CampaignExists, CampaignIn
from web.leads.codes import BadAttribution, QrCreate, QrIn, QrRow
from web.leads.listing import Lead, LeadEvent, LeadPage, Status
from web.leads.pages import public_base

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])


class QrOut(BaseModel):
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
            code=row.code,
            campaign_id=row.campaign_id,
            fleet_id=row.fleet_id,
            car_id=row.car_id,
            tablet_id=row.tablet_id,
            max_leads=row.max_leads,
            lead_count=row.lead_count,
            created_by=row.created_by,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
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
