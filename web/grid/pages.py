"""The fleet owner's live uptime grid and its server-sent change stream."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sse_starlette.sse import EventSourceResponse

from store.tiles import Tile
from web.deps import FleetLogin, PoolDep
from web.grid.tile_html import TileRenderer
from web.grid.tiles import STATES, fleets, grid
from web.http.templating import TEMPLATES
from web.live.feed import AlertRaised, ChangeFeed, TilesChanged

router = APIRouter(include_in_schema=False)

FleetQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
StateQuery = Annotated[Literal["online", "offline", "unknown"] | None, Query()]
SearchQuery = Annotated[str | None, Query(max_length=64)]


def counts(tiles: list[Tile]) -> dict[str, int]:
    return {s: sum(1 for t in tiles if t.state == s) for s in STATES}


@dataclass(frozen=True, slots=True)
class Section:
    fleet_name: str
    count: int
    html: Markup


def sections(tiles: list[Tile], render: TileRenderer) -> list[Section]:
    """One section per fleet (tiles arrive sorted by fleet), its tiles joined once."""
    out: list[Section] = []
    for (name, _), group in itertools.groupby(tiles, key=lambda t: (t.fleet_name, t.fleet_id)):
        rendered = [render(t) for t in group]
        out.append(Section(name, len(rendered), Markup("").join(rendered)))
    return out


@router.get("/", response_class=HTMLResponse)
async def grid_page(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet: FleetQuery = None,
    state: StateQuery = None,
    q: SearchQuery = None,
) -> HTMLResponse:
    tiles = await grid(pool, login.user, fleet or None, state, q or None)
    return TEMPLATES.TemplateResponse(
        request,
        "grid.html",
        {
            "login": login,
            "counts": counts(tiles),
            "sections": sections(tiles, request.app.state.render_tile),
            "fleets": await fleets(pool, login.user),
            "fleet": fleet,
            "state": state,
            "q": q or "",
        },
    )


@router.get("/grid/stream")
async def grid_stream(request: Request, login: FleetLogin) -> EventSourceResponse:
    """Changed tiles (rendered) and alerts, for this user's scope only."""
    feed: ChangeFeed = request.app.state.feed
    render_tile: TileRenderer = request.app.state.render_tile

    async def events() -> AsyncIterator[dict[str, Any]]:
        with feed.subscribe(login.user) as sub:
            yield {"event": "hello", "data": "{}"}
            while True:
                event = await sub.queue.get()
                if sub.overflowed:
                    yield {"event": "resync", "data": "{}"}
                    return
                if isinstance(event, TilesChanged):
                    for tile in event.tiles:
                        html = str(render_tile(tile))
                        data = {"id": tile.tablet_id, "state": tile.state, "html": html}
                        yield {"event": "tile", "id": tile.tablet_id, "data": json.dumps(data)}
                elif isinstance(event, AlertRaised):
                    yield {"event": "alert", "data": json.dumps(event.alert)}
                await asyncio.sleep(0)

    return EventSourceResponse(events(), ping=15, send_timeout=10)
