"""Fleets' health policies: the thresholds a fleet overrides (``fleets.health_policy``).

Only the overrides are stored, so a changed default (``FLEETHUB_HEALTH_*``) reaches every
fleet that did not set its own. Setting them is one transaction with its audit row and
``NOTIFY fleethub_tablets`` (``fleet:ID``): the hub reloads the fleet's tablets, whose actors
judge their next heartbeats by the new thresholds.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from config.health import HealthPolicy
from store.audit import record
from store.scope import IN_SCOPE, scope_params
from store.users import User

READ = f"SELECT f.health_policy FROM fleets f WHERE f.fleet_id = %(fleet)s AND {IN_SCOPE}"  # noqa: S608
WRITE = f"""
UPDATE fleets f SET health_policy = %(policy)s
WHERE f.fleet_id = %(fleet)s AND {IN_SCOPE}
RETURNING f.fleet_id
"""  # noqa: S608 - constant fragments only
NOTIFY_FLEET = "SELECT pg_notify('fleethub_tablets', %s)"


async def overrides(pool: AsyncConnectionPool, user: User, fleet_id: str) -> dict[str, Any] | None:
    """The fleet's overrides; None when the fleet is outside the user's scope."""
    async with pool.connection() as conn:
        cur = await conn.execute(READ, scope_params(user, fleet=fleet_id))
        row = await cur.fetchone()
    return None if row is None else dict(row[0])


async def set_policy(
    pool: AsyncConnectionPool,
    user: User,
    fleet_id: str,
    policy: HealthPolicy,
    defaults: HealthPolicy,
) -> bool:
    """Store where ``policy`` differs from ``defaults`` (audited); False outside the scope."""
    changed = policy.overrides_from(defaults)
    params = scope_params(user, fleet=fleet_id, policy=Jsonb(changed))
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(WRITE, params)
        if await cur.fetchone() is None:
            return False
        await record(
            conn, user.tenant_id, user.email, "fleet.health_policy", f"fleet:{fleet_id}", changed
        )
        await conn.execute(NOTIFY_FLEET, (f"fleet:{fleet_id}",))
    return True
