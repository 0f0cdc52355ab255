"""Rendered tiles, cached per tablet until its row changes.

A tile's HTML depends only on its row (times are rendered absolute, in the fleet's zone;
the page's script turns them into "3 min ago"), so a grid of 20,000 tablets re-renders only
the tiles that changed since the last page or stream event asked for them. A tile is built
in Python, not by a Jinja macro: five times cheaper, which is what the first grid after a
restart (every tile rendered) waits for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from operator import attrgetter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup, escape
from psycopg_pool import AsyncConnectionPool

from store.incidents import KIND_WORDS
from store.tiles import Tile
from web.grid.tiles import changed_chunks
from web.http.templating import TEMPLATES

_row = attrgetter(*Tile.__dataclass_fields__)


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def tile_html(t: Tile) -> Markup:
    """One tile of the live grid (also sent alone on the SSE stream); lean, 20,000 a page.

    Times are in the fleet's zone; "23 min", "3 min ago" and the user's own zone are the
    page script's job (web/static/panel.js). The second ``<i>`` is the car (class "nocar"
    when none): the script orders tiles by it.
    """
    tid = escape(t.tablet_id)
    state = escape(t.state)
    zone = _zone(t.timezone)
    out = [f'<a class="tile {state}']
    if t.incident:
        kind = escape(t.incident)
        out.append(f" incident incident-{kind}")
    if t.health:
        out.append(" health")
    out.append(f'" id="tile-{tid}" href="/tablets/{tid}" data-state="{state}"')
    if t.state == "offline" and t.state_since:
        out.append(f' data-since="{t.state_since.isoformat(timespec="seconds")}"')
    last = t.last_heartbeat_at
    out.append(f' data-last="{"" if last is None else last.isoformat(timespec="seconds")}"')
    if t.heartbeat_interval_s != 60:
        out.append(f' data-interval="{int(t.heartbeat_interval_s)}"')
    out.append(f"><b>{tid}</b>")
    out.append(f"<i>{escape(t.car_id)}</i>" if t.car_id else '<i class="nocar">no car</i>')
    if t.state == "offline":
        out.append('<i class="st">offline')
        if t.state_since:
            since, utc = t.state_since.astimezone(zone), t.state_since.astimezone(UTC)
            out.append(f' since <span class="at" title="{utc:%H:%M} UTC">{since:%H:%M}</span>')
        out.append('<span class="for"></span>')
    else:
        out.append("<i>online" if t.state == "online" else "<i>never seen")
    if t.incident == "flapping":
        out.append(" · flapping")
    elif t.incident:
        out.append(" · alert open")
    out.append("</i>")
    beat = f"heartbeat {last.astimezone(zone):%H:%M}" if last else "no heartbeat yet"
    out.append(f'<i class="ago">{beat}</i>')
    out.append(f"<i>{escape(t.ad_id) if t.ad_id else 'no ad playing'}</i>")
    battery = "battery –" if t.battery is None else f"battery {int(t.battery)}%"
    version = escape(t.app_version) if t.app_version else "?"
    out.append(f"<i>{battery} · {version}</i>")
    if t.health:
        words = " · ".join(escape(KIND_WORDS.get(k, k)) for k in t.health)
        out.append(f'<i class="health-open">{words}</i>')
    if t.playlist_applied:
        out.append('<i class="pl-ok">playlist ✓</i></a>')
    else:
        out.append('<i class="pl-pending">playlist pending</i></a>')
    return Markup("".join(out))  # noqa: S704 - every value from the row is escaped above


def section_open(fleet_id: str, name: str, zone: str, count: int) -> Markup:
    """A fleet's section of the grid up to its tiles (then its tiles and
    :data:`SECTION_CLOSE`): the page's, the fragment's and the streamed page's."""
    word = "tablet" if count == 1 else "tablets"
    return Markup(  # noqa: S704 - every value is escaped
        f'<section class="fleet" data-fleet="{escape(fleet_id)}" data-name="{escape(name)}"'
        f' data-tz="{escape(zone)}">\n  <h2>{escape(name)} <small>{int(count)} {word}</small>'
        '</h2>\n  <div class="tiles">'
    )


SECTION_CLOSE = Markup("</div>\n</section>\n")


class TileRenderer:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._render: Callable[[Tile], Markup] = tile_html
        self._cache: dict[str, tuple[tuple[object, ...], Markup]] = {}
        self.max_entries = max_entries
        self.hits = self.misses = 0

    def __call__(self, tile: Tile) -> Markup:
        key = _row(tile)
        cached = self._cache.get(tile.tablet_id)
        if cached is not None and cached[0] == key:
            self.hits += 1
            return cached[1]
        self.misses += 1
        html = self._render(tile)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()  # bounded; a full grid re-renders once
        self._cache[tile.tablet_id] = (key, html)
        return html


async def warm(pool: AsyncConnectionPool, render: TileRenderer, chunk: int = 500) -> int:
    """Render every tablet's tile once at start-up, so the first grid view is fast too
    (and compile the grid page's templates, which a first request would otherwise do).

    The rows are read and rendered ``chunk`` at a time, the event loop free in between: the
    panel serves requests while it warms (reading 20,000 rows in one go held it for 0.6-0.8 s,
    the first grid's first byte with it)."""
    for name in ("grid.html", "_grid.html", "base.html"):
        TEMPLATES.get_template(name)
    warmed = 0
    async for tiles in changed_chunks(pool, datetime(1970, 1, 1, tzinfo=UTC), chunk):
        for tile in tiles:
            render(tile)
        warmed += len(tiles)
        await asyncio.sleep(0)  # let requests in between chunks
    return warmed
