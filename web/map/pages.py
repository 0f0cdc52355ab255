"""The map (``/map``): every tablet of the user's scope at its last reported position,
coloured by state, live.

The page carries the positions as JSON; ``/map/stream`` (SSE) sends the tablets whose state
row changed (the panel's one :class:`~web.live.feed.ChangeFeed`), with their positions read
again, so markers move and change colour as heartbeats arrive. The map library is Leaflet
with its marker-cluster plugin, served from ``web/static/vendor`` (``scripts/vendor-map``);
only the tiles come from ``FLEETHUB_MAP_TILE_URL`` (empty: no tiles), whose origin the page's
Content-Security-Policy allows (web/http/headers.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sse_starlette.sse import EventSourceResponse

from store import positions
from store.positions import Spot
from web.deps import FleetLogin, PoolDep, SettingsDep
from web.grid.tiles import fleets
from web.http.templating import TEMPLATES
from web.live.feed import ChangeFeed, TilesChanged

router = APIRouter(include_in_schema=False)
LISTED = 200  # the table beside the map lists this many (offline first)
STATE_ORDER = {"offline": 0, "unknown": 1, "online": 2}


def spot_json(s: Spot) -> list[Any]:
    """One tablet as the page's script reads it: [id, state, lat, lon, fleet, car, seen]."""
    seen = s.last_heartbeat_at.isoformat() if s.last_heartbeat_at else None
    return [s.tablet_id, s.state, s.lat, s.lon, s.fleet_id, s.car_id, seen]


def _fleet(request: Request, choices: list[tuple[str, str]]) -> str | None:
    """The fleet asked for, when it is one of the user's (else every fleet)."""
    asked = request.query_params.get("fleet", "")
    return asked if asked in {f for f, _ in choices} else None


@router.get("/map", response_class=HTMLResponse)
async def map_page(
    request: Request, pool: PoolDep, login: FleetLogin, settings: SettingsDep
) -> HTMLResponse:
    choices = await fleets(pool, login.user)
    fleet = _fleet(request, choices)
    found = await positions.spots(pool, login.user, fleet)
    placed = [s for s in found if s.lat is not None]
    listed = sorted(found, key=lambda s: (STATE_ORDER.get(s.state, 3), s.tablet_id))[:LISTED]
    config = {
        "tiles": settings.map_tile_url,
        "attribution": settings.map_tile_attribution,
        "stream": "/map/stream" + (f"?fleet={fleet}" if fleet else ""),
        "spots": [spot_json(s) for s in found],
    }
    return TEMPLATES.TemplateResponse(
        request,
        "map.html",
        {
            "login": login,
            "fleets": choices,
            "fleet": fleet or "",
            "total": len(found),
            "placed": len(placed),
            "counts": {st: sum(1 for s in found if s.state == st) for st in STATE_ORDER},
            "listed": listed,
            "config": json.dumps(config, separators=(",", ":")),
        },
    )


@router.get("/map/stream")
async def map_stream(request: Request, pool: PoolDep, login: FleetLogin) -> EventSourceResponse:
    """The user's tablets whose state changed, with their positions: ``spots`` events."""
    feed: ChangeFeed = request.app.state.feed
    fleet = _fleet(request, await fleets(pool, login.user))

    async def events() -> AsyncIterator[dict[str, Any]]:
        with feed.subscribe(login.user) as sub:
            yield {"event": "hello", "data": "{}"}
            while True:
                event = await sub.queue.get()
                if sub.overflowed:
                    yield {"event": "resync", "data": "{}"}
                    return
                if not isinstance(event, TilesChanged):
                    continue
                ids = [t.tablet_id for t in event.tiles if fleet in (None, t.fleet_id)]
                if ids:
                    found = await positions.spots(pool, login.user, fleet, ids)
                    data = json.dumps([spot_json(s) for s in found], separators=(",", ":"))
                    yield {"event": "spots", "data": data}
                await asyncio.sleep(0)

    return EventSourceResponse(events(), ping=15, send_timeout=10)
