"""The panel's tablet management: the registered tablets of a user's scope as a list, and
their registrations as :class:`~store.fleets.TabletSpec` to change.

Registering, moving and re-timing a tablet is :func:`store.fleets.add_tablet` (as
``fleethub tablet add``), revoking is :mod:`store.revocation`, device tokens are
:mod:`store.device_tokens`; this module adds the scoped reads and the bulk move (one
transaction: every tablet moves, or none).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from config.errors import ConfigError
from store.fleets import TabletSpec, add_tablet
from store.scope import IN_SCOPE, scope_params
from store.tablets import TabletInfo
from store.users import User

Conn = psycopg.AsyncConnection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class TabletRow(TabletInfo):
    """A tablet's registration (:class:`store.tablets.TabletInfo`) and how it is doing."""

    state: str
    last_heartbeat_at: datetime | None
    live_tokens: int


LIST = f"""
SELECT t.tablet_id, t.fleet_id, f.name AS fleet_name, t.car_id, t.heartbeat_interval_s,
       t.offline_after_s, t.registered_at, t.revoked_at,
       coalesce(s.state, 'unknown') AS state, s.last_heartbeat_at,
       (SELECT count(*) FROM device_tokens d WHERE d.tablet_id = t.tablet_id
          AND d.revoked_at IS NULL)::int AS live_tokens
FROM tablets t JOIN fleets f USING (fleet_id)
LEFT JOIN tablet_state s USING (tablet_id)
WHERE {IN_SCOPE}
  AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
  AND (%(tablet)s::text IS NULL OR t.tablet_id = %(tablet)s)
  AND (%(q)s::text IS NULL OR t.tablet_id ILIKE %(q)s OR t.car_id ILIKE %(q)s)
  AND (t.revoked_at IS NOT NULL) = %(revoked)s
ORDER BY f.name, t.fleet_id, t.tablet_id
LIMIT %(limit)s OFFSET %(offset)s
"""  # noqa: S608 - constant fragments only


async def tablets(
    conn: Conn,
    user: User,
    *,
    fleet_id: str | None = None,
    like: str | None = None,
    revoked: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> list[TabletRow]:
    """The user's tablets (active, or the revoked ones), by fleet and ILIKE on tablet or car."""
    params = scope_params(
        user, fleet=fleet_id, tablet=None, q=like, revoked=revoked, limit=limit, offset=offset
    )
    async with conn.cursor(row_factory=class_row(TabletRow)) as cur:
        await cur.execute(LIST, params)
        return await cur.fetchall()


async def tablet(conn: Conn, user: User, tablet_id: str) -> TabletRow | None:
    """The tablet (active or revoked), when in the user's scope."""
    for revoked in (False, True):
        params = scope_params(
            user, fleet=None, tablet=tablet_id, q=None, revoked=revoked, limit=1, offset=0
        )
        async with conn.cursor(row_factory=class_row(TabletRow)) as cur:
            await cur.execute(LIST, params)
            found = await cur.fetchone()
        if found is not None:
            return found
    return None


SPECS = f"""
SELECT t.tablet_id, t.fleet_id, t.car_id, t.heartbeat_interval_s, t.offline_after_s
FROM tablets t JOIN fleets f USING (fleet_id)
WHERE t.tablet_id = ANY(%(ids)s) AND t.revoked_at IS NULL AND {IN_SCOPE}
ORDER BY t.tablet_id
FOR UPDATE OF t
"""  # noqa: S608 - constant fragments only


async def specs(conn: Conn, user: User, tablet_ids: list[str]) -> list[TabletSpec]:
    """The registrations of the active tablets among ``tablet_ids`` the user may change."""
    async with conn.cursor(row_factory=class_row(TabletSpec)) as cur:
        await cur.execute(SPECS, scope_params(user, ids=sorted(set(tablet_ids))))
        return await cur.fetchall()


async def move(
    conn: Conn, user: User, tablet_ids: list[str], fleet_id: str, car_id: str | None, actor: str
) -> list[str]:
    """Move the tablets to a fleet of the user's scope, into ``car_id`` (created in the fleet
    when new) or, without one, keeping their car when their fleet stays and leaving it when
    not. All or none; the tablets moved (those of ``tablet_ids`` in scope and active)."""
    async with conn.transaction():
        cur = await conn.execute(
            f"SELECT 1 FROM fleets f WHERE f.fleet_id = %(fleet)s AND {IN_SCOPE}",  # noqa: S608
            scope_params(user, fleet=fleet_id),
        )
        if await cur.fetchone() is None:
            raise ConfigError(f"no fleet {fleet_id!r}")
        found = await specs(conn, user, tablet_ids)
        for spec in found:
            car = car_id if car_id else (spec.car_id if spec.fleet_id == fleet_id else None)
            await add_tablet(conn, replace(spec, fleet_id=fleet_id, car_id=car), actor)
    return [s.tablet_id for s in found]
