"""Where the tablets of a user's scope last said they were (``tablet_state.lat/lon``, kept by
the hub's writer from heartbeats), for the map."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from store.scope import IN_SCOPE, scope_params
from store.users import User


@dataclass(frozen=True, slots=True)
class Spot:
    tablet_id: str
    fleet_id: str
    car_id: str | None
    state: str
    lat: float | None
    lon: float | None
    position_at: datetime | None
    last_heartbeat_at: datetime | None


SPOTS = f"""
SELECT t.tablet_id, t.fleet_id, t.car_id, coalesce(s.state, 'unknown') AS state,
       s.lat, s.lon, s.position_at, s.last_heartbeat_at
FROM tablets t JOIN fleets f USING (fleet_id)
LEFT JOIN tablet_state s USING (tablet_id)
WHERE t.revoked_at IS NULL AND {IN_SCOPE}
  AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
  AND (%(ids)s::text[] IS NULL OR t.tablet_id = ANY(%(ids)s))
ORDER BY t.tablet_id
"""  # noqa: S608 - constant fragments only


async def spots(
    pool: AsyncConnectionPool, user: User, fleet_id: str | None, ids: list[str] | None = None
) -> list[Spot]:
    """The user's tablets (of one fleet, or only ``ids``) with their last positions."""
    params = scope_params(user, fleet=fleet_id, ids=ids)
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Spot)) as cur:
        await cur.execute(SPOTS, params)
        return await cur.fetchall()
