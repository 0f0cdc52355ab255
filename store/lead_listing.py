"""A tenant's leads as its admins list them: newest first, by campaign and status, paged;
one lead with its ``lead_events``. Every read is scoped to the tenant.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Lead:
    lead_id: uuid.UUID
    campaign_id: str
    code: str
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    driver_id: str | None
    name: str
    phone: str
    status: str
    duplicate_of: uuid.UUID | None
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class LeadEvent:
    at: datetime
    actor: str
    event: str
    details: dict[str, Any]


COLUMNS = (
    "l.lead_id, l.campaign_id, l.code, l.fleet_id, l.car_id, l.tablet_id, l.driver_id,"
    " l.name, l.phone, l.status, l.duplicate_of, l.submitted_at"
)
LIST = f"""
SELECT {COLUMNS} FROM leads l
WHERE l.tenant_id = %(tenant)s
  AND (%(campaign)s::text IS NULL OR l.campaign_id = %(campaign)s)
  AND (%(status)s::text IS NULL OR l.status = %(status)s)
ORDER BY l.submitted_at DESC, l.lead_id
LIMIT %(limit)s OFFSET %(offset)s
"""  # noqa: S608 - constant fragments only
ONE = f"SELECT {COLUMNS} FROM leads l WHERE l.tenant_id = %s AND l.lead_id = %s"  # noqa: S608
EVENTS = (
    "SELECT at, actor, event, details FROM lead_events WHERE lead_id = %s ORDER BY at, event_id"
)


async def leads(
    conn: Conn,
    tenant_id: str,
    campaign_id: str | None,
    status: str | None,
    limit: int,
    offset: int,
) -> list[Lead]:
    params = {
        "tenant": tenant_id,
        "campaign": campaign_id,
        "status": status,
        "limit": limit,
        "offset": offset,
    }
    async with conn.cursor(row_factory=class_row(Lead)) as cur:
        await cur.execute(LIST, params)
        return await cur.fetchall()


async def lead(conn: Conn, tenant_id: str, lead_id: uuid.UUID) -> Lead | None:
    async with conn.cursor(row_factory=class_row(Lead)) as cur:
        await cur.execute(ONE, (tenant_id, lead_id))
        return await cur.fetchone()


async def events(conn: Conn, lead_id: uuid.UUID) -> list[LeadEvent]:
    """The lead's events in order."""
    async with conn.cursor(row_factory=class_row(LeadEvent)) as cur:
        await cur.execute(EVENTS, (lead_id,))
        return await cur.fetchall()


UNASSIGNED = "SELECT count(*) FROM leads WHERE tenant_id = %s AND status = 'unassigned'"


async def unassigned(conn: Conn, tenant_id: str) -> int:
    """How many of the tenant's leads nobody answered (status ``unassigned``)."""
    row = await (await conn.execute(UNASSIGNED, (tenant_id,))).fetchone()
    return int(str(row[0])) if row else 0


@dataclass(frozen=True, slots=True)
class LeadNotice:
    lead_id: uuid.UUID
    tenant_id: str
    status: str
    name: str
    campaign_id: str
    campaign_name: str


NOTICE = """
SELECT l.lead_id, l.tenant_id, l.status, l.name, l.campaign_id, c.name AS campaign_name
FROM leads l JOIN lead_campaigns c USING (tenant_id, campaign_id) WHERE l.lead_id = %s
"""


async def notice(conn: Conn, lead_id: uuid.UUID) -> LeadNotice | None:
    """What an admin's notice says of a lead (any tenant's: the caller picks the admins)."""
    async with conn.cursor(row_factory=class_row(LeadNotice)) as cur:
        await cur.execute(NOTICE, (lead_id,))
        return await cur.fetchone()
