"""Campaigns and zones as JSON for bearer tokens (admins: the tenant's; advertisers: their
account's campaigns and the tenant's zones).

``GET /api/v1/campaigns/{id}/delivery`` is the advertiser portal's figures: per local day,
per hour of one day (``?day=``, default the last day with plays), the totals, the H3 cells and
the pacing; its totals equal the page's and the CSV's (web/campaigns/delivery.py).
``POST /api/v1/zones?name=…`` takes a GeoJSON Polygon, MultiPolygon, Feature or
FeatureCollection as the body; a refused one answers 422 saying why.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from actors.rules.geo import MAX_BYTES, parse_zone
from config.errors import ConfigError
from store import campaigns as store
from store import zones as zone_store
from store.campaigns import Campaign
from web.campaigns.access import ApiSeat
from web.campaigns.delivery import as_json, report
from web.deps import PoolDep

router = APIRouter(prefix="/api/v1", tags=["campaigns"])
CampaignId = Annotated[str, Path(max_length=64)]
ZoneId = Annotated[str, Path(pattern=r"^z-[0-9a-f]{12}$")]


class CampaignOut(BaseModel):
    campaign_id: str
    advertiser_id: str
    advertiser_name: str
    name: str
    brand: str
    status: str
    timezone: str
    flight_start: datetime
    flight_end: datetime
    goal_unit: str
    daily_goal: int | None
    total_goal: int | None
    priority: int
    share_of_voice: int | None
    fleets: list[str] | None  # None: every fleet
    dayparts: list[str]
    zones: list[str]
    creatives: list[dict[str, Any]]
    pacing: dict[str, Any] | None

    @classmethod
    def of(cls, c: Campaign) -> CampaignOut:
        return cls(
            campaign_id=c.campaign_id,
            advertiser_id=c.advertiser_id,
            advertiser_name=c.advertiser_name,
            name=c.name,
            brand=c.brand,
            status=c.status,
            timezone=c.timezone,
            flight_start=c.flight_start,
            flight_end=c.flight_end,
            goal_unit=c.goal_unit,
            daily_goal=c.daily_goal,
            total_goal=c.total_goal,
            priority=c.priority,
            share_of_voice=c.share_of_voice,
            fleets=None if c.all_fleets else c.fleets,
            dayparts=[d.label() for d in c.dayparts],
            zones=[z for z, _ in c.zones],
            creatives=[
                {"media_id": m.media_id, "media_version": m.media_version, "name": m.name}
                for m in c.creatives
            ],
            pacing=None
            if c.pacing is None
            else {
                "status": c.pacing.status,
                "multiplier": c.pacing.multiplier,
                "pods": c.pacing.pods,
                "computed_at": c.pacing.computed_at.isoformat(),
            },
        )


class ZoneOut(BaseModel):
    zone_id: str
    name: str
    geometry: dict[str, Any]
    vertices: int
    area_km2: float
    version: int
    campaigns: list[str]


@router.get("/campaigns")
async def list_campaigns(pool: PoolDep, seat: ApiSeat) -> list[CampaignOut]:
    async with pool.connection() as conn:
        found = await store.listing(conn, seat[1])
    return [CampaignOut.of(c) for c in found]


async def _one(pool: PoolDep, seat: ApiSeat, campaign_id: str) -> Campaign:
    async with pool.connection() as conn:
        found = await store.one(conn, seat[1], campaign_id)
    if found is None:
        raise HTTPException(404, f"no campaign {campaign_id!r}")
    return found


@router.get("/campaigns/{campaign_id}", responses={404: {"description": "not yours"}})
async def get_campaign(campaign_id: CampaignId, pool: PoolDep, seat: ApiSeat) -> CampaignOut:
    return CampaignOut.of(await _one(pool, seat, campaign_id))


@router.get("/campaigns/{campaign_id}/delivery", responses={404: {"description": "not yours"}})
async def campaign_delivery(
    campaign_id: CampaignId,
    pool: PoolDep,
    seat: ApiSeat,
    day: Annotated[date | None, Query(description="the local day whose hours to give")] = None,
) -> JSONResponse:
    campaign = await _one(pool, seat, campaign_id)
    return JSONResponse(as_json(await report(pool, campaign, day)))


@router.get("/zones")
async def list_zones(pool: PoolDep, seat: ApiSeat) -> list[ZoneOut]:
    async with pool.connection() as conn:
        found = await zone_store.listing(conn, seat[0].tenant_id, None, seat[1].advertiser_id)
    return [ZoneOut(**{f: getattr(z, f) for f in ZoneOut.model_fields}) for z in found]


@router.get("/zones/{zone_id}", responses={404: {"description": "not yours"}})
async def get_zone(zone_id: ZoneId, pool: PoolDep, seat: ApiSeat) -> ZoneOut:
    async with pool.connection() as conn:
        z = await zone_store.one(conn, seat[0].tenant_id, zone_id, seat[1].advertiser_id)
    if z is None:
        raise HTTPException(404, f"no zone {zone_id!r}")
    return ZoneOut(**{f: getattr(z, f) for f in ZoneOut.model_fields})


@router.post(
    "/zones",
    status_code=201,
    responses={
        413: {"description": "larger than the zone size limit"},
        422: {"description": "not a valid zone (the message says why)"},
    },
)
async def add_zone(
    request: Request,
    pool: PoolDep,
    seat: ApiSeat,
    name: Annotated[str, Query(min_length=1, max_length=zone_store.MAX_NAME)],
) -> ZoneOut:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise HTTPException(413, f"a zone's GeoJSON is at most {MAX_BYTES:,} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BYTES:
            raise HTTPException(413, f"a zone's GeoJSON is at most {MAX_BYTES:,} bytes")
    user = seat[0]
    try:
        shape = parse_zone(body)
        async with pool.connection() as conn:
            zone_id = await zone_store.add(conn, user.tenant_id, name, shape, "upload", user.email)
            z = await zone_store.one(conn, user.tenant_id, zone_id, seat[1].advertiser_id)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from None
    assert z is not None
    return ZoneOut(**{f: getattr(z, f) for f in ZoneOut.model_fields})
