"""One tablet in depth: its registration, recent heartbeats, presence timeline and deliveries.

Every query joins ``fleets f`` and is limited by :data:`~web.scope.IN_SCOPE`, so a
tablet outside the user's scope reads as missing.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import sql
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from contract.heartbeat import COLUMNS as HEARTBEAT_COLUMNS
from store.users import User
from web.alerts import incidents
from web.grid.tiles import Tile, one
from web.scope import IN_SCOPE, scope_params

WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class TabletInfo:
    tablet_id: str
    fleet_id: str
    fleet_name: str
    car_id: str | None
    heartbeat_interval_s: int
    offline_after_s: int
    registered_at: datetime
    revoked_at: datetime | None


# A stored heartbeat as the page and the API show it: the columns of its declaration
# (contract/heartbeat.py) but the tablet's id, its unknown fields parsed.
_SHOWN = [c for c in HEARTBEAT_COLUMNS if c.name != "tablet_id"]
Heartbeat: type[Any] = make_dataclass(
    "Heartbeat",
    [(c.name, Any if c.pg == "jsonb" else c.type) for c in _SHOWN],
    frozen=True,
    slots=True,
    namespace={"__module__": __name__},
)


@dataclass(frozen=True, slots=True)
class Transition:
    time: datetime
    from_state: str
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class Delivery:
    etag: str
    status: str
    published_at: datetime
    acked_at: datetime | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of one state on the timeline; ``x`` and ``width`` are percent of the window."""

    state: str
    start: datetime
    end: datetime
    # The transition that began it; None when the state was already held at the window start.
    reason: str | None
    x: float
    width: float

    @property
    def title(self) -> str:
        def hm(when: datetime) -> str:
            return when.astimezone(UTC).strftime("%d %b %H:%M")

        why = f" · reason: {self.reason}" if self.reason else " · held since before the window"
        return f"{self.state} {hm(self.start)}–{hm(self.end)} UTC{why}"


@dataclass(frozen=True, slots=True)
class Detail:
    tile: Tile
    info: TabletInfo
    window_start: datetime
    window_end: datetime
    timeline: list[Segment]
    transitions: list[Transition]
    heartbeats: list[Any]  # of Heartbeat
    incidents: list[incidents.Incident]
    deliveries: list[Delivery]
    uptime_pct: float


SCOPED = (
    "JOIN tablets t ON t.tablet_id = %(tablet)s"
    f" JOIN fleets f ON f.fleet_id = t.fleet_id AND {IN_SCOPE}"
)

INFO = f"""
SELECT t.tablet_id, f.fleet_id, f.name AS fleet_name, t.car_id, t.heartbeat_interval_s,
       t.offline_after_s, t.registered_at, t.revoked_at
FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
WHERE t.tablet_id = %(tablet)s AND {IN_SCOPE}
"""  # noqa: S608 - constant fragments only

HEARTBEATS = sql.SQL(
    "SELECT {columns} FROM heartbeats h {scoped} WHERE h.tablet_id = t.tablet_id"
    " ORDER BY h.time DESC LIMIT %(limit)s"
).format(
    columns=sql.SQL(", ").join(sql.Identifier("h", c.name) for c in _SHOWN),
    scoped=sql.SQL(SCOPED),
)

TRANSITIONS = f"""
SELECT p.time, p.from_state, p.to_state, p.reason
FROM presence_transitions p {SCOPED}
WHERE p.tablet_id = t.tablet_id AND p.time >= %(since)s
ORDER BY p.time LIMIT %(limit)s
"""  # noqa: S608 - constant fragments only

LAST_BEFORE = f"""
SELECT p.time, p.from_state, p.to_state, p.reason
FROM presence_transitions p {SCOPED}
WHERE p.tablet_id = t.tablet_id AND p.time < %(since)s
ORDER BY p.time DESC LIMIT 1
"""  # noqa: S608 - constant fragments only

DELIVERIES = f"""
SELECT d.etag, d.status, d.published_at, d.acked_at, d.detail
FROM deliveries d {SCOPED}
WHERE d.tablet_id = t.tablet_id
ORDER BY d.published_at DESC LIMIT %(limit)s
"""  # noqa: S608 - constant fragments only

UPTIME = f"""
SELECT coalesce(sum(u.online_seconds), 0)
FROM uptime_hourly u {SCOPED}
WHERE u.tablet_id = t.tablet_id AND u.hour >= %(first)s AND u.hour <= %(now)s
"""  # noqa: S608 - constant fragments only


async def info(pool: AsyncConnectionPool, user: User, tablet_id: str) -> TabletInfo | None:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(TabletInfo)) as cur:
        await cur.execute(INFO, scope_params(user, tablet=tablet_id))
        return await cur.fetchone()


async def heartbeats(
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int = 50
) -> list[Any]:
    """The newest heartbeats first (:data:`Heartbeat`)."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Heartbeat)) as cur:
        await cur.execute(HEARTBEATS, scope_params(user, tablet=tablet_id, limit=limit))
        return await cur.fetchall()


async def transitions(
    pool: AsyncConnectionPool, user: User, tablet_id: str, since: datetime, limit: int = 5000
) -> list[Transition]:
    """Presence transitions at or after ``since``, oldest first."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Transition)) as cur:
        params = scope_params(user, tablet=tablet_id, since=since, limit=limit)
        await cur.execute(TRANSITIONS, params)
        return await cur.fetchall()


async def last_before(
    pool: AsyncConnectionPool, user: User, tablet_id: str, when: datetime
) -> Transition | None:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Transition)) as cur:
        await cur.execute(LAST_BEFORE, scope_params(user, tablet=tablet_id, since=when))
        return await cur.fetchone()


async def deliveries(
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int = 20
) -> list[Delivery]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Delivery)) as cur:
        await cur.execute(DELIVERIES, scope_params(user, tablet=tablet_id, limit=limit))
        return await cur.fetchall()


async def uptime_pct(pool: AsyncConnectionPool, user: User, tablet_id: str, now: datetime) -> float:
    """Online share of the current UTC hour and the 23 before it (hourly rollups), in percent."""
    first = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    async with pool.connection() as conn:
        cur = await conn.execute(UPTIME, scope_params(user, tablet=tablet_id, first=first, now=now))
        row = await cur.fetchone()
    online = float(str(row[0])) if row else 0.0
    return min(100.0, round(online / max(1.0, (now - first).total_seconds()) * 100, 1))


def timeline(
    before: Transition | None, within: list[Transition], start: datetime, end: datetime
) -> list[Segment]:
    """Cut [start, end) into state segments: the state held at ``start`` then each transition."""
    span = (end - start).total_seconds()
    marks: list[tuple[datetime, str, str | None]] = [
        (start, before.to_state if before else "unknown", None)
    ]
    marks += [(t.time, t.to_state, t.reason) for t in within if start <= t.time < end]
    segments: list[Segment] = []
    ends = [m[0] for m in marks[1:]] + [end]
    for (at, state, reason), until in zip(marks, ends, strict=True):
        if until <= at:
            continue
        x = (at - start).total_seconds() / span * 100
        width = (until - at).total_seconds() / span * 100
        segments.append(Segment(state, at, until, reason, round(x, 3), round(width, 3)))
    return segments


async def detail(
    pool: AsyncConnectionPool, user: User, tablet_id: str, now: datetime
) -> Detail | None:
    tile = await one(pool, user, tablet_id)
    found = await info(pool, user, tablet_id)
    if tile is None or found is None:
        return None
    start = now - WINDOW
    within = await transitions(pool, user, tablet_id, start)
    before = await last_before(pool, user, tablet_id, start)
    return Detail(
        tile=tile,
        info=found,
        window_start=start,
        window_end=now,
        timeline=timeline(before, within, start, now),
        transitions=within,
        heartbeats=await heartbeats(pool, user, tablet_id, 50),
        incidents=await incidents.for_tablet(pool, user, tablet_id, 20),
        deliveries=await deliveries(pool, user, tablet_id, 20),
        uptime_pct=await uptime_pct(pool, user, tablet_id, now),
    )
