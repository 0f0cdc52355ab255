"""Uptime heatmaps (tablets × last 24 hours, tablets × last 30 days): the page.

The same maps as JSON for bearer tokens: web/reports/api.py.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from store.fleets import Fleet
from store.users import User
from web.deps import FleetLogin, PoolDep
from web.http.templating import TEMPLATES
from web.reports.heatmap import PER_PAGE, bucket, heatmap, known_zone, scoped_fleets

router = APIRouter(include_in_schema=False)

FleetParam = Annotated[str | None, Query(max_length=64, description="a fleet id in scope")]
SearchParam = Annotated[str | None, Query(max_length=64, description="part of a tablet or car id")]
ZoneParam = Annotated[
    str | None, Query(max_length=64, description="IANA zone of the column labels (Asia/Singapore)")
]
PageParam = Annotated[int, Query(ge=1, le=100_000, description=f"{PER_PAGE} tablets a page")]


def column_zone(fleets: list[Fleet], fleet: str | None, tz: str | None) -> str:
    """The asked zone, else the chosen fleet's, else the one all fleets share, else UTC."""
    if tz:
        return tz
    zones = {f.timezone for f in fleets if fleet is None or f.fleet_id == fleet}
    return zones.pop() if len(zones) == 1 else "UTC"


async def fleets_or_404(pool: PoolDep, user: User, fleet: str | None) -> list[Fleet]:
    """The fleets in scope, a 404 when ``fleet`` is not one of them."""
    fleets = await scoped_fleets(pool, user)
    if fleet and all(f.fleet_id != fleet for f in fleets):
        raise HTTPException(404, f"no fleet {fleet!r}")
    return fleets


@router.get("/heatmap", response_class=HTMLResponse)
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
    fleets = await fleets_or_404(pool, login.user, fleet)
    error = None
    if tz is not None and not known_zone(tz):
        error, tz = f"unknown time zone {tz!r}: use an IANA name like Asia/Singapore", None
    zone = column_zone(fleets, fleet, tz or login.zone_choice)
    hourly, daily = [
        await heatmap(
            pool,
            login.user,
            kind,
            timezone=zone,
            fleets_in_scope=fleets,
            fleet=fleet,
            q=q,
            page=page,
        )
        for kind in ("hourly", "daily")
    ]
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
