"""QR codes of lead campaigns (``qr_codes``): the public form's lookup, a tenant's codes,
their creation and revocation, and the cap on the new leads a code may bring.

Writes run in the caller's transaction (which audits them); every admin read and write is
scoped to the tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]
Placed = Literal["fleet", "car", "tablet"]


@dataclass(frozen=True, slots=True)
class QrCode:
    """A code as the public form finds it, with its campaign."""

    code: str
    tenant_id: str
    campaign_id: str
    campaign_name: str
    max_leads: int | None
    lead_count: int
    revoked_at: datetime | None

    @property
    def full(self) -> bool:
        return self.max_leads is not None and self.lead_count >= self.max_leads


@dataclass(frozen=True, slots=True)
class QrRow:
    """A code as its tenant's admins list it."""

    code: str
    campaign_id: str
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    max_leads: int | None
    lead_count: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def where(self) -> str:
        parts = [
            f"{k} {v}"
            for k, v in (("tablet", self.tablet_id), ("car", self.car_id), ("fleet", self.fleet_id))
            if v
        ]
        return ", ".join(parts) or "—"


FIND_CODE = """
SELECT q.code, q.tenant_id, q.campaign_id, c.name AS campaign_name, q.max_leads, q.lead_count,
       q.revoked_at
FROM qr_codes q JOIN lead_campaigns c USING (tenant_id, campaign_id)
WHERE q.code = %s
"""
COLUMNS = (
    "code, campaign_id, fleet_id, car_id, tablet_id, max_leads, lead_count, created_by,"
    " created_at, revoked_at"
)
LIST = f"""
SELECT {COLUMNS} FROM qr_codes
WHERE tenant_id = %(tenant)s AND (%(campaign)s::text IS NULL OR campaign_id = %(campaign)s)
  AND (%(code)s::text IS NULL OR code = %(code)s)
ORDER BY revoked_at IS NOT NULL, created_at DESC, code
"""  # noqa: S608 - constant fragments only
INSERT = f"""
INSERT INTO qr_codes (code, tenant_id, campaign_id, fleet_id, car_id, tablet_id, max_leads,
                      created_by)
SELECT %s, c.tenant_id, c.campaign_id, %s, %s, %s, %s, %s
FROM lead_campaigns c WHERE c.tenant_id = %s AND c.campaign_id = %s
ON CONFLICT (code) DO NOTHING
RETURNING {COLUMNS}
"""  # noqa: S608 - constant fragments only
REVOKE = f"""
UPDATE qr_codes SET revoked_at = now()
WHERE tenant_id = %s AND code = %s AND revoked_at IS NULL
RETURNING {COLUMNS}
"""  # noqa: S608 - constant fragments only
FLEET_OF: dict[Placed, str] = {
    "fleet": "SELECT f.fleet_id, NULL FROM fleets f WHERE f.tenant_id = %s AND f.fleet_id = %s",
    "car": "SELECT c.fleet_id, NULL FROM cars c JOIN fleets f USING (fleet_id)"
    " WHERE f.tenant_id = %s AND c.car_id = %s",
    "tablet": "SELECT t.fleet_id, t.car_id FROM tablets t JOIN fleets f USING (fleet_id)"
    " WHERE f.tenant_id = %s AND t.tablet_id = %s AND t.revoked_at IS NULL",
}
CAMPAIGN_EXISTS = "SELECT 1 FROM lead_campaigns WHERE tenant_id = %s AND campaign_id = %s"
TAKE_CAP = """
UPDATE qr_codes SET lead_count = lead_count + 1
WHERE code = %s AND revoked_at IS NULL AND (max_leads IS NULL OR lead_count < max_leads)
RETURNING lead_count
"""
REVOKED = "SELECT revoked_at IS NOT NULL FROM qr_codes WHERE code = %s"


async def find(conn: Conn, code: str) -> QrCode | None:
    """The code (revoked or not) with its campaign."""
    async with conn.cursor(row_factory=class_row(QrCode)) as cur:
        await cur.execute(FIND_CODE, (code,))
        return await cur.fetchone()


async def codes(
    conn: Conn, tenant_id: str, campaign_id: str | None = None, code: str | None = None
) -> list[QrRow]:
    """The tenant's codes (of one campaign, or only ``code``): active first, newest first."""
    async with conn.cursor(row_factory=class_row(QrRow)) as cur:
        await cur.execute(LIST, {"tenant": tenant_id, "campaign": campaign_id, "code": code})
        return await cur.fetchall()


async def campaign_exists(conn: Conn, tenant_id: str, campaign_id: str) -> bool:
    cur = await conn.execute(CAMPAIGN_EXISTS, (tenant_id, campaign_id))
    return await cur.fetchone() is not None


async def fleet_of(conn: Conn, tenant_id: str, kind: Placed, value: str) -> str | None:
    """The fleet of the tenant's fleet, car or (live) tablet ``value``; None: no such one."""
    row = await (await conn.execute(FLEET_OF[kind], (tenant_id, value))).fetchone()
    return None if row is None else str(row[0])


async def insert(
    conn: Conn,
    code: str,
    tenant_id: str,
    campaign_id: str,
    placed: tuple[str | None, str | None, str | None],
    max_leads: int | None,
    created_by: str,
) -> QrRow | None:
    """A new code of the tenant's campaign, ``placed`` at (fleet, car, tablet); None when the
    code is taken (or the tenant has no such campaign)."""
    fleet_id, car_id, tablet_id = placed
    async with conn.cursor(row_factory=class_row(QrRow)) as cur:
        await cur.execute(
            INSERT,
            (code, fleet_id, car_id, tablet_id, max_leads, created_by, tenant_id, campaign_id),
        )
        return await cur.fetchone()


async def revoke(conn: Conn, tenant_id: str, code: str) -> QrRow | None:
    """None when the tenant has no such active code."""
    async with conn.cursor(row_factory=class_row(QrRow)) as cur:
        await cur.execute(REVOKE, (tenant_id, code))
        return await cur.fetchone()


async def take_cap(conn: Conn, code: str) -> bool:
    """Count one more new lead of a live code; False when it is revoked or at its cap."""
    return await (await conn.execute(TAKE_CAP, (code,))).fetchone() is not None


async def revoked(conn: Conn, code: str) -> bool | None:
    """Whether the code is revoked; None: no such code."""
    row = await (await conn.execute(REVOKED, (code,))).fetchone()
    return None if row is None else bool(row[0])
