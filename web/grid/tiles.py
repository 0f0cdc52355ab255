"""The live grid's data: one tile per tablet within the user's scope (:mod:`store.tiles`)."""

from __future__ import annotations

from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from store import tiles
from store.tiles import Tile
from store.users import User

STATES = ("online", "offline", "unknown")


def _like(q: str | None) -> str | None:
    if not q:
        return None
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def grid(
    pool: AsyncConnectionPool,
    user: User,
    fleet: str | None = None,
    state: str | None = None,
    q: str | None = None,
) -> list[Tile]:
    return await tiles.grid(pool, user, fleet, state, _like(q))


async def one(pool: AsyncConnectionPool, user: User, tablet_id: str) -> Tile | None:
    return await tiles.one(pool, user, tablet_id)


async def changed_since(pool: AsyncConnectionPool, since: datetime) -> list[Tile]:
    """Every tile (all tenants) whose state row changed after ``since``; the feed filters."""
    return await tiles.changed_since(pool, since)


async def fleets(pool: AsyncConnectionPool, user: User) -> list[tuple[str, str]]:
    """(fleet_id, name) of the fleets the user sees."""
    return await tiles.fleets(pool, user)
