"""The alert outbox of the hub's notifier (hub/notify/): fan-out, claims, the delivery log.

Every incident event is a ``notifications`` row (store/incidents.py). :func:`fan_out` turns
each, once, into one ``alert_deliveries`` row per matching subscription (its tenant, its
fleets and kinds, a fleet owner's own fleets only), due after the digest window and quiet
hours; the primary key (subscription, notification) makes it exactly one. :func:`claim` makes
the due deliveries of a subscription into messages (a digest subscription: one message for
all its pending deliveries); :func:`record_attempt` and :func:`finish` keep the log.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row

Conn = psycopg.AsyncConnection[tuple[object, ...]]


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: int
    tenant_id: str
    email: str
    channel: str
    target: str
    secret: str | None
    digest_s: int
    quiet_from: time | None
    quiet_until: time | None
    timezone: str


@dataclass(frozen=True, slots=True)
class Event:
    """One incident event of a message, with what a reader needs about its tablet."""

    notification_id: int
    payload: dict[str, Any]
    fleet_name: str
    car_id: str | None
    fleet_timezone: str


@dataclass(frozen=True, slots=True)
class Message:
    message_id: int
    subscription: Subscription
    events: tuple[Event, ...]


PENDING = """
SELECT n.notification_id, n.fleet_id, n.payload->>'kind' AS kind
FROM notifications n WHERE NOT n.fanned_out
ORDER BY n.notification_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED
"""
MATCHING = """
SELECT s.subscription_id, n.id AS notification_id, s.digest_s, s.quiet_from, s.quiet_until,
       s.timezone
FROM unnest(%(ids)s::bigint[], %(fleets)s::text[], %(kinds)s::text[]) AS n(id, fleet_id, kind)
JOIN fleets f ON f.fleet_id = n.fleet_id
JOIN alert_subscriptions s ON s.tenant_id = f.tenant_id
JOIN users u ON u.user_id = s.user_id AND u.disabled_at IS NULL
WHERE (cardinality(s.fleets) = 0 OR n.fleet_id = ANY(s.fleets))
  AND (cardinality(s.kinds) = 0 OR n.kind = ANY(s.kinds))
  AND (u.role = 'admin'
       OR (u.role = 'fleet_owner' AND EXISTS (
             SELECT 1 FROM user_fleets uf WHERE uf.user_id = u.user_id
                                            AND uf.fleet_id = n.fleet_id)))
"""
ADD_DELIVERIES = """
INSERT INTO alert_deliveries (subscription_id, notification_id, due_at)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[])
ON CONFLICT DO NOTHING
"""
DONE = "UPDATE notifications SET fanned_out = true WHERE notification_id = ANY(%s)"

DueAt = Callable[[int, time | None, time | None, str, datetime], datetime]


async def fan_out(conn: Conn, now: datetime, due_at: DueAt, limit: int = 5000) -> int:
    """Fan out up to ``limit`` new notifications; returns how many deliveries were made."""
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(PENDING, {"limit": limit})
        rows = await cur.fetchall()
        if not rows:
            return 0
        params = {
            "ids": [r["notification_id"] for r in rows],
            "fleets": [r["fleet_id"] for r in rows],
            "kinds": [r["kind"] for r in rows],
        }
        await cur.execute(MATCHING, params)
        matched = await cur.fetchall()
        if matched:
            await cur.execute(
                ADD_DELIVERIES,
                (
                    [m["subscription_id"] for m in matched],
                    [m["notification_id"] for m in matched],
                    [
                        due_at(m["digest_s"], m["quiet_from"], m["quiet_until"], m["timezone"], now)
                        for m in matched
                    ],
                ),
            )
        await cur.execute(DONE, (params["ids"],))
        return len(matched)


DUE_SUBSCRIPTIONS = """
SELECT DISTINCT d.subscription_id FROM alert_deliveries d
WHERE d.message_id IS NULL AND d.due_at <= %s LIMIT %s
"""
SUBSCRIPTION = """
SELECT s.subscription_id, s.tenant_id, u.email, s.channel, s.target, s.secret, s.digest_s,
       s.quiet_from, s.quiet_until, s.timezone
FROM alert_subscriptions s JOIN users u USING (user_id)
WHERE s.subscription_id = %s FOR UPDATE OF s SKIP LOCKED
"""
OPEN_DELIVERIES = """
SELECT d.notification_id, d.due_at FROM alert_deliveries d
WHERE d.subscription_id = %s AND d.message_id IS NULL
ORDER BY d.notification_id
"""
NEW_MESSAGE = """
INSERT INTO alert_messages (subscription_id, channel, subject, events, tablets)
VALUES (%s, %s, %s, %s, %s) RETURNING message_id
"""
ATTACH = """
UPDATE alert_deliveries SET message_id = %s
WHERE subscription_id = %s AND notification_id = ANY(%s)
"""
EVENTS = """
SELECT n.notification_id, n.payload, coalesce(f.name, n.fleet_id) AS fleet_name, t.car_id,
       coalesce(f.timezone, 'UTC') AS fleet_timezone
FROM notifications n
LEFT JOIN fleets f ON f.fleet_id = n.fleet_id
LEFT JOIN tablets t ON t.tablet_id = n.tablet_id
WHERE n.notification_id = ANY(%s) ORDER BY n.notification_id
"""
SENDING = """
SELECT m.message_id, m.subscription_id FROM alert_messages m
WHERE m.status = 'sending' ORDER BY m.message_id
"""
MESSAGE_EVENTS = "SELECT notification_id FROM alert_deliveries WHERE message_id = %s"

Subject = Callable[[Sequence[Event]], str]


async def due_subscriptions(conn: Conn, now: datetime, limit: int = 200) -> list[int]:
    cur = await conn.execute(DUE_SUBSCRIPTIONS, (now, limit))
    return [int(str(r[0])) for r in await cur.fetchall()]


async def _events(conn: Conn, ids: list[int]) -> list[Event]:
    async with conn.cursor(row_factory=class_row(Event)) as cur:
        await cur.execute(EVENTS, (ids,))
        return await cur.fetchall()


async def _subscription(conn: Conn, subscription_id: int) -> Subscription | None:
    async with conn.cursor(row_factory=class_row(Subscription)) as cur:
        await cur.execute(SUBSCRIPTION, (subscription_id,))
        return await cur.fetchone()


async def claim(conn: Conn, subscription_id: int, now: datetime, subject: Subject) -> list[Message]:
    """The subscription's due deliveries as messages, attached to them in one transaction: a
    digest subscription gets one message of all its pending deliveries, another one message
    per due delivery. Nothing when another sender holds the subscription."""
    async with conn.transaction():
        sub = await _subscription(conn, subscription_id)
        if sub is None:
            return []
        cur = await conn.execute(OPEN_DELIVERIES, (subscription_id,))
        pending = [(int(str(n)), due) for n, due in await cur.fetchall()]
        due = [n for n, at in pending if at <= now]  # type: ignore[operator]
        if not due:
            return []
        groups = [[n for n, _ in pending]] if sub.digest_s > 0 else [[n] for n in due]
        events = {e.notification_id: e for e in await _events(conn, [n for g in groups for n in g])}
        out = []
        for group in groups:
            found = tuple(events[n] for n in group if n in events)
            tablets = len({e.payload.get("tablet_id") for e in found})
            cur = await conn.execute(
                NEW_MESSAGE, (sub.subscription_id, sub.channel, subject(found), len(found), tablets)
            )
            row = await cur.fetchone()
            assert row is not None
            message_id = int(str(row[0]))
            await conn.execute(ATTACH, (message_id, sub.subscription_id, group))
            out.append(Message(message_id, sub, found))
        return out


async def unfinished(conn: Conn) -> list[Message]:
    """Messages a stopped sender left ``sending`` (sent again: at least once)."""
    cur = await conn.execute(SENDING)
    out = []
    for message_id, subscription_id in await cur.fetchall():
        async with conn.transaction():
            sub = await _subscription(conn, int(str(subscription_id)))
            if sub is None:
                continue
            ids = await conn.execute(MESSAGE_EVENTS, (message_id,))
            found = await _events(conn, [int(str(r[0])) for r in await ids.fetchall()])
        out.append(Message(int(str(message_id)), sub, tuple(found)))
    return out


ATTEMPT = """
WITH a AS (
    INSERT INTO alert_attempts (message_id, attempt, ok, code, error)
    SELECT %(message)s, coalesce(max(attempt), 0) + 1, %(ok)s, %(code)s, %(error)s
    FROM alert_attempts WHERE message_id = %(message)s
    RETURNING attempt
)
UPDATE alert_messages SET attempts = (SELECT attempt FROM a), last_code = %(code)s,
       last_error = %(error)s
WHERE message_id = %(message)s
"""
FINISH = "UPDATE alert_messages SET status = %s, done_at = now() WHERE message_id = %s"


async def record_attempt(
    conn: Conn, message_id: int, ok: bool, code: int | None, error: str | None
) -> None:
    params = {
        "message": message_id,
        "ok": ok,
        "code": code,
        "error": (error or None) and error[:500],
    }
    await conn.execute(ATTEMPT, params)


async def finish(conn: Conn, message_id: int, sent: bool) -> None:
    await conn.execute(FINISH, ("sent" if sent else "failed", message_id))
