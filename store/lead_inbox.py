"""A lead agent's inbox in the store: their open offers and held leads, and the writes of
their actions (offer outcome, lead status, ``lead_events`` row, NOTIFY to the hub).

The writes run in the caller's transaction, after :func:`lock_lead` (and, to accept or
reject, :func:`lock_open_offer`) locked what they change; the rules of which action
applies stay with the caller (web/agents/inbox.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb

from store.leads import ACTIONS_CHANNEL

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class AgentLead:
    lead_id: uuid.UUID
    campaign_id: str
    campaign_name: str
    name: str
    phone: str
    fleet_id: str | None
    car_id: str | None
    tablet_id: str | None
    driver_id: str | None
    # offered (an open offer to this agent), accepted, contacted or converted
    status: str
    submitted_at: datetime
    offer_id: int | None
    expires_at: datetime | None  # the open offer's deadline

    @property
    def offered(self) -> bool:
        return self.offer_id is not None


@dataclass(frozen=True, slots=True)
class LockedOffer:
    """A lead's open offer, locked: to whom, and whether it is still live."""

    offer_id: int
    agent_id: int
    live: bool
    expires_at: datetime


# The agent's open, unexpired offers and the leads they hold. %(agent)s, %(tenant)s, and
# %(lead)s (NULL: every lead).
VIEW = """
SELECT l.lead_id, l.campaign_id, c.name AS campaign_name, l.name, l.phone, l.fleet_id,
       l.car_id, l.tablet_id, l.driver_id,
       CASE WHEN o.offer_id IS NOT NULL THEN 'offered' ELSE l.status END AS status,
       l.submitted_at, o.offer_id, o.expires_at
FROM leads l
JOIN lead_campaigns c USING (tenant_id, campaign_id)
LEFT JOIN lead_offers o ON o.lead_id = l.lead_id AND o.outcome IS NULL
     AND o.agent_id = %(agent)s AND o.expires_at > now()
WHERE l.tenant_id = %(tenant)s
  AND (%(lead)s::uuid IS NULL OR l.lead_id = %(lead)s::uuid)
  AND (o.offer_id IS NOT NULL
       OR (l.agent_id = %(agent)s AND l.status IN ('accepted', 'contacted', 'converted')))
ORDER BY l.submitted_at DESC, l.lead_id
LIMIT %(limit)s
"""
LOCK_LEAD = """
SELECT status, agent_id FROM leads WHERE lead_id = %s AND tenant_id = %s FOR UPDATE
"""
LOCK_OPEN_OFFER = """
SELECT offer_id, agent_id, expires_at > now() AS live, expires_at
FROM lead_offers WHERE lead_id = %s AND outcome IS NULL FOR UPDATE
"""
WAS_OFFERED = "SELECT 1 FROM lead_offers WHERE lead_id = %s AND agent_id = %s LIMIT 1"
HAS_OPEN_OFFER = (
    "SELECT 1 FROM lead_offers WHERE lead_id = %s AND agent_id = %s AND outcome IS NULL"
)
DECIDE = "UPDATE lead_offers SET outcome = %s, decided_at = now() WHERE offer_id = %s"
SET_LEAD = "UPDATE leads SET status = %s, agent_id = %s WHERE lead_id = %s"
INSERT_EVENT = "INSERT INTO lead_events (lead_id, actor, event, details) VALUES (%s, %s, %s, %s)"
NOTIFY = "SELECT pg_notify(%s, %s)"


async def agent_leads(
    conn: Conn, agent_id: int, tenant_id: str, lead_id: uuid.UUID | None, limit: int
) -> list[AgentLead]:
    """The agent's open offers and held leads (or only ``lead_id``), newest first."""
    params = {"agent": agent_id, "tenant": tenant_id, "lead": lead_id, "limit": limit}
    async with conn.cursor(row_factory=class_row(AgentLead)) as cur:
        await cur.execute(VIEW, params)
        return await cur.fetchall()


async def lock_lead(conn: Conn, lead_id: uuid.UUID, tenant_id: str) -> tuple[str, Any] | None:
    """The tenant's lead locked for update: its status and agent (holder); None: no such lead."""
    row = await (await conn.execute(LOCK_LEAD, (lead_id, tenant_id))).fetchone()
    return None if row is None else (str(row[0]), row[1])


async def lock_open_offer(conn: Conn, lead_id: uuid.UUID) -> LockedOffer | None:
    row = await (await conn.execute(LOCK_OPEN_OFFER, (lead_id,))).fetchone()
    if row is None:
        return None
    return LockedOffer(int(str(row[0])), row[1], bool(row[2]), row[3])


async def was_offered(conn: Conn, lead_id: uuid.UUID, agent_id: int) -> bool:
    """The lead was ever offered to the agent."""
    return await (await conn.execute(WAS_OFFERED, (lead_id, agent_id))).fetchone() is not None


async def has_open_offer(conn: Conn, lead_id: uuid.UUID, agent_id: int) -> bool:
    """An offer of the lead to the agent is open (expired or not)."""
    cur = await conn.execute(HAS_OPEN_OFFER, (lead_id, agent_id))
    return await cur.fetchone() is not None


async def decide_offer(conn: Conn, offer_id: int, outcome: str) -> None:
    await conn.execute(DECIDE, (outcome, offer_id))


async def set_lead(conn: Conn, lead_id: uuid.UUID, status: str, agent_id: int | None) -> None:
    await conn.execute(SET_LEAD, (status, agent_id, lead_id))


async def record_action(
    conn: Conn, lead_id: uuid.UUID, actor: str, event: str, details: dict[str, object]
) -> None:
    """The action's ``lead_events`` row, and the NOTIFY that wakes the hub at commit."""
    await conn.execute(INSERT_EVENT, (lead_id, actor, event, Jsonb(details)))
    await conn.execute(NOTIFY, (ACTIONS_CHANNEL, str(lead_id)))


CONCERNED = """
SELECT agent_id, bool_or(outcome IS NULL) AS open FROM lead_offers WHERE lead_id = %s
GROUP BY agent_id
UNION ALL
SELECT agent_id, false FROM leads WHERE lead_id = %s AND agent_id IS NOT NULL
"""


async def concerned_agents(
    conn: psycopg.AsyncConnection[Any], lead_id: uuid.UUID
) -> tuple[set[int], set[int]]:
    """The agents a lead concerns (offered it, or holding it) and those of them whose offer
    is still open."""
    rows = await (await conn.execute(CONCERNED, (lead_id, lead_id))).fetchall()
    return {int(str(r[0])) for r in rows}, {int(str(r[0])) for r in rows if r[1]}
