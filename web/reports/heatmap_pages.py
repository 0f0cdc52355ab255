"""Uptime heatmaps (tablets × last 24 hours, tablets × last 30 days), page and JSON."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from store.users import User
from web.deps import ApiUser, FleetLogin, PoolDep
from web.http.templating import TEMPLATES
from web.reports.heatmap import (
    PER_PAGE,
    Fleet,
    Heatmap,
    Kind,
    bucket,
    heatmap,
    known_zone,
    scoped_fleets,
)

router = APIRouter()

FleetParam = Annotated[str | None, Query(max_length=64, description="a fleet id in scope")]
SearchParam = Annotated[str | None, Query(max_length=64, description="part of a tablet or car id")]
ZoneParam = Annotated[
    str | None, Query(max_length=64, description="IANA zone of the column labels (Asia/Singapore)")
]
PageParam = Annotated[int, Query(ge=1, le=100_000, description=f"{PER_PAGE} tablets a page")]


def _zone(fleets: list[Fleet], fleet: str | None, tz: str | None) -> str:
    """The asked zone, else the chosen fleet's, else the one all fleets share, else UTC."""
    if tz:
        return tz
    zones = {f.timezone for f in fleets if fleet is None or f.fleet_id == fleet}
    return zones.pop() if len(zones) == 1 else "UTC"


async def _fleets_checked(pool: PoolDep, user: User, fleet: str | None) -> list[Fleet]:
    fleets = await scoped_fleets(pool, user)
    if fleet and all(f.fleet_id != fleet for f in fleets):
        raise HTTPException(404, f"no fleet {fleet!r}")
    return fleets


@router.get("/heatmap", response_class=HTMLResponse, include_in_schema=False)
async def heatmap_page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet: FleetParam = None,
    q: SearchParam = None,
    tz: ZoneParam = None,
    page: PageParam = 1,
) -> HTMLResponse:
    fleet, q, tz = fleet or None, q or None, tz or None
    fleets = await _fleets_checked(pool, login.user, fleet)
    error = None
    if tz is not None and not known_zone(tz):
        error, tz = f"unknown time zone {tz!r}: use an IANA name like Asia/Singapore", None
    zone = _zone(fleets, fleet, tz)
    hourly = await heatmap(pool, login.user, "hourly", timezone=zone, fleet=fleet, q=q, page=page)
    daily = await heatmap(pool, login.user, "daily", timezone=zone, fleet=fleet, q=q, page=page)
    filters = {k: v for k, v in (("fleet", fleet), ("q", q), ("tz", tz)) if v}

    def page_url(n: int) -> str:
        return "/heatmap?" + urlencode({**filters, "page": n})

    zones = sorted({"UTC", zone, *(f.timezone for f in fleets)})
    return TEMPLATES.TemplateResponse(
        request,
        "heatmap.html",
        {
            "login": login,
            "fleets": fleets,
            "fleet": fleet,
            "q": q or "",
            "tz": zone,
            "zones": zones,
            "error": error,
            "maps": (hourly, daily),
            "bucket": bucket,
            "page": page,
            "pages": max(hourly.pages, daily.pages),
            "total": hourly.total,
            "per_page": PER_PAGE,
            "page_url": page_url,
        },
        status_code=422 if error else 200,
    )


@router.get(
    "/api/v1/heatmap/{kind}",
    tags=["uptime"],
    responses={404: {"description": "no such fleet in scope"}, 422: {"description": "bad zone"}},
)
async def heatmap_api(
    kind: Kind,
    pool: PoolDep,
    user: ApiUser,
    fleet: FleetParam = None,
    q: SearchParam = None,
    tz: ZoneParam = None,
    page: PageParam = 1,
) -> Heatmap:
    """Percent online per tablet and hour (last 24 h) or local day (last 30 days).

    A cell is ``null`` where the tablet was not observed (before registration).
    Columns are labelled in ``tz`` (default: the fleet's zone, else UTC).
    """
    fleets = await _fleets_checked(pool, user, fleet or None)
    if tz and not known_zone(tz):
        raise HTTPException(422, f"unknown time zone {tz!r}: use an IANA name like Asia/Singapore")
    zone = _zone(fleets, fleet or None, tz or None)
    return await heatmap(
        pool, user, kind, timezone=zone, fleet=fleet or None, q=q or None, page=page
    )
