"""Pairing in the panel: claim codes of a fleet (create, list), tablet revocation, and the
device's claim itself. The rules and the tenant-scoped reads live in :mod:`store.claims`,
:mod:`store.fleets` and :mod:`store.revocation`; this module adds the broker.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import segno
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, Field

from broker import dynsec
from config.settings import MqttTarget
from store import claims, fleets, revocation
from store.fleets import FleetRef
from store.users import User
from web.live.broker_link import BrokerUnavailable


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
    async with pool.connection() as conn:
        return await fleets.fleet_in_scope(conn, user, fleet_id)


async def codes(
    pool: AsyncConnectionPool, user: User, fleet_id: str, limit: int = 50
) -> list[CodeRow]:
    async with pool.connection() as conn:
        rows = await claims.codes(conn, user, fleet_id, limit)
    return [CodeRow.model_validate(row, from_attributes=True) for row in rows]


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
        revoked = await revocation.revoked_in_scope(conn, user, tablet_id)
        if revoked is None:
            return False
        if not revoked:
            await revocation.revoke(conn, tablet_id, actor, user.tenant_id)
    await dynsec.revoke_tablet(target, tablet_id)
    return True


def pairing_payload(server: str, code: str) -> str:
    """What the pairing QR code holds (docs/mqtt-contract.md, Pairing): the server address
    the tablet app talks to and the claim code it sends there."""
    return json.dumps({"v": 1, "server": server, "claim_code": code}, separators=(",", ":"))


def qr_data_uri(text: str) -> str:
    """``text`` as a QR code (SVG, error correction M) in a data: URI for an ``<img>``."""
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="svg", scale=6, border=4, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()
