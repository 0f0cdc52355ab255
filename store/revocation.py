"""Revoking a tablet: it leaves the fleet, its device tokens stop working, and the hub
drops its actor (``NOTIFY fleethub_tablets``). Its broker credentials are removed by the
caller (which knows the broker), after this commits: removing them disconnects it.

Heartbeats, plays and incidents stay in the store for reports. Adding the tablet again
(``fleethub tablet add`` or a new claim) brings it back under a new identity or, for
``tablet add``, the same id.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from store.audit import INSERT as AUDIT
from store.scope import IN_SCOPE, scope_params
from store.users import User

REVOKE = """
UPDATE tablets t SET revoked_at = now()
FROM fleets f
WHERE t.tablet_id = %(tablet)s AND f.fleet_id = t.fleet_id AND t.revoked_at IS NULL
  AND (%(tenant)s::text IS NULL OR f.tenant_id = %(tenant)s)
RETURNING f.tenant_id, t.fleet_id
"""
TOKENS = """
UPDATE device_tokens SET revoked_at = now() WHERE tablet_id = %s AND revoked_at IS NULL
"""
NOTIFY = "SELECT pg_notify('fleethub_tablets', %s)"


@dataclass(frozen=True, slots=True)
class Revoked:
    tablet_id: str
    tenant_id: str
    fleet_id: str
    tokens: int


def _details(fleet_id: str, tokens: int) -> Jsonb:
    return Jsonb({"fleet_id": fleet_id, "device_tokens": tokens})


async def revoke(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    tablet_id: str,
    actor: str,
    tenant_id: str | None = None,
) -> Revoked | None:
    """Revoke an active tablet: of ``tenant_id`` only (the panel), or of any tenant when it is
    None (the CLI). None when there is no such tablet to revoke (unknown or already revoked)."""
    async with conn.transaction():
        cur = await conn.execute(REVOKE, {"tablet": tablet_id, "tenant": tenant_id})
        row = await cur.fetchone()
        if row is None:
            return None
        tenant, fleet_id = str(row[0]), str(row[1])
        tokens = (await conn.execute(TOKENS, (tablet_id,))).rowcount
        await conn.execute(
            AUDIT,
            (tenant, actor, "tablet.revoke", f"tablet:{tablet_id}", _details(fleet_id, tokens)),
        )
        await conn.execute(NOTIFY, (f"tablet:{tablet_id}",))
    return Revoked(tablet_id, tenant, fleet_id, tokens)


TABLET_IN_SCOPE = f"""
SELECT t.revoked_at FROM tablets t JOIN fleets f USING (fleet_id)
WHERE t.tablet_id = %(tablet)s AND {IN_SCOPE}
"""  # noqa: S608 - constant fragments only


async def revoked_in_scope(
    conn: psycopg.AsyncConnection[tuple[object, ...]], user: User, tablet_id: str
) -> bool | None:
    """Whether the tablet is revoked; None when the user may not see it (or there is none)."""
    row = await (
        await conn.execute(TABLET_IN_SCOPE, scope_params(user, tablet=tablet_id))
    ).fetchone()
    return None if row is None else row[0] is not None
