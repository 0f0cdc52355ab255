"""Lead campaigns and their agents (``lead_campaigns``, ``campaign_agents``) of a tenant.

Every read and write is scoped to the tenant; every write is audited in its transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row

from store import lead_reoffer
from store.audit import record

Conn = psycopg.AsyncConnection[Any]


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


@dataclass(frozen=True, slots=True)
class Handling:
    """How a campaign's leads are handled (what an admin writes)."""

    name: str
    dedupe_window: timedelta
    offer_timeout_s: int
    routing: str


class CampaignExists(Exception):
    """The tenant already has a lead campaign with this id."""


class NoSuchAgent(Exception):
    """Not an agent of the tenant (or, to remove/pause/resume, not subscribed)."""


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
LOCK = "SELECT 1 FROM lead_campaigns WHERE tenant_id = %s AND campaign_id = %s FOR UPDATE"

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


async def campaigns(conn: Conn, tenant_id: str, campaign_id: str | None = None) -> list[Campaign]:
    """The tenant's campaigns (or only ``campaign_id``), newest first."""
    async with conn.cursor(row_factory=class_row(Campaign)) as cur:
        await cur.execute(CAMPAIGNS, {"tenant": tenant_id, "campaign": campaign_id})
        return await cur.fetchall()


async def agents(conn: Conn, tenant_id: str, campaign_id: str) -> list[Agent]:
    """The tenant's agents, the campaign's subscribed ones first, in their order."""
    async with conn.cursor(row_factory=class_row(Agent)) as cur:
        await cur.execute(AGENTS, {"tenant": tenant_id, "campaign": campaign_id})
        return await cur.fetchall()


async def create(
    conn: Conn,
    tenant_id: str,
    actor: str,
    campaign_id: str,
    handling: Handling,
    details: dict[str, Any],
) -> None:
    """Raises :class:`CampaignExists` when the tenant has one with this id."""
    async with conn.transaction():
        cur = await conn.execute(
            INSERT,
            (
                tenant_id,
                campaign_id,
                handling.name,
                handling.dedupe_window,
                handling.offer_timeout_s,
                handling.routing,
            ),
        )
        if await cur.fetchone() is None:
            raise CampaignExists(campaign_id)
        await record(
            conn,
            tenant_id,
            actor,
            "lead_campaign.create",
            f"lead_campaign:{campaign_id}",
            details,
        )


async def update(
    conn: Conn,
    tenant_id: str,
    actor: str,
    campaign_id: str,
    handling: Handling,
    details: dict[str, Any],
) -> bool:
    """False when the tenant has no such campaign."""
    async with conn.transaction():
        cur = await conn.execute(
            UPDATE,
            (
                handling.name,
                handling.dedupe_window,
                handling.offer_timeout_s,
                handling.routing,
                tenant_id,
                campaign_id,
            ),
        )
        if await cur.fetchone() is None:
            return False
        await record(
            conn,
            tenant_id,
            actor,
            "lead_campaign.update",
            f"lead_campaign:{campaign_id}",
            details,
        )
    return True


async def change_agent(
    conn: Conn, tenant_id: str, actor: str, campaign_id: str, agent_id: int, action: str
) -> bool:
    """Subscribe (add), unsubscribe (remove), pause or resume an agent; False when the
    campaign is unknown.

    Raises :class:`NoSuchAgent` when the user is not a (subscribed) agent of the tenant.
    """
    async with conn.transaction():
        cur = await conn.execute(LOCK, (tenant_id, campaign_id))
        if await cur.fetchone() is None:
            return False
        params = {"tenant": tenant_id, "campaign": campaign_id, "user": agent_id}
        try:
            cur = await conn.execute(AGENT_CHANGES[action], params)
        except psycopg.errors.NumericValueOutOfRange as exc:
            raise NoSuchAgent(agent_id) from exc
        if await cur.fetchone() is None:
            raise NoSuchAgent(agent_id)
        await record(
            conn,
            tenant_id,
            actor,
            f"lead_campaign.agent_{action}",
            f"lead_campaign:{campaign_id}",
            {"user_id": agent_id},
        )
        if action in ("add", "resume"):  # leads nobody answered go to the agent now active
            await lead_reoffer.campaigns_back(conn, tenant_id, [campaign_id], actor)
    return True
