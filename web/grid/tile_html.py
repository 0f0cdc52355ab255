"""Rendered tiles, cached per tablet until its row changes.

A tile's HTML depends only on its row (times are rendered absolute; the page's
script turns them into "3 min ago"), so a grid of 20,000 tablets re-renders only
the tiles that changed since the last page or stream event asked for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

from markupsafe import Markup
from psycopg_pool import AsyncConnectionPool

from store.tiles import Tile
from web.grid.tiles import changed_since
from web.http.templating import TEMPLATES

_row = attrgetter(*Tile.__dataclass_fields__)


class TileRenderer:
    def __init__(self, max_entries: int = 200_000) -> None:
        self._macro: Callable[[Tile], Any] = TEMPLATES.env.get_template("_tile.html").module.tile  # type: ignore[attr-defined]
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
        html = self._macro(tile)  # autoescaped: a macro returns Markup
        assert isinstance(html, Markup)
        if len(self._cache) >= self.max_entries:
            self._cache.clear()  # bounded; a full grid re-renders once
        self._cache[tile.tablet_id] = (key, html)
        return html


async def warm(pool: AsyncConnectionPool, render: TileRenderer, chunk: int = 500) -> int:
    """Render every tablet's tile once at start-up, so the first grid view is fast too."""
    tiles = await changed_since(pool, datetime(1970, 1, 1, tzinfo=UTC))
    for n, tile in enumerate(tiles, start=1):
        render(tile)
        if n % chunk == 0:
            await asyncio.sleep(0)  # let requests in between chunks
    return len(tiles)
