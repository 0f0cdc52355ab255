"""Pairing in the panel: claim codes of a fleet (create, list), tablet revocation, and the
device's claim itself. The rules live in :mod:`store.claims` and :mod:`store.revocation`;
this module adds the tenant scope and the broker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from broker import dynsec
from config.settings import MqttTarget
from store import claims, revocation
from store.users import User
from web.live.broker_link import BrokerUnavailable
from web.scope import IN_SCOPE, scope_params

FLEET = f"SELECT f.fleet_id, f.name FROM fleets f WHERE f.fleet_id = %(fleet)s AND {IN_SCOPE}"  # noqa: S608
CODES = f"""
SELECT c.code_hint, c.car_id, c.created_by, c.created_at, c.expires_at, c.claimed_at,
       c.tablet_id, c.expires_at <= now() AND c.claimed_at IS NULL AS expired
FROM claim_codes c JOIN fleets f USING (fleet_id)
WHERE c.fleet_id = %(fleet)s AND {IN_SCOPE}
ORDER BY c.created_at DESC LIMIT %(limit)s
"""  # noqa: S608


@dataclass(frozen=True, slots=True)
class FleetRef:
    fleet_id: str
    name: str


class CodeRow(BaseModel):
    """A claim code as listed (the panel's table and ``GET …/claim-codes``)."""

    code_hint: str = Field(description="the code's last two characters")
    car_id: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    claimed_at: datetime | None
    tablet_id: str | None
    expired: bool


async def fleet(pool: AsyncConnectionPool, user: User, fleet_id: str) -> FleetRef | None:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(FleetRef)) as cur:
        await cur.execute(FLEET, scope_params(user, fleet=fleet_id))
        return await cur.fetchone()


async def codes(
    pool: AsyncConnectionPool, user: User, fleet_id: str, limit: int = 50
) -> list[CodeRow]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(CodeRow)) as cur:
        await cur.execute(CODES, scope_params(user, fleet=fleet_id, limit=limit))
        return await cur.fetchall()


async def create_code(
    pool: AsyncConnectionPool,
    user: User,
    actor: str,
    fleet_id: str,
    ttl: timedelta,
    car_id: str | None,
) -> claims.NewCode:
    """The caller has checked the fleet is in the user's scope."""
    async with pool.connection() as conn:
        return await claims.create(conn, fleet_id, actor, ttl, car_id, tenant_id=user.tenant_id)


async def claim(
    pool: AsyncConnectionPool, target: MqttTarget, code: str, device_info: dict[str, Any]
) -> claims.Claimed:
    async with pool.connection() as conn:
        return await claims.claim(conn, code, device_info, partial(dynsec.provision_tablet, target))


async def revoke(
    pool: AsyncConnectionPool,
    target: MqttTarget | None,
    user: User,
    actor: str,
    tablet_id: str,
) -> bool:
    """Revoke a tablet in the user's scope, then remove its broker credentials (which
    disconnects it). Calling it again for a revoked tablet retries the broker step.
    False: no such tablet in scope. Raises BrokerError when the broker step fails."""
    if target is None:
        raise BrokerUnavailable("no broker is configured for the panel")
    async with pool.connection() as conn:
        cur = await conn.execute(TABLET, scope_params(user, tablet=tablet_id))
        row = await cur.fetchone()
        if row is None:
            return False
        if row[0] is None:
            await revocation.revoke(conn, tablet_id, actor, user.tenant_id)
    await dynsec.revoke_tablet(target, tablet_id)
    return True


TABLET = f"""
SELECT t.revoked_at FROM tablets t JOIN fleets f USING (fleet_id)
WHERE t.tablet_id = %(tablet)s AND {IN_SCOPE}
"""  # noqa: S608
