"""Leads nobody answered: re-offering an ``unassigned`` lead (docs/leads.md, "Unassigned").

A re-offer puts the lead back to ``new`` and starts a new routing round (``routing_since``:
the agents offered it before may be offered it again), to every agent of its campaign or to
one (``offer_only``); its ``reoffered`` event and ``NOTIFY fleethub_leads`` hand it to the
hub's lead router at commit, exactly like a new lead. An admin does it from the panel; it
happens by itself for every unassigned lead of a campaign when one of its agents becomes
active again (subscribed, resumed, or their account reactivated).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from config.errors import ConfigError
from store.leads import LEADS_CHANNEL

Conn = psycopg.AsyncConnection[Any]

REOFFER = """
UPDATE leads SET status = 'new', agent_id = NULL, routing_since = now(), offer_only = %(only)s
WHERE tenant_id = %(tenant)s AND status = 'unassigned'
  AND (%(lead)s::uuid IS NULL OR lead_id = %(lead)s)
  AND (%(campaigns)s::text[] IS NULL OR campaign_id = ANY(%(campaigns)s))
  AND EXISTS (SELECT 1 FROM campaign_agents a
              JOIN users u ON u.user_id = a.user_id AND u.tenant_id = a.tenant_id
              WHERE a.tenant_id = leads.tenant_id AND a.campaign_id = leads.campaign_id
                AND a.active AND u.role = 'agent' AND u.disabled_at IS NULL)
RETURNING lead_id::text
"""
AGENT_OF_CAMPAIGN = """
SELECT 1 FROM campaign_agents a JOIN users u ON u.user_id = a.user_id AND u.tenant_id = a.tenant_id
JOIN leads l ON l.tenant_id = a.tenant_id AND l.campaign_id = a.campaign_id
WHERE l.lead_id = %s AND a.user_id = %s AND a.active AND u.role = 'agent'
  AND u.disabled_at IS NULL
"""
AGENT_CAMPAIGNS = """
SELECT a.campaign_id FROM campaign_agents a WHERE a.tenant_id = %s AND a.user_id = %s AND a.active
"""


async def _reoffered(
    conn: Conn, ids: list[str], actor: str, why: str, only: int | None = None
) -> None:
    details: dict[str, object] = {"why": why} if only is None else {"why": why, "agent_id": only}
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO lead_events (lead_id, actor, event, details)"
            " VALUES (%s, %s, 'reoffered', %s)",
            [(i, actor, Jsonb(details)) for i in ids],
        )
        await cur.executemany("SELECT pg_notify(%s, %s)", [(LEADS_CHANNEL, i) for i in ids])


async def reoffer(
    conn: Conn, tenant_id: str, lead_id: uuid.UUID, actor: str, agent_id: int | None = None
) -> bool:
    """Offer an unassigned lead of the tenant again: to every agent of its campaign, or
    (``agent_id``) to that one only. False when the tenant has no such lead; ConfigError when
    it is not unassigned, or the agent (or every agent) of its campaign is not active."""
    async with conn.transaction():
        if agent_id is not None:
            cur = await conn.execute(AGENT_OF_CAMPAIGN, (lead_id, agent_id))
            if await cur.fetchone() is None:
                raise ConfigError("that agent is not an active agent of the lead's campaign")
        cur = await conn.execute(
            "SELECT status FROM leads WHERE tenant_id = %s AND lead_id = %s FOR UPDATE",
            (tenant_id, lead_id),
        )
        row = await cur.fetchone()
        if row is None:
            return False
        if row[0] != "unassigned":
            raise ConfigError(f"the lead is {row[0]}, not unassigned: nothing to re-offer")
        params = {"tenant": tenant_id, "lead": lead_id, "campaigns": None, "only": agent_id}
        cur = await conn.execute(REOFFER, params)
        ids = [str(r[0]) for r in await cur.fetchall()]
        if not ids:
            raise ConfigError(
                "the lead's campaign has no active agent: subscribe or resume one first"
            )
        await _reoffered(conn, ids, actor, "admin", agent_id)
    return True


async def campaigns_back(conn: Conn, tenant_id: str, campaign_ids: list[str], actor: str) -> int:
    """An agent of these campaigns became active: their unassigned leads are offered again
    (in the caller's transaction); how many."""
    if not campaign_ids:
        return 0
    params = {"tenant": tenant_id, "lead": None, "campaigns": campaign_ids, "only": None}
    cur = await conn.execute(REOFFER, params)
    ids = [str(r[0]) for r in await cur.fetchall()]
    if ids:
        await _reoffered(conn, ids, actor, "agent active")
    return len(ids)


async def agent_back(conn: Conn, tenant_id: str, user_id: int, actor: str) -> int:
    """The agent's account is active again: the unassigned leads of their active campaigns
    are offered again (in the caller's transaction); how many."""
    cur = await conn.execute(AGENT_CAMPAIGNS, (tenant_id, user_id))
    campaigns = [str(r[0]) for r in await cur.fetchall()]
    return await campaigns_back(conn, tenant_id, campaigns, actor)
