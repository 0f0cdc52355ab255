"""The fleet owner's live uptime grid and its server-sent change stream.

The page, its fragment (what the search box fetches) and the stream are one view: the
page's script places each changed tile where a fresh load of the same address would
(web/static/panel.js), and the header counts the whole fleet, whatever the page filters.
The page itself is sent in pieces as its rows are read (web/grid/streamed.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from psycopg_pool import AsyncConnectionPool
from sse_starlette.sse import EventSourceResponse

from store.tiles import Tile
from store.users import User
from web.deps import FleetLogin, Login, LoginDep, PoolDep
from web.grid.streamed import grid_response
from web.grid.tile_html import SECTION_CLOSE, TileRenderer, section_open
from web.grid.tiles import (
    ORDERS,
    STATE_WORDS,
    GridFilter,
    fleet_counts,
    fleets,
    grid,
    parse_filter,
)
from web.http.menu import home_of
from web.http.templating import TEMPLATES
from web.live.feed import AlertRaised, ChangeFeed, TilesChanged

router = APIRouter(include_in_schema=False)

# The API's filters (web/grid/api.py): strict, a bad value is a 422 there.
FleetQuery = Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]
StateQuery = Annotated[Literal["online", "offline", "unknown"] | None, Query()]
SearchQuery = Annotated[str | None, Query(max_length=64)]
# The pages' filters: anything, checked by parse_filter (empty is no filter, a bad value a
# message on the page).
LooseQuery = Annotated[str | None, Query(max_length=512)]


@dataclass(frozen=True, slots=True)
class Section:
    fleet_id: str
    fleet_name: str
    timezone: str
    count: int
    html: Markup

    @property
    def opening(self) -> Markup:
        return section_open(self.fleet_id, self.fleet_name, self.timezone, self.count)


def sections(tiles: list[Tile], render: TileRenderer) -> list[Section]:
    """One section per fleet (tiles arrive sorted by fleet), its tiles joined once."""
    out: list[Section] = []
    for (name, fleet_id, zone), group in itertools.groupby(
        tiles, key=lambda t: (t.fleet_name, t.fleet_id, t.timezone)
    ):
        rendered = [render(t) for t in group]
        out.append(Section(fleet_id, name, zone, len(rendered), Markup("").join(rendered)))
    return out


@dataclass(frozen=True, slots=True)
class GridView:
    wanted: GridFilter
    problems: list[str]
    counts: dict[str, int]
    sections: list[Section]
    fleets: list[tuple[str, str]]


async def _view(
    request: Request,
    pool: AsyncConnectionPool,
    user: User,
    raw: tuple[str | None, str | None, str | None, str | None],
) -> GridView:
    scoped = await fleets(pool, user)
    wanted, problems = parse_filter(*raw, scoped)
    tiles = await grid(pool, user, wanted.fleet, wanted.state, wanted.q, wanted.problems_first)
    return GridView(
        wanted,
        problems,
        await fleet_counts(pool, user, wanted, tiles),
        sections(tiles, request.app.state.render_tile),
        scoped,
    )


def _context(login: Login, view: GridView) -> dict[str, Any]:
    return {
        "login": login,
        "view": view,
        "wanted": view.wanted,
        "counts": view.counts,
        "sections": view.sections,
        "fleets": view.fleets,
        "states": STATE_WORDS,
        "orders": ORDERS,
        "section_close": SECTION_CLOSE,
        "streamed": None,
    }


@router.get("/", response_class=HTMLResponse)
async def grid_page(
    request: Request,
    pool: PoolDep,
    login: LoginDep,
    fleet: LooseQuery = None,
    state: LooseQuery = None,
    q: LooseQuery = None,
    order: LooseQuery = None,
) -> Response:
    if not login.user.can_view_fleet:  # agents and advertisers start elsewhere
        return RedirectResponse(home_of(login.user), status_code=303)
    scoped = await fleets(pool, login.user)
    wanted, problems = parse_filter(fleet, state, q, order, scoped)
    view = GridView(wanted, problems, {}, [], scoped)  # counts and tiles: streamed
    status = 422 if problems else 200
    return await grid_response(request, pool, login.user, wanted, _context(login, view), status)


@router.get("/grid/fragment", response_class=HTMLResponse)
async def grid_fragment(
    request: Request,
    pool: PoolDep,
    login: FleetLogin,
    fleet: LooseQuery = None,
    state: LooseQuery = None,
    q: LooseQuery = None,
    order: LooseQuery = None,
) -> HTMLResponse:
    """The grid of the page for these filters alone (its search box fetches it as you type)."""
    view = await _view(request, pool, login.user, (fleet, state, q, order))
    return TEMPLATES.TemplateResponse(request, "_grid.html", _context(login, view))


@router.get("/grid/stream")
async def grid_stream(
    request: Request, login: FleetLogin, fleet: LooseQuery = None
) -> EventSourceResponse:
    """Changed tiles (rendered), tablets gone from view, the counts of ``fleet`` (else every
    fleet in scope) after each change, and alerts: for this user's scope only."""
    feed: ChangeFeed = request.app.state.feed
    render_tile: TileRenderer = request.app.state.render_tile
    counted = (fleet or "").strip() or None

    def counts() -> dict[str, Any] | None:
        found = feed.counts(login.user, counted)
        return None if found is None else {"event": "counts", "data": json.dumps(found)}

    async def events() -> AsyncIterator[dict[str, Any]]:
        with feed.subscribe(login.user) as sub:
            yield {"event": "hello", "data": "{}"}
            if first := counts():
                yield first
            while True:
                event = await sub.queue.get()
                if sub.overflowed:
                    yield {"event": "resync", "data": "{}"}
                    return
                if isinstance(event, TilesChanged):
                    for tile in event.tiles:
                        html = str(render_tile(tile))
                        data = {
                            "id": tile.tablet_id,
                            "state": tile.state,
                            "fleet_id": tile.fleet_id,
                            "fleet_name": tile.fleet_name,
                            "zone": tile.timezone,
                            "html": html,
                        }
                        yield {"event": "tile", "id": tile.tablet_id, "data": json.dumps(data)}
                    for tablet_id in event.gone:
                        yield {"event": "gone", "data": json.dumps({"id": tablet_id})}
                    if sub.queue.empty() and (now := counts()):
                        yield now
                elif isinstance(event, AlertRaised):
                    yield {"event": "alert", "data": json.dumps(event.alert)}
                await asyncio.sleep(0)

    return EventSourceResponse(events(), ping=15, send_timeout=10)
