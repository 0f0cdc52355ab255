"""Lead billing in the store: each lead campaign's price per accepted lead over time
(``lead_prices``), buyers' disputes (``lead_disputes``) and the accepted leads of a month.

A lead is billed to the agent who accepted it, in the month it was accepted (the tenant's
zone), at the price in force then. A buyer may dispute it within the tenant's dispute window
(days after its acceptance), once, with a reason; an admin accepts (it is credited) or
rejects the dispute. Every write is one transaction with its audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import class_row

from billing.errors import BillingError
from billing.months import midnight
from store import billing_closes
from store.audit import record

Conn = psycopg.AsyncConnection[Any]
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class CampaignPrice:
    campaign_id: str
    name: str
    price: Decimal | None  # in force now
    since: datetime | None
    next_price: Decimal | None  # a price set to start later
    next_from: datetime | None


PRICES = """
SELECT c.campaign_id, c.name, now_p.price, now_p.valid_from AS since,
       next_p.price AS next_price, next_p.valid_from AS next_from
FROM lead_campaigns c
LEFT JOIN LATERAL (SELECT price, valid_from FROM lead_prices p WHERE p.tenant_id = c.tenant_id
                   AND p.campaign_id = c.campaign_id AND p.valid_from <= now()
                   ORDER BY valid_from DESC LIMIT 1) now_p ON true
LEFT JOIN LATERAL (SELECT price, valid_from FROM lead_prices p WHERE p.tenant_id = c.tenant_id
                   AND p.campaign_id = c.campaign_id AND p.valid_from > now()
                   ORDER BY valid_from LIMIT 1) next_p ON true
WHERE c.tenant_id = %s
ORDER BY c.name, c.campaign_id
"""
CAMPAIGN = "SELECT 1 FROM lead_campaigns WHERE tenant_id = %s AND campaign_id = %s"
INSERT_PRICE = """
INSERT INTO lead_prices (tenant_id, campaign_id, valid_from, price, created_by)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, campaign_id, valid_from) DO UPDATE
    SET price = excluded.price, created_by = excluded.created_by, created_at = now()
"""


async def prices(conn: Conn, tenant_id: str) -> list[CampaignPrice]:
    async with conn.cursor(row_factory=class_row(CampaignPrice)) as cur:
        await cur.execute(PRICES, (tenant_id,))
        return await cur.fetchall()


async def set_price(
    conn: Conn,
    tenant_id: str,
    campaign_id: str,
    price: Decimal,
    valid_from: datetime,
    timezone: str,
    actor: str,
) -> None:
    """The campaign's price from ``valid_from`` on (LookupError: no such campaign); never
    inside a closed month (months of the tenant's ``timezone``)."""
    async with conn.transaction():
        await billing_closes.lock(conn, tenant_id)
        if await (await conn.execute(CAMPAIGN, (tenant_id, campaign_id))).fetchone() is None:
            raise LookupError(campaign_id)
        closed = await billing_closes.closed_through(conn, tenant_id)
        closed_until = None if closed is None else midnight(closed + timedelta(days=1), timezone)
        if closed_until is not None and valid_from < closed_until:
            raise BillingError(
                f"{valid_from:%Y-%m-%d %H:%M} is inside a closed month: a price applies from"
                f" {closed_until:%Y-%m-%d %H:%M} UTC on"
            )
        await conn.execute(INSERT_PRICE, (tenant_id, campaign_id, valid_from, price, actor))
        await record(
            conn,
            tenant_id,
            actor,
            "lead_price.set",
            f"campaign:{campaign_id}",
            {"price": str(price), "from": valid_from.isoformat()},
        )


# --- the month's accepted leads ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptedLead:
    agent_id: int
    lead_id: str
    campaign_id: str
    lead_name: str
    accepted_at: datetime
    price: Decimal | None
    dispute: str | None  # None, 'open', 'accepted', 'rejected'


ACCEPTED = """
SELECT l.agent_id, l.lead_id::text, l.campaign_id, l.name AS lead_name, o.decided_at AS accepted_at,
       (SELECT p.price FROM lead_prices p WHERE p.tenant_id = l.tenant_id
          AND p.campaign_id = l.campaign_id AND p.valid_from <= o.decided_at
        ORDER BY p.valid_from DESC LIMIT 1) AS price,
       CASE WHEN d.dispute_id IS NULL THEN NULL ELSE coalesce(d.decision, 'open') END AS dispute
FROM leads l
JOIN LATERAL (SELECT x.decided_at FROM lead_offers x WHERE x.lead_id = l.lead_id
              AND x.agent_id = l.agent_id AND x.outcome = 'accepted'
              ORDER BY x.decided_at LIMIT 1) o ON true
LEFT JOIN lead_disputes d ON d.lead_id = l.lead_id
WHERE l.tenant_id = %(tenant)s AND l.agent_id IS NOT NULL
  AND l.status IN ('accepted', 'contacted', 'converted')
  AND (%(agent)s::bigint IS NULL OR l.agent_id = %(agent)s)
  AND o.decided_at >= %(lo)s AND o.decided_at < %(hi)s
ORDER BY o.decided_at, l.lead_id
"""


async def accepted(
    conn: Conn, tenant_id: str, lo: datetime, hi: datetime, agent_id: int | None
) -> list[AcceptedLead]:
    """The leads accepted in ``[lo, hi)`` (by ``agent_id``, or by anyone), oldest first."""
    params = {"tenant": tenant_id, "agent": agent_id, "lo": lo, "hi": hi}
    async with conn.cursor(row_factory=class_row(AcceptedLead)) as cur:
        await cur.execute(ACCEPTED, params)
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class Buyer:
    user_id: int
    name: str
    email: str


BUYERS = """
SELECT user_id, name, email FROM users
WHERE tenant_id = %(tenant)s AND role = 'agent'
  AND (%(agents)s::bigint[] IS NULL OR user_id = ANY(%(agents)s))
ORDER BY name, user_id
"""


async def buyers(conn: Conn, tenant_id: str, agents: list[int] | None = None) -> list[Buyer]:
    """The tenant's agents (or those of ``agents``), deactivated ones included."""
    async with conn.cursor(row_factory=class_row(Buyer)) as cur:
        await cur.execute(BUYERS, {"tenant": tenant_id, "agents": agents})
        return await cur.fetchall()


# --- disputes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dispute:
    dispute_id: int
    lead_id: uuid.UUID
    campaign_id: str
    lead_name: str
    agent_id: int
    agent_name: str
    reason: str
    opened_at: datetime
    decision: str | None
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None


DISPUTES = """
SELECT d.dispute_id, d.lead_id, l.campaign_id, l.name AS lead_name, d.agent_id,
       u.name AS agent_name, d.reason, d.opened_at, d.decision, d.decided_at, d.decided_by,
       d.decision_note
FROM lead_disputes d JOIN leads l USING (lead_id) JOIN users u ON u.user_id = d.agent_id
WHERE d.tenant_id = %(tenant)s AND (%(agent)s::bigint IS NULL OR d.agent_id = %(agent)s)
  AND (%(dispute)s::bigint IS NULL OR d.dispute_id = %(dispute)s)
ORDER BY d.decision IS NOT NULL, d.opened_at DESC
LIMIT 200
"""
HELD = """
SELECT l.agent_id, o.decided_at FROM leads l
JOIN LATERAL (SELECT x.decided_at FROM lead_offers x WHERE x.lead_id = l.lead_id
              AND x.agent_id = l.agent_id AND x.outcome = 'accepted'
              ORDER BY x.decided_at LIMIT 1) o ON true
WHERE l.lead_id = %s AND l.tenant_id = %s AND l.status IN ('accepted', 'contacted', 'converted')
FOR UPDATE OF l
"""
INSERT_DISPUTE = """
INSERT INTO lead_disputes (tenant_id, lead_id, agent_id, reason) VALUES (%s, %s, %s, %s)
ON CONFLICT (lead_id) DO NOTHING RETURNING dispute_id
"""
DECIDE = """
UPDATE lead_disputes SET decision = %s, decided_at = now(), decided_by = %s, decision_note = %s
WHERE dispute_id = %s AND tenant_id = %s AND decision IS NULL
RETURNING lead_id, agent_id
"""


async def disputes(
    conn: Conn, tenant_id: str, agent_id: int | None = None, dispute_id: int | None = None
) -> list[Dispute]:
    """The tenant's disputes (of one buyer, or one), open ones first."""
    params = {"tenant": tenant_id, "agent": agent_id, "dispute": dispute_id}
    async with conn.cursor(row_factory=class_row(Dispute)) as cur:
        await cur.execute(DISPUTES, params)
        return await cur.fetchall()


async def open_dispute(
    conn: Conn,
    tenant_id: str,
    agent_id: int,
    lead_id: uuid.UUID,
    reason: str,
    window: timedelta,
    actor: str,
) -> int:
    """The buyer disputes a lead they accepted, within ``window`` of accepting it.
    LookupError: not a lead they hold; BillingError: too late, disputed already, no reason."""
    reason = " ".join(reason.split())
    async with conn.transaction():
        row = await (await conn.execute(HELD, (lead_id, tenant_id))).fetchone()
        if row is None or row[0] != agent_id:
            raise LookupError(lead_id)
        if not 1 <= len(reason) <= MAX_REASON:
            raise BillingError(f"say why the lead is invalid (1 to {MAX_REASON} characters)")
        accepted_at: datetime = row[1]
        now = await (await conn.execute("SELECT now()")).fetchone()
        assert now is not None
        if now[0] > accepted_at + window:
            days = window.days
            raise BillingError(
                f"a lead can be disputed within {days} day{'s' if days != 1 else ''} of"
                f" accepting it; this one was accepted on {accepted_at:%Y-%m-%d %H:%M} UTC"
            )
        cur = await conn.execute(INSERT_DISPUTE, (tenant_id, lead_id, agent_id, reason))
        made = await cur.fetchone()
        if made is None:
            raise BillingError("this lead is disputed already: an admin decides it")
        dispute_id = int(str(made[0]))
        await record(
            conn,
            tenant_id,
            actor,
            "lead.dispute",
            f"lead:{lead_id}",
            {"dispute": dispute_id, "reason": reason},
        )
    return dispute_id


async def decide(
    conn: Conn, tenant_id: str, dispute_id: int, accept: bool, note: str, actor: str
) -> None:
    """An admin accepts (the lead is credited) or rejects an open dispute. LookupError: no
    such dispute in the tenant; BillingError: decided already."""
    note = " ".join(note.split())[:MAX_REASON]
    decision = "accepted" if accept else "rejected"
    async with conn.transaction():
        found = await disputes(conn, tenant_id, dispute_id=dispute_id)
        if not found:
            raise LookupError(dispute_id)
        cur = await conn.execute(DECIDE, (decision, actor, note or None, dispute_id, tenant_id))
        row = await cur.fetchone()
        if row is None:
            raise BillingError(f"this dispute was {found[0].decision} already")
        await record(
            conn,
            tenant_id,
            actor,
            f"lead.dispute_{decision}",
            f"lead:{row[0]}",
            {"dispute": dispute_id, "buyer": int(str(row[1])), "note": note},
        )
