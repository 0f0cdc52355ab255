"""Tiles: one row per registered tablet, read from ``tablet_state`` within a user's scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from store.scope import IN_SCOPE, scope_params
from store.users import User


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~2x on a 20,000-row grid
class Tile:
    tablet_id: str
    tenant_id: str
    fleet_id: str
    fleet_name: str
    car_id: str | None
    state: str
    state_since: datetime | None
    last_heartbeat_at: datetime | None
    heartbeat_interval_s: int
    battery: int | None
    app_version: str | None
    ad_id: str | None
    campaign_id: str | None
    desired_etag: str | None
    applied_etag: str | None
    incident: str | None
    updated_at: datetime | None

    @property
    def playlist_applied(self) -> bool:
        return self.desired_etag is None or self.desired_etag == self.applied_etag


SELECT_TILES = """
SELECT t.tablet_id, f.tenant_id, f.fleet_id, f.name AS fleet_name, t.car_id,
       coalesce(s.state, 'unknown') AS state, s.state_since, s.last_heartbeat_at,
       t.heartbeat_interval_s, s.battery, s.app_version, s.ad_id, s.campaign_id,
       s.desired_etag, s.applied_etag, i.kind AS incident, s.updated_at
FROM tablets t
JOIN fleets f ON f.fleet_id = t.fleet_id
LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
LEFT JOIN incidents i ON i.incident_id = s.open_incident_id AND i.resolved_at IS NULL
"""

GRID = (
    SELECT_TILES
    + f"""
WHERE t.revoked_at IS NULL AND {IN_SCOPE}
  AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
  AND (%(state)s::text IS NULL OR coalesce(s.state, 'unknown') = %(state)s)
  AND (%(q)s::text IS NULL OR t.tablet_id ILIKE %(q)s OR t.car_id ILIKE %(q)s)
ORDER BY f.name, f.fleet_id, t.car_id NULLS LAST, t.tablet_id
"""
)

ONE = SELECT_TILES + f"WHERE t.tablet_id = %(tablet)s AND {IN_SCOPE}"

CHANGED = SELECT_TILES + "WHERE s.updated_at > %(since)s AND t.revoked_at IS NULL"

FLEETS = f"SELECT f.fleet_id, f.name FROM fleets f WHERE {IN_SCOPE} ORDER BY f.name"  # noqa: S608


async def grid(
    pool: AsyncConnectionPool, user: User, fleet: str | None, state: str | None, like: str | None
) -> list[Tile]:
    """The user's tiles; ``like`` is an ILIKE pattern on the tablet or car id."""
    params = scope_params(user, fleet=fleet, state=state, q=like)
    # Binary results: 20,000 rows parse about twice as fast as from text.
    async with (
        pool.connection() as conn,
        conn.cursor(row_factory=class_row(Tile), binary=True) as cur,
    ):
        await cur.execute(GRID, params)
        return await cur.fetchall()


async def one(pool: AsyncConnectionPool, user: User, tablet_id: str) -> Tile | None:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Tile)) as cur:
        await cur.execute(ONE, scope_params(user, tablet=tablet_id))
        return await cur.fetchone()


async def changed_since(pool: AsyncConnectionPool, since: datetime) -> list[Tile]:
    """Every tile (all tenants) whose state row changed after ``since``; the feed filters."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Tile)) as cur:
        await cur.execute(CHANGED, {"since": since})
        return await cur.fetchall()


async def fleets(pool: AsyncConnectionPool, user: User) -> list[tuple[str, str]]:
    """(fleet_id, name) of the fleets the user sees."""
    async with pool.connection() as conn:
        cur = await conn.execute(FLEETS, scope_params(user))
        return [(str(r[0]), str(r[1])) for r in await cur.fetchall()]
