"""One tablet's page: live tile, 24 h timeline, heartbeats, incidents, deliveries.

Its heartbeats, transitions and incidents as JSON for bearer tokens: web/tablets/api.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from web.commands.forms import WORDS
from web.deps import FleetLogin, PoolDep
from web.http.templating import TEMPLATES
from web.tablets.detail import detail

router = APIRouter(include_in_schema=False)


@router.get("/tablets/{tablet_id}", response_class=HTMLResponse)
async def tablet_page(
    tablet_id: str, request: Request, pool: PoolDep, login: FleetLogin
) -> HTMLResponse:
    now = datetime.now(UTC)
    found = await detail(pool, login.user, tablet_id, now)
    if found is None:
        raise HTTPException(404, f"no tablet {tablet_id!r}")
    zone = login.zone_for(found.fleet.timezone)
    return TEMPLATES.TemplateResponse(
        request,
        "tablet.html",
        {
            "login": login,
            "d": found,
            "now": now,
            "zone": zone,
            "tile": request.app.state.render_tile(found.tile),  # the grid's, live
            "command_words": WORDS,
        },
    )
