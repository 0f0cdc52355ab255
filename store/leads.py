"""Lead routing's SQL: read a lead with its campaign's agents, write offers and outcomes.

Each write runs in the caller's transaction and checks the store still agrees (the
panel decides offers concurrently); a write that finds otherwise returns ``None`` and
changes nothing, and the caller re-reads the lead for the actors.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from actors.messages import AgentSlot, Decided, LeadAttribution, LeadIn, OpenOffer

AsyncConn = psycopg.AsyncConnection[tuple[Any, ...]]

# The lead, its campaign's active agents in order (same tenant, role agent, enabled), the
# agents offered it in this round (since a re-offer) and its open offer: one statement.
# The NOTIFY channels of the lead flow, shared by the hub and the panel: a new lead (the
# public form), an offer made or moved on (the hub), an agent's decision (the panel).
LEADS_CHANNEL = "fleethub_leads"
OFFERS_CHANNEL = "fleethub_lead_offers"
ACTIONS_CHANNEL = "fleethub_lead_actions"

_SELECT_LEADS = sql.SQL("""
SELECT l.lead_id::text AS lead_id, l.tenant_id, l.campaign_id, l.status, l.name, l.phone,
       l.fleet_id, l.car_id, l.tablet_id, l.driver_id, c.offer_timeout_s, c.rr_cursor,
       coalesce(ag.ids, '{}') AS agent_ids, coalesce(ag.positions, '{}') AS positions,
       coalesce(tr.ids, '{}') AS tried,
       o.agent_id AS open_agent, o.offered_at AS open_at, o.expires_at AS open_until,
       l.offer_only
FROM leads l
JOIN lead_campaigns c ON c.tenant_id = l.tenant_id AND c.campaign_id = l.campaign_id
LEFT JOIN LATERAL (
    SELECT array_agg(a.user_id ORDER BY a.position, a.user_id) AS ids,
           array_agg(a.position ORDER BY a.position, a.user_id) AS positions
    FROM campaign_agents a
    JOIN users u ON u.user_id = a.user_id AND u.tenant_id = a.tenant_id
    WHERE a.tenant_id = l.tenant_id AND a.campaign_id = l.campaign_id AND a.active
      AND u.role = 'agent' AND u.disabled_at IS NULL
) ag ON true
LEFT JOIN LATERAL (
    SELECT array_agg(DISTINCT t.agent_id) AS ids FROM lead_offers t WHERE t.lead_id = l.lead_id
      AND t.offered_at >= coalesce(l.routing_since, '-infinity')
) tr ON true
LEFT JOIN lead_offers o ON o.lead_id = l.lead_id AND o.outcome IS NULL
""")
SELECT_BY_ID = _SELECT_LEADS + sql.SQL(" WHERE l.lead_id = ANY(%s::uuid[])")
# After a restart: every lead still to route, unless an offer of it was accepted.
SELECT_OPEN = _SELECT_LEADS + sql.SQL("""
WHERE l.status IN ('new', 'offered', 'rejected')
  AND NOT EXISTS (SELECT 1 FROM lead_offers x WHERE x.lead_id = l.lead_id
                  AND x.outcome = 'accepted')
ORDER BY l.submitted_at
""")


@dataclass(frozen=True, slots=True)
class LeadRow:
    lead_id: str
    tenant_id: str
    campaign_id: str
    status: str
    name: str
    phone: str
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    driver_id: str | None
    offer_timeout_s: int
    rr_cursor: int
    agent_ids: list[int]
    positions: list[int]
    tried: list[int]
    open_agent: int | None
    open_at: datetime | None
    open_until: datetime | None
    offer_only: int | None

    def lead_in(self, at: datetime) -> LeadIn:
        offer = None
        if self.open_agent is not None and self.open_at and self.open_until:
            offer = OpenOffer(self.open_agent, self.open_at, self.open_until)
        agents = tuple(AgentSlot(u, p) for u, p in zip(self.agent_ids, self.positions, strict=True))
        return LeadIn(
            lead_id=self.lead_id,
            tenant_id=self.tenant_id,
            campaign_id=self.campaign_id,
            status=self.status,
            agents=agents,
            cursor=self.rr_cursor,
            timeout_s=self.offer_timeout_s,
            name=self.name,
            phone=self.phone,
            attribution=LeadAttribution(self.fleet_id, self.car_id, self.tablet_id, self.driver_id),
            tried=tuple(self.tried),
            open_offer=offer,
            at=at,
            only=self.offer_only,
        )


def valid_ids(payloads: list[str]) -> list[str]:
    """NOTIFY payloads that are lead ids (anything else is ignored)."""
    out = []
    for payload in payloads:
        try:
            out.append(str(uuid.UUID(payload)))
        except ValueError:
            continue
    return out


async def load_leads(conn: AsyncConn, lead_ids: list[str] | None, at: datetime) -> list[LeadIn]:
    """The given leads, or (``None``) every lead still to route."""
    async with conn.cursor(row_factory=class_row(LeadRow)) as cur:
        if lead_ids is None:
            await cur.execute(SELECT_OPEN)
        else:
            await cur.execute(SELECT_BY_ID, (lead_ids,))
        return [row.lead_in(at) for row in await cur.fetchall()]


async def load_decision(conn: AsyncConn, lead_id: str) -> Decided | None:
    """The panel's latest decision on the lead's offers, if it is one the router acts on."""
    cur = await conn.execute(
        "SELECT l.status, o.agent_id, o.outcome FROM leads l"
        " JOIN LATERAL (SELECT agent_id, outcome FROM lead_offers WHERE lead_id = l.lead_id"
        "   AND outcome IN ('accepted', 'rejected') ORDER BY decided_at DESC, offer_id DESC"
        "   LIMIT 1) o ON true WHERE l.lead_id = %s::uuid",
        (lead_id,),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    status, agent_id, outcome = str(row[0]), int(row[1]), str(row[2])
    if outcome == "accepted":
        return Decided(lead_id, agent_id, "accepted")
    if status in ("new", "offered", "rejected"):
        return Decided(lead_id, agent_id, "rejected")
    return None


@dataclass(frozen=True, slots=True)
class StoredOffer:
    offer_id: int
    offered_at: datetime
    expires_at: datetime


async def _event(conn: AsyncConn, lead_id: str, event: str, details: dict[str, object]) -> None:
    await conn.execute(
        "INSERT INTO lead_events (lead_id, actor, event, details) VALUES (%s, 'hub', %s, %s)",
        (lead_id, event, Jsonb(details)),
    )
    await conn.execute("SELECT pg_notify(%s, %s)", (OFFERS_CHANNEL, lead_id))


async def store_offer(
    conn: AsyncConn, lead: LeadIn, agent_id: int, cursor: int
) -> StoredOffer | None:
    """The offer, the lead ``offered`` to the agent, its event and the cursor; or ``None``
    when the lead is no longer routable or already has an open offer."""
    cur = await conn.execute(
        "SELECT status FROM leads WHERE lead_id = %s FOR UPDATE", (lead.lead_id,)
    )
    row = await cur.fetchone()
    if row is None or row[0] not in ("new", "offered", "rejected"):
        return None
    cur = await conn.execute(
        "INSERT INTO lead_offers (lead_id, tenant_id, agent_id, offered_at, expires_at)"
        " VALUES (%s, %s, %s, now(), now() + make_interval(secs => %s))"
        " ON CONFLICT (lead_id) WHERE outcome IS NULL DO NOTHING"
        " RETURNING offer_id, offered_at, expires_at",
        (lead.lead_id, lead.tenant_id, agent_id, lead.timeout_s),
    )
    made = await cur.fetchone()
    if made is None:
        return None
    offer = StoredOffer(int(made[0]), made[1], made[2])
    await conn.execute(
        "UPDATE leads SET status = 'offered', agent_id = %s WHERE lead_id = %s",
        (agent_id, lead.lead_id),
    )
    await conn.execute(
        "UPDATE lead_campaigns SET rr_cursor = %s WHERE tenant_id = %s AND campaign_id = %s",
        (cursor, lead.tenant_id, lead.campaign_id),
    )
    await _event(
        conn,
        lead.lead_id,
        "offered",
        {
            "agent_id": agent_id,
            "offer_id": offer.offer_id,
            "expires_at": offer.expires_at.isoformat(),
        },
    )
    return offer


async def store_timeout(conn: AsyncConn, lead_id: str, agent_id: int) -> int | None:
    """Close the agent's open offer as ``timeout``; ``None`` if the panel decided it first."""
    cur = await conn.execute(
        "UPDATE lead_offers SET outcome = 'timeout', decided_at = now()"
        " WHERE lead_id = %s AND agent_id = %s AND outcome IS NULL RETURNING offer_id",
        (lead_id, agent_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await conn.execute(
        "UPDATE leads SET status = 'new', agent_id = NULL"
        " WHERE lead_id = %s AND status = 'offered'",
        (lead_id,),
    )
    await _event(conn, lead_id, "timeout", {"agent_id": agent_id, "offer_id": int(row[0])})
    return int(row[0])


async def store_unassigned(conn: AsyncConn, lead_id: str) -> bool:
    cur = await conn.execute(
        "UPDATE leads SET status = 'unassigned', agent_id = NULL"
        " WHERE lead_id = %s AND status IN ('new', 'offered', 'rejected')"
        " AND NOT EXISTS (SELECT 1 FROM lead_offers WHERE lead_id = %s AND outcome IS NULL)"
        " RETURNING 1",
        (lead_id, lead_id),
    )
    if await cur.fetchone() is None:
        return False
    await _event(conn, lead_id, "unassigned", {})
    return True
