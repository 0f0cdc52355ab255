"""A tenant's lead campaigns and the agents subscribed to each (what the panel reads and writes).

A lead campaign names a campaign id of the ads (playlist items, proof of play) and says how
its leads are handled: the dedupe window, the offer timeout and the routing the later
routing slice applies to ``campaign_agents``. Every change is audited in its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal

import psycopg
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from store.audit import record
from store.users import User

CampaignId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
Routing = Literal["round_robin"]  # the schema also allows "broadcast": not built yet
AgentAction = Literal["add", "remove", "pause", "resume"]


class CampaignIn(BaseModel):
    """A lead campaign as an admin writes it (form or JSON)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    campaign_id: CampaignId
    name: Annotated[str, Field(min_length=1, max_length=200)]
    dedupe_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 24
    offer_timeout_s: Annotated[int, Field(ge=10, le=3600)] = 120
    routing: Routing = "round_robin"


class CampaignEdit(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=200)]
    dedupe_hours: Annotated[int, Field(ge=0, le=24 * 90)] = 24
    offer_timeout_s: Annotated[int, Field(ge=10, le=3600)] = 120
    routing: Routing = "round_robin"


@dataclass(frozen=True, slots=True)
class Campaign:
    campaign_id: str
    name: str
    dedupe_window: timedelta
    offer_timeout_s: int
    routing: str
    created_at: datetime
    codes: int
    leads: int
    agents: int

    @property
    def dedupe_hours(self) -> int:
        return int(self.dedupe_window.total_seconds() // 3600)


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent of the tenant and their subscription to one campaign (if any)."""

    user_id: int
    name: str
    email: str
    subscribed: bool
    active: bool
    position: int | None


class CampaignExists(Exception):
    """The tenant already has a lead campaign with this id."""


CAMPAIGNS = """
SELECT c.campaign_id, c.name, c.dedupe_window, c.offer_timeout_s, c.routing, c.created_at,
       (SELECT count(*) FROM qr_codes q WHERE q.tenant_id = c.tenant_id
          AND q.campaign_id = c.campaign_id AND q.revoked_at IS NULL)::int AS codes,
       (SELECT count(*) FROM leads l WHERE l.tenant_id = c.tenant_id
          AND l.campaign_id = c.campaign_id)::int AS leads,
       (SELECT count(*) FROM campaign_agents a WHERE a.tenant_id = c.tenant_id
          AND a.campaign_id = c.campaign_id AND a.active)::int AS agents
FROM lead_campaigns c
WHERE c.tenant_id = %(tenant)s AND (%(campaign)s::text IS NULL OR c.campaign_id = %(campaign)s)
ORDER BY c.created_at DESC, c.campaign_id
"""

AGENTS = """
SELECT u.user_id, u.name, u.email, a.user_id IS NOT NULL AS subscribed,
       coalesce(a.active, false) AS active, a.position
FROM users u
LEFT JOIN campaign_agents a ON a.user_id = u.user_id AND a.tenant_id = u.tenant_id
                           AND a.campaign_id = %(campaign)s
WHERE u.tenant_id = %(tenant)s AND u.role = 'agent'
  AND (u.disabled_at IS NULL OR a.user_id IS NOT NULL)
ORDER BY a.position NULLS LAST, u.name, u.user_id
"""

INSERT = """
INSERT INTO lead_campaigns (tenant_id, campaign_id, name, dedupe_window, offer_timeout_s, routing)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING campaign_id
"""
UPDATE = """
UPDATE lead_campaigns SET name = %s, dedupe_window = %s, offer_timeout_s = %s, routing = %s
WHERE tenant_id = %s AND campaign_id = %s RETURNING campaign_id
"""


async def campaigns(
    pool: AsyncConnectionPool, user: User, campaign_id: str | None = None
) -> list[Campaign]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Campaign)) as cur:
        await cur.execute(CAMPAIGNS, {"tenant": user.tenant_id, "campaign": campaign_id})
        return await cur.fetchall()


async def campaign(pool: AsyncConnectionPool, user: User, campaign_id: str) -> Campaign | None:
    found = await campaigns(pool, user, campaign_id)
    return found[0] if found else None


async def create(pool: AsyncConnectionPool, user: User, wanted: CampaignIn) -> None:
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            INSERT,
            (
                user.tenant_id,
                wanted.campaign_id,
                wanted.name,
                timedelta(hours=wanted.dedupe_hours),
                wanted.offer_timeout_s,
                wanted.routing,
            ),
        )
        if await cur.fetchone() is None:
            raise CampaignExists(wanted.campaign_id)
        await record(
            conn,
            user.tenant_id,
            user.email,
            "lead_campaign.create",
            f"lead_campaign:{wanted.campaign_id}",
            wanted.model_dump(exclude={"campaign_id"}),
        )


async def edit(
    pool: AsyncConnectionPool, user: User, campaign_id: str, wanted: CampaignEdit
) -> bool:
    """False when the tenant has no such campaign."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            UPDATE,
            (
                wanted.name,
                timedelta(hours=wanted.dedupe_hours),
                wanted.offer_timeout_s,
                wanted.routing,
                user.tenant_id,
                campaign_id,
            ),
        )
        if await cur.fetchone() is None:
            return False
        await record(
            conn,
            user.tenant_id,
            user.email,
            "lead_campaign.update",
            f"lead_campaign:{campaign_id}",
            wanted.model_dump(),
        )
    return True


async def agents(pool: AsyncConnectionPool, user: User, campaign_id: str) -> list[Agent]:
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(Agent)) as cur:
        await cur.execute(AGENTS, {"tenant": user.tenant_id, "campaign": campaign_id})
        return await cur.fetchall()


class NoSuchAgent(Exception):
    """Not an agent of the tenant (or, to remove/pause/resume, not subscribed)."""


AGENT_CHANGES: dict[str, str] = {
    "add": """
        INSERT INTO campaign_agents (tenant_id, campaign_id, user_id, position)
        SELECT %(tenant)s, %(campaign)s, u.user_id,
               coalesce((SELECT max(position) + 1 FROM campaign_agents
                         WHERE tenant_id = %(tenant)s AND campaign_id = %(campaign)s), 0)
        FROM users u
        WHERE u.user_id = %(user)s AND u.tenant_id = %(tenant)s AND u.role = 'agent'
          AND u.disabled_at IS NULL
        ON CONFLICT (tenant_id, campaign_id, user_id) DO UPDATE SET active = true
        RETURNING user_id""",
    "remove": """
        DELETE FROM campaign_agents
        WHERE tenant_id = %(tenant)s AND campaign_id = %(campaign)s AND user_id = %(user)s
        RETURNING user_id""",
    "pause": """
        UPDATE campaign_agents SET active = false
        WHERE tenant_id = %(tenant)s AND campaign_id = %(campaign)s AND user_id = %(user)s
        RETURNING user_id""",
    "resume": """
        UPDATE campaign_agents SET active = true
        WHERE tenant_id = %(tenant)s AND campaign_id = %(campaign)s AND user_id = %(user)s
        RETURNING user_id""",
}


async def change_agent(
    pool: AsyncConnectionPool, user: User, campaign_id: str, agent_id: int, action: AgentAction
) -> bool:
    """Subscribe, unsubscribe, pause or resume an agent; False when the campaign is unknown.

    Raises :class:`NoSuchAgent` when the user is not a (subscribed) agent of the tenant.
    """
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM lead_campaigns WHERE tenant_id = %s AND campaign_id = %s FOR UPDATE",
            (user.tenant_id, campaign_id),
        )
        if await cur.fetchone() is None:
            return False
        params = {"tenant": user.tenant_id, "campaign": campaign_id, "user": agent_id}
        try:
            cur = await conn.execute(AGENT_CHANGES[action], params)
        except psycopg.errors.NumericValueOutOfRange as exc:
            raise NoSuchAgent(agent_id) from exc
        if await cur.fetchone() is None:
            raise NoSuchAgent(agent_id)
        await record(
            conn,
            user.tenant_id,
            user.email,
            f"lead_campaign.agent_{action}",
            f"lead_campaign:{campaign_id}",
            {"user_id": agent_id},
        )
    return True
