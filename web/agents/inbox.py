"""A lead agent's inbox: the offers addressed to them and the leads they hold, and their actions.

The hub offers each new lead to one agent at a time (a ``lead_offers`` row with no outcome
yet, ``leads.status = 'offered'``, ``NOTIFY fleethub_lead_offers``). The agent answers here,
each action in one transaction: the offer's outcome (accept, reject), the lead's status and
agent, a ``lead_events`` row naming the agent, and ``NOTIFY fleethub_lead_actions,
'<lead_id>'`` so the hub offers the next agent (reject) or cancels the timeout (accept).

A lead is the agent's while its open, unexpired offer is addressed to them, or once they
accepted it; anyone else (another agent, an admin, another tenant) is told 404.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NoReturn, get_args

import psycopg
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from store.leads import ACTIONS_CHANNEL
from store.users import User

AsyncConn = psycopg.AsyncConnection[tuple[object, ...]]
Action = Literal["accept", "reject", "contacted", "converted"]
ACTIONS: tuple[Action, ...] = get_args(Action)
HELD = ("accepted", "contacted", "converted")
INBOX_LIMIT = 200


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


class LeadNotFound(Exception):
    """No such lead in this agent's inbox (404)."""


class ActionRefused(Exception):
    """The lead is the agent's (or was offered to them) but the action does not apply (409)."""


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
DECIDE = "UPDATE lead_offers SET outcome = %s, decided_at = now() WHERE offer_id = %s"
SET_LEAD = "UPDATE leads SET status = %s, agent_id = %s WHERE lead_id = %s"
INSERT_EVENT = "INSERT INTO lead_events (lead_id, actor, event, details) VALUES (%s, %s, %s, %s)"
NOTIFY = "SELECT pg_notify(%s, %s)"

# What each action makes of the lead, and the lead_events name.
EVENT: dict[Action, str] = {
    "accept": "accepted",
    "reject": "rejected",
    "contacted": "contacted",
    "converted": "converted",
}
# For contacted/converted: the statuses they apply to.
FROM_STATUS: dict[Action, tuple[str, ...]] = {
    "contacted": ("accepted",),
    "converted": ("accepted", "contacted"),
}


def parse_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def _view(
    pool: AsyncConnectionPool, user: User, lead_id: uuid.UUID | None, limit: int
) -> list[AgentLead]:
    if user.role != "agent":
        return []
    params = {"agent": user.user_id, "tenant": user.tenant_id, "lead": lead_id, "limit": limit}
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(AgentLead)) as cur:
        await cur.execute(VIEW, params)
        return await cur.fetchall()


async def inbox(pool: AsyncConnectionPool, user: User) -> list[AgentLead]:
    """The agent's open offers and held leads, newest first."""
    return await _view(pool, user, None, INBOX_LIMIT)


async def get(pool: AsyncConnectionPool, user: User, lead_id: uuid.UUID) -> AgentLead | None:
    found = await _view(pool, user, lead_id, 1)
    return found[0] if found else None


async def act(
    pool: AsyncConnectionPool, user: User, lead_id: uuid.UUID, action: Action
) -> AgentLead | None:
    """Apply ``action``; the lead as the agent now sees it (None once rejected)."""
    if user.role != "agent":
        raise LeadNotFound(lead_id)
    try:
        async with pool.connection() as conn, conn.transaction():
            await _act(conn, user, lead_id, action)
    except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
        raise ActionRefused("The lead changed at the same moment: reload and try again.") from exc
    return await get(pool, user, lead_id)


async def _act(conn: AsyncConn, user: User, lead_id: uuid.UUID, action: Action) -> None:
    row = await (await conn.execute(LOCK_LEAD, (lead_id, user.tenant_id))).fetchone()
    if row is None:
        raise LeadNotFound(lead_id)
    status, holder = str(row[0]), row[1]
    details: dict[str, object] = {"from": status}
    if action in ("accept", "reject"):
        offer = await (await conn.execute(LOCK_OPEN_OFFER, (lead_id,))).fetchone()
        if offer is None or offer[1] != user.user_id:
            await _refuse_offer(conn, user, lead_id, status, holder)
        offer_id, live, expires_at = int(str(offer[0])), bool(offer[2]), offer[3]
        if not live:
            assert isinstance(expires_at, datetime)
            raise ActionRefused(
                f"This offer expired at {expires_at:%H:%M:%S} UTC: the lead goes to the next agent."
            )
        await conn.execute(DECIDE, (EVENT[action], offer_id))
        if action == "accept":
            await conn.execute(SET_LEAD, ("accepted", user.user_id, lead_id))
        else:  # back to new and nobody's: the hub offers it to the next agent
            await conn.execute(SET_LEAD, ("new", None, lead_id))
        details["offer_id"] = offer_id
    else:
        if holder != user.user_id or status not in HELD:
            if await _has_open_offer(conn, user, lead_id):
                raise ActionRefused("Accept the offer first.")
            raise LeadNotFound(lead_id)
        if status not in FROM_STATUS[action]:
            raise ActionRefused(f"This lead is already {status}: it cannot be marked {action}.")
        await conn.execute(SET_LEAD, (EVENT[action], user.user_id, lead_id))
    await conn.execute(INSERT_EVENT, (lead_id, user.email, EVENT[action], Jsonb(details)))
    await conn.execute(NOTIFY, (ACTIONS_CHANNEL, str(lead_id)))


async def _has_open_offer(conn: AsyncConn, user: User, lead_id: uuid.UUID) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM lead_offers WHERE lead_id = %s AND agent_id = %s AND outcome IS NULL",
        (lead_id, user.user_id),
    )
    return await cur.fetchone() is not None


async def _refuse_offer(
    conn: AsyncConn, user: User, lead_id: uuid.UUID, status: str, holder: object
) -> NoReturn:
    """Accept/reject without an open offer to this agent: 409 when it is or was theirs."""
    if holder == user.user_id and status in HELD:
        raise ActionRefused(f"This lead is already {status}.")
    if await (await conn.execute(WAS_OFFERED, (lead_id, user.user_id))).fetchone() is not None:
        raise ActionRefused("This offer is no longer open: it expired or went to another agent.")
    raise LeadNotFound(lead_id)
