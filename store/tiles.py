"""Tiles: one row per registered tablet, read from ``tablet_state`` within a user's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
    timezone: str = "UTC"  # the fleet's: the tile's times are shown in it
    health: list[str] | None = None  # kinds of its open health incidents (low_storage, …)

    @property
    def playlist_applied(self) -> bool:
        return self.desired_etag is None or self.desired_etag == self.applied_etag

    @property
    def rank(self) -> int:
        """Where "problems first" puts it: offline, flapping, never seen, then online."""
        if self.state == "offline":
            return 0
        if self.incident == "flapping":
            return 1
        return 2 if self.state == "unknown" else 3


SELECT_TILES = """
SELECT t.tablet_id, f.tenant_id, f.fleet_id, f.name AS fleet_name, t.car_id,
       coalesce(s.state, 'unknown') AS state, s.state_since, s.last_heartbeat_at,
       t.heartbeat_interval_s, s.battery, s.app_version, s.ad_id, s.campaign_id,
       s.desired_etag, s.applied_etag, i.kind AS incident, s.updated_at, f.timezone,
       (SELECT array_agg(h.kind ORDER BY h.kind) FROM incidents h
         WHERE h.tablet_id = t.tablet_id AND h.resolved_at IS NULL
           AND h.kind NOT IN ('offline', 'flapping', 'download_failed')) AS health
FROM tablets t
JOIN fleets f ON f.fleet_id = t.fleet_id
LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
LEFT JOIN incidents i ON i.incident_id = s.open_incident_id AND i.resolved_at IS NULL
"""

# The grid's order, which the page's script keeps when tiles change (web/static/panel.js):
# byte order ("C") so that the browser's string comparison agrees; "problems first" puts
# offline, flapping and never seen tablets before the online ones (Tile.rank).
RANK = """CASE WHEN coalesce(s.state, 'unknown') = 'offline' THEN 0
                WHEN i.kind = 'flapping' THEN 1
                WHEN coalesce(s.state, 'unknown') = 'unknown' THEN 2 ELSE 3 END"""

GRID_WHERE = f"""
WHERE t.revoked_at IS NULL AND {IN_SCOPE}
  AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
  AND (%(state)s::text IS NULL OR coalesce(s.state, 'unknown') = %(state)s)
  AND (%(q)s::text IS NULL OR t.tablet_id ILIKE %(q)s OR t.car_id ILIKE %(q)s)
"""

GRID = (
    SELECT_TILES
    + GRID_WHERE
    + f"""ORDER BY f.name COLLATE "C", f.fleet_id COLLATE "C",
         CASE WHEN %(problems)s THEN {RANK} ELSE 0 END,
         t.car_id COLLATE "C" NULLS LAST, t.tablet_id COLLATE "C"
"""
)

GRID_MEMORY = "SET LOCAL work_mem = '16MB'"

COUNTS = f"""
SELECT coalesce(s.state, 'unknown'), count(*)
FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
WHERE t.revoked_at IS NULL AND {IN_SCOPE} AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
GROUP BY 1
"""  # noqa: S608  # IN_SCOPE is a constant fragment

# The grid's tiles per fleet (its sections' counts), for the same filters as GRID.
FLEET_COUNTS = (
    """
SELECT f.fleet_id, count(*)
FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
"""
    + GRID_WHERE
    + "GROUP BY f.fleet_id"
)

# Every registered tablet's fleet and state (all tenants): the change feed's counts.
STATES = """
SELECT t.tablet_id, f.tenant_id, f.fleet_id, coalesce(s.state, 'unknown')
FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
LEFT JOIN tablet_state s ON s.tablet_id = t.tablet_id
WHERE t.revoked_at IS NULL
"""

# The tiles of some tablets or fleets (all tenants), revoked ones left out: after a
# registration, a move or a revocation (NOTIFY fleethub_tablets).
NAMED = (
    SELECT_TILES
    + """WHERE t.revoked_at IS NULL
  AND (t.tablet_id = ANY(%(tablets)s) OR t.fleet_id = ANY(%(fleets)s))"""
)

ONE = SELECT_TILES + f"WHERE t.tablet_id = %(tablet)s AND {IN_SCOPE}"

CHANGED = SELECT_TILES + "WHERE s.updated_at > %(since)s AND t.revoked_at IS NULL"

FLEETS = f"SELECT f.fleet_id, f.name FROM fleets f WHERE {IN_SCOPE} ORDER BY f.name"  # noqa: S608


async def grid(
    pool: AsyncConnectionPool,
    user: User,
    fleet: str | None,
    state: str | None,
    like: str | None,
    problems_first: bool = False,
) -> list[Tile]:
    """The user's tiles; ``like`` is an ILIKE pattern on the tablet or car id."""
    params = scope_params(user, fleet=fleet, state=state, q=like, problems=problems_first)
    # Binary results: 20,000 rows parse about twice as fast as from text. The sort of
    # 20,000 rows needs ~4.5 MB: past the default work_mem it spills to disk (2x slower).
    async with (
        pool.connection() as conn,
        conn.transaction(),
        conn.cursor(row_factory=class_row(Tile), binary=True) as cur,
    ):
        await cur.execute(GRID_MEMORY)
        await cur.execute(GRID, params)
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class GridHead:
    """What a grid shows before its tiles: tablets per state of the whole fleet(s) in scope
    (as :func:`counts`) and the tiles per fleet the filters leave (each section's count)."""

    counts: dict[str, int]
    per_fleet: dict[str, int]


async def grid_chunks(
    pool: AsyncConnectionPool,
    user: User,
    fleet: str | None,
    state: str | None,
    like: str | None,
    problems_first: bool = False,
    size: int = 1000,
    first: int = 200,
) -> AsyncIterator[GridHead | list[Tile]]:
    """The grid as :func:`grid` reads it, in pieces: first its :class:`GridHead`, then its
    first ``first`` tiles (what a screen shows, sooner), then ``size`` at a time, from a
    server-side cursor, all from one snapshot (repeatable read), so the counts agree with
    the tiles."""
    params = scope_params(user, fleet=fleet, state=state, q=like, problems=problems_first)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        await conn.execute(GRID_MEMORY)
        cur = await conn.execute(COUNTS, params)
        counts = {str(s): int(str(n)) for s, n in await cur.fetchall()}
        cur = await conn.execute(FLEET_COUNTS, params)
        per_fleet = {str(f): int(str(n)) for f, n in await cur.fetchall()}
        yield GridHead(counts, per_fleet)
        async with conn.cursor("grid", row_factory=class_row(Tile), binary=True) as tiles:
            await tiles.execute(GRID, params)
            step = first
            while rows := await tiles.fetchmany(step):
                yield rows
                step = size


async def one(pool: AsyncConnectionPool, user: User, tablet_id: str) -> Tile | None:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Tile)) as cur:
        await cur.execute(ONE, scope_params(user, tablet=tablet_id))
        return await cur.fetchone()


async def changed_since(pool: AsyncConnectionPool, since: datetime) -> list[Tile]:
    """Every tile (all tenants) whose state row changed after ``since``; the feed filters."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Tile)) as cur:
        await cur.execute(CHANGED, {"since": since})
        return await cur.fetchall()


async def changed_chunks(
    pool: AsyncConnectionPool, since: datetime, size: int = 500
) -> AsyncIterator[list[Tile]]:
    """:func:`changed_since` in pieces of ``size`` from a server-side cursor: parsing 20,000
    rows at once holds the event loop for most of a second (the panel's start-up warm-up
    runs beside its first requests)."""
    async with (
        pool.connection() as conn,
        conn.transaction(),
        conn.cursor("changed", row_factory=class_row(Tile), binary=True) as cur,
    ):
        await cur.execute(CHANGED, {"since": since})
        while rows := await cur.fetchmany(size):
            yield rows


async def fleets(pool: AsyncConnectionPool, user: User) -> list[tuple[str, str]]:
    """(fleet_id, name) of the fleets the user sees."""
    async with pool.connection() as conn:
        cur = await conn.execute(FLEETS, scope_params(user))
        return [(str(r[0]), str(r[1])) for r in await cur.fetchall()]


async def counts(pool: AsyncConnectionPool, user: User, fleet: str | None) -> dict[str, int]:
    """Tablets per state in the user's scope (and ``fleet``), whatever else a page filters."""
    async with pool.connection() as conn:
        cur = await conn.execute(COUNTS, scope_params(user, fleet=fleet))
        return {str(state): int(str(n)) for state, n in await cur.fetchall()}


async def states(pool: AsyncConnectionPool) -> list[tuple[str, str, str, str]]:
    """(tablet_id, tenant_id, fleet_id, state) of every registered tablet (all tenants)."""
    async with pool.connection() as conn:
        cur = await conn.execute(STATES)
        return [(str(a), str(b), str(c), str(d)) for a, b, c, d in await cur.fetchall()]


async def named(pool: AsyncConnectionPool, tablets: list[str], fleets: list[str]) -> list[Tile]:
    """The tiles of these tablets and of every tablet of these fleets (all tenants)."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Tile)) as cur:
        await cur.execute(NAMED, {"tablets": tablets, "fleets": fleets})
        return await cur.fetchall()
