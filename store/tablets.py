"""One tablet's stored record within a user's scope: registration, heartbeats, presence
transitions, deliveries and hourly uptime.

Every query joins ``fleets f`` and is limited by :data:`~store.scope.IN_SCOPE`, so a
tablet outside the user's scope reads as missing.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from contract.heartbeat import COLUMNS as HEARTBEAT_COLUMNS
from store.scope import IN_SCOPE, scope_params
from store.users import User


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


async def info(pool: AsyncConnectionPool, user: User, tablet_id: str) -> TabletInfo | None:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(TabletInfo)) as cur:
        await cur.execute(INFO, scope_params(user, tablet=tablet_id))
        return await cur.fetchone()


async def heartbeats(
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int
) -> list[Any]:
    """The newest heartbeats first (:data:`Heartbeat`)."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Heartbeat)) as cur:
        await cur.execute(HEARTBEATS, scope_params(user, tablet=tablet_id, limit=limit))
        return await cur.fetchall()


async def transitions(
    pool: AsyncConnectionPool, user: User, tablet_id: str, since: datetime, limit: int
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
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int
) -> list[Delivery]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Delivery)) as cur:
        await cur.execute(DELIVERIES, scope_params(user, tablet=tablet_id, limit=limit))
        return await cur.fetchall()
