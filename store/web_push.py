"""Web Push in the store: agents' browser subscriptions and the deliveries of offers to them.

An endpoint is one browser's and global: it moves between agents of one tenant (a shared
browser), never to another tenant's agent. A delivery is one offer pushed to one
subscription (``push_deliveries``); senders claim due ones with ``FOR UPDATE SKIP
LOCKED`` and lease them, so several web processes never send the same one at once.
Each write runs in a transaction of its own on the given connection.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]

# --- subscriptions ----------------------------------------------------------------------------

UPSERT = """
INSERT INTO push_subscriptions (endpoint, user_id, p256dh, auth) VALUES (%s, %s, %s, %s)
ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,
    auth = excluded.auth, failures = 0
WHERE push_subscriptions.user_id IN (SELECT user_id FROM users WHERE tenant_id = %s)
RETURNING endpoint
"""
# Keep the agent's newest subscriptions only.
TRIM = """
DELETE FROM push_subscriptions WHERE user_id = %s AND endpoint NOT IN (
    SELECT endpoint FROM push_subscriptions WHERE user_id = %s
    ORDER BY created_at DESC LIMIT %s)
"""


class SubscriptionTaken(Exception):
    """The endpoint is subscribed for another tenant's agent (nothing was changed)."""


async def subscribe(
    conn: Conn, user_id: int, tenant_id: str, endpoint: str, p256dh: str, auth: str, keep: int
) -> None:
    """Store (or move to this agent) a subscription; the agent keeps its ``keep`` newest.

    Raises :class:`SubscriptionTaken` when another tenant's agent holds the endpoint.
    """
    async with conn.transaction():
        cur = await conn.execute(UPSERT, (endpoint, user_id, p256dh, auth, tenant_id))
        if await cur.fetchone() is None:
            raise SubscriptionTaken(endpoint)
        await conn.execute(TRIM, (user_id, user_id, keep))


async def unsubscribe(conn: Conn, user_id: int, endpoint: str) -> bool:
    """Forget the agent's subscription; False when it was not theirs."""
    cur = await conn.execute(
        "DELETE FROM push_subscriptions WHERE endpoint = %s AND user_id = %s",
        (endpoint, user_id),
    )
    return cur.rowcount > 0


async def count(conn: Conn, user_id: int) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM push_subscriptions WHERE user_id = %s", (user_id,)
    )
    row = await cur.fetchone()
    return int(str(row[0])) if row else 0


# --- deliveries -------------------------------------------------------------------------------

ENQUEUE = """
INSERT INTO push_deliveries (offer_id, endpoint)
SELECT o.offer_id, s.endpoint
FROM lead_offers o JOIN push_subscriptions s ON s.user_id = o.agent_id
WHERE o.outcome IS NULL AND o.expires_at > now()
ON CONFLICT (offer_id, endpoint) DO NOTHING
"""
CLAIM = """
WITH due AS (
    SELECT delivery_id FROM push_deliveries
    WHERE sent_at IS NULL AND gave_up_at IS NULL AND next_at <= now()
    ORDER BY next_at LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
)
UPDATE push_deliveries d
SET attempts = d.attempts + 1, next_at = now() + make_interval(secs => %(lease)s)
FROM due, push_subscriptions s, lead_offers o, leads l, lead_campaigns c
WHERE d.delivery_id = due.delivery_id AND s.endpoint = d.endpoint AND o.offer_id = d.offer_id
  AND l.lead_id = o.lead_id AND c.tenant_id = l.tenant_id AND c.campaign_id = l.campaign_id
RETURNING d.delivery_id, d.attempts, s.endpoint, s.p256dh, s.auth, o.lead_id,
          (o.outcome IS NULL AND o.expires_at > now()) AS open,
          greatest(1, ceil(extract(epoch FROM o.expires_at - now())))::int AS ttl_s,
          l.name, c.name AS campaign
"""
NEXT_DUE = """
SELECT min(next_at) - now() FROM push_deliveries WHERE sent_at IS NULL AND gave_up_at IS NULL
"""
SENT = """
UPDATE push_deliveries SET sent_at = now(), last_error = NULL WHERE delivery_id = %s
"""
SUBSCRIPTION_OK = """
UPDATE push_subscriptions SET last_ok_at = now(), failures = 0 WHERE endpoint = %s
"""
RETRY = """
UPDATE push_deliveries SET next_at = now() + make_interval(secs => %s), last_error = %s
WHERE delivery_id = %s
"""
GIVE_UP = """
UPDATE push_deliveries SET gave_up_at = now(), last_error = %s WHERE delivery_id = %s
"""
SUBSCRIPTION_FAILED = "UPDATE push_subscriptions SET failures = failures + 1 WHERE endpoint = %s"
FORGET = "DELETE FROM push_subscriptions WHERE endpoint = %s"


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: int
    attempts: int
    endpoint: str
    p256dh: str
    auth: str
    lead_id: uuid.UUID
    open: bool
    ttl_s: int
    name: str
    campaign: str


async def enqueue(conn: Conn) -> int:
    """One delivery per open offer and subscription of its agent; how many were new."""
    cur = await conn.execute(ENQUEUE)
    return cur.rowcount


async def until_next_due(conn: Conn) -> timedelta | None:
    """How long until the earliest pending delivery is due (None: none is pending)."""
    row = await (await conn.execute(NEXT_DUE)).fetchone()
    due = row[0] if row else None
    return due if isinstance(due, timedelta) else None


async def claim(conn: Conn, batch: int, lease_s: float) -> list[Delivery]:
    """Up to ``batch`` due deliveries, their attempt counted and leased for ``lease_s``."""
    async with conn.cursor(row_factory=class_row(Delivery)) as cur:
        await cur.execute(CLAIM, {"batch": batch, "lease": lease_s})
        return await cur.fetchall()


async def sent(conn: Conn, delivery_id: int, endpoint: str) -> None:
    async with conn.transaction():
        await conn.execute(SENT, (delivery_id,))
        await conn.execute(SUBSCRIPTION_OK, (endpoint,))


async def give_up(
    conn: Conn, delivery_id: int, error: str | None, failed_endpoint: str | None = None
) -> None:
    """No more attempts; ``failed_endpoint``: the subscription's failure is counted too."""
    async with conn.transaction():
        await conn.execute(GIVE_UP, (error, delivery_id))
        if failed_endpoint is not None:
            await conn.execute(SUBSCRIPTION_FAILED, (failed_endpoint,))


async def retry(
    conn: Conn, delivery_id: int, delay_s: float, error: str | None, endpoint: str
) -> None:
    """Try again in ``delay_s``, counting the subscription's failure."""
    async with conn.transaction():
        await conn.execute(RETRY, (delay_s, error, delivery_id))
        await conn.execute(SUBSCRIPTION_FAILED, (endpoint,))


async def forget(conn: Conn, endpoint: str) -> None:
    """The browser unsubscribed (its push service answered 404/410)."""
    async with conn.transaction():
        await conn.execute(FORGET, (endpoint,))
