"""Device tokens: the bearer credential of a tablet on the HTTP device API (``/v1/device``).

A token is ``fht_`` followed by 32 random bytes (URL-safe base64). It is shown once,
when issued; the store keeps only its SHA-256. A tablet may hold several tokens at a
time (rotate by issuing a new one, then revoking); :func:`revoke` ends all of them.
Both are recorded in the audit log of the tablet's tenant.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import psycopg
from psycopg.rows import class_row

from config.errors import ConfigError
from store.audit import record

PREFIX = "fht_"
Conn = psycopg.AsyncConnection[tuple[object, ...]]

TABLET = """
SELECT f.tenant_id, t.revoked_at IS NOT NULL FROM tablets t JOIN fleets f USING (fleet_id)
WHERE t.tablet_id = %s
"""


# A live token of a live tablet: the tablet it acts for.
LOOKUP = """
SELECT t.tablet_id, t.fleet_id, f.tenant_id
FROM device_tokens d
JOIN tablets t USING (tablet_id)
JOIN fleets f USING (fleet_id)
WHERE d.token_hash = %s AND d.revoked_at IS NULL AND t.revoked_at IS NULL
"""


@dataclass(frozen=True, slots=True)
class Device:
    tablet_id: str
    fleet_id: str
    tenant_id: str


def digest(token: str) -> str:
    """What the store keeps of a token (and looks it up by)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def _tenant(conn: Conn, tablet_id: str, *, active: bool) -> str:
    row = await (await conn.execute(TABLET, (tablet_id,))).fetchone()
    if row is None:
        raise ConfigError(f"unknown tablet {tablet_id!r}: add it with `fleethub tablet add`")
    if active and row[1]:
        raise ConfigError(f"tablet {tablet_id!r} is revoked: add it again before issuing tokens")
    return str(row[0])


async def issue(conn: Conn, tablet_id: str, actor: str) -> str:
    """A new token for the tablet (returned once, stored hashed)."""
    token = PREFIX + secrets.token_urlsafe(32)
    token_hash = digest(token)
    async with conn.transaction():
        tenant_id = await _tenant(conn, tablet_id, active=True)
        await conn.execute(
            "INSERT INTO device_tokens (token_hash, tablet_id) VALUES (%s, %s)",
            (token_hash, tablet_id),
        )
        await record(
            conn,
            tenant_id,
            actor,
            "device_token.issue",
            f"tablet:{tablet_id}",
            {"token_hash_prefix": token_hash[:12]},
        )
    return token


async def revoke(conn: Conn, tablet_id: str, actor: str) -> int:
    """Revoke every live token of the tablet; returns how many were live."""
    async with conn.transaction():
        tenant_id = await _tenant(conn, tablet_id, active=False)
        cur = await conn.execute(
            "UPDATE device_tokens SET revoked_at = now() WHERE tablet_id = %s"
            " AND revoked_at IS NULL",
            (tablet_id,),
        )
        await record(
            conn,
            tenant_id,
            actor,
            "device_token.revoke",
            f"tablet:{tablet_id}",
            {"revoked": cur.rowcount},
        )
    return cur.rowcount


async def device(conn: Conn, token_hash: str) -> Device | None:
    """The tablet a token (by its :func:`digest`) acts for; None unless both are live."""
    async with conn.cursor(row_factory=class_row(Device)) as cur:
        await cur.execute(LOOKUP, (token_hash,))
        return await cur.fetchone()
