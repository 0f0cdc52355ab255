"""A tenant's leads for the panel and the API: newest first, by campaign and status, paged.

Only admins see leads: a lead's name and phone were given for the campaign's agents, so the
panel does not show them to fleet owners (whose fleets the lead is attributed to).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from store.users import User

Status = Literal[
    "new", "duplicate", "offered", "accepted", "rejected", "contacted", "converted", "unassigned"
]
STATUSES: tuple[str, ...] = get_args(Status)
PAGE_SIZE = 50


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


@dataclass(frozen=True, slots=True)
class LeadPage:
    leads: list[Lead]
    page: int
    has_more: bool


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
    pool: AsyncConnectionPool,
    user: User,
    campaign_id: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> LeadPage:
    params = {
        "tenant": user.tenant_id,
        "campaign": campaign_id,
        "status": status,
        "limit": page_size + 1,
        "offset": (page - 1) * page_size,
    }
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Lead)) as cur:
        await cur.execute(LIST, params)
        rows = await cur.fetchall()
    return LeadPage(rows[:page_size], page, len(rows) > page_size)


async def lead(
    pool: AsyncConnectionPool, user: User, lead_id: str
) -> tuple[Lead, list[LeadEvent]] | None:
    try:
        wanted = uuid.UUID(lead_id)
    except ValueError:
        return None
    async with pool.connection() as conn:
        async with conn.cursor(row_factory=class_row(Lead)) as cur:
            await cur.execute(ONE, (user.tenant_id, wanted))
            found = await cur.fetchone()
        if found is None:
            return None
        async with conn.cursor(row_factory=class_row(LeadEvent)) as ecur:
            await ecur.execute(EVENTS, (wanted,))
            return found, await ecur.fetchall()
