"""A tenant's leads for the panel and the API: newest first, by campaign and status, paged.

Only admins see leads: a lead's name and phone were given for the campaign's agents, so the
panel does not show them to fleet owners (whose fleets the lead is attributed to).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, get_args

from psycopg_pool import AsyncConnectionPool

from store import lead_listing as store
from store.lead_listing import Lead, LeadEvent
from store.users import User

Status = Literal[
    "new", "duplicate", "offered", "accepted", "rejected", "contacted", "converted", "unassigned"
]
STATUSES: tuple[str, ...] = get_args(Status)
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class LeadPage:
    leads: list[Lead]
    page: int
    has_more: bool


async def leads(
    pool: AsyncConnectionPool,
    user: User,
    campaign_id: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> LeadPage:
    async with pool.connection() as conn:
        rows = await store.leads(
            conn, user.tenant_id, campaign_id, status, page_size + 1, (page - 1) * page_size
        )
    return LeadPage(rows[:page_size], page, len(rows) > page_size)


async def lead(
    pool: AsyncConnectionPool, user: User, lead_id: str
) -> tuple[Lead, list[LeadEvent]] | None:
    try:
        wanted = uuid.UUID(lead_id)
    except ValueError:
        return None
    async with pool.connection() as conn:
        found = await store.lead(conn, user.tenant_id, wanted)
        if found is None:
            return None
        return found, await store.events(conn, wanted)


async def unanswered(pool: AsyncConnectionPool, user: User) -> int:
    """How many of the tenant's leads nobody answered (status ``unassigned``)."""
    async with pool.connection() as conn:
        return await store.unassigned(conn, user.tenant_id)
