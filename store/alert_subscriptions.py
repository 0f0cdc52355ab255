"""A user's alert subscriptions and their delivery log, as the panel shows and keeps them.

A subscription is one channel (e-mail, webhook, Telegram chat) and address with its filters:
fleets (none: every fleet the user sees; a fleet owner may only name their own), incident
kinds (none: all), quiet hours in a zone, and a digest window. Users see and change only their
own; creating and removing are audited. The hub's notifier reads them (store/alert_outbox.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from config.errors import ConfigError
from store.audit import record
from store.users import User


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    channel: str  # email, webhook, telegram
    target: str  # the address, URL or chat id
    fleets: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    quiet_from: time | None = None
    quiet_until: time | None = None
    timezone: str = "UTC"
    digest_s: int = 0
    secret: str | None = None  # a webhook's signing key


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    subscription_id: int
    channel: str
    target: str
    secret: str | None
    fleets: list[str]
    kinds: list[str]
    quiet_from: time | None
    quiet_until: time | None
    timezone: str
    digest_s: int
    created_at: datetime
    sent: int
    failed: int


@dataclass(frozen=True, slots=True)
class LogRow:
    """One message of the delivery log."""

    message_id: int
    subscription_id: int
    channel: str
    target: str
    status: str
    subject: str
    events: int
    tablets: int
    attempts: int
    last_code: int | None
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


INSERT = """
INSERT INTO alert_subscriptions (tenant_id, user_id, channel, target, secret, fleets, kinds,
    quiet_from, quiet_until, timezone, digest_s)
VALUES (%(tenant)s, %(user)s, %(channel)s, %(target)s, %(secret)s, %(fleets)s, %(kinds)s,
    %(quiet_from)s, %(quiet_until)s, %(timezone)s, %(digest_s)s)
RETURNING subscription_id
"""
MINE = """
SELECT s.subscription_id, s.channel, s.target, s.secret, s.fleets, s.kinds, s.quiet_from,
       s.quiet_until, s.timezone, s.digest_s, s.created_at,
       (SELECT count(*) FROM alert_messages m WHERE m.subscription_id = s.subscription_id
          AND m.status = 'sent')::int AS sent,
       (SELECT count(*) FROM alert_messages m WHERE m.subscription_id = s.subscription_id
          AND m.status = 'failed')::int AS failed
FROM alert_subscriptions s WHERE s.user_id = %s ORDER BY s.subscription_id
"""
DELETE = """
DELETE FROM alert_subscriptions WHERE subscription_id = %s AND user_id = %s
RETURNING channel, target
"""
LOG = """
SELECT m.message_id, m.subscription_id, m.channel, s.target, m.status, m.subject, m.events,
       m.tablets, m.attempts, m.last_code, m.last_error, m.created_at, m.done_at
FROM alert_messages m JOIN alert_subscriptions s USING (subscription_id)
WHERE s.user_id = %s ORDER BY m.message_id DESC LIMIT %s
"""
TENANT_FLEETS = "SELECT fleet_id FROM fleets WHERE tenant_id = %s AND fleet_id = ANY(%s)"


async def create(pool: AsyncConnectionPool, user: User, spec: SubscriptionSpec) -> int:
    """Add the user's subscription (audited); a fleet outside their scope is refused."""
    async with pool.connection() as conn, conn.transaction():
        if spec.fleets:
            cur = await conn.execute(TENANT_FLEETS, (user.tenant_id, list(spec.fleets)))
            known = {str(r[0]) for r in await cur.fetchall()}
            allowed = known if user.fleets is None else known & set(user.fleets)
            outside = [f for f in spec.fleets if f not in allowed]
            if outside:
                raise ConfigError(f"Fleets: {outside[0]!r} is not one of yours")
        params = {
            "tenant": user.tenant_id,
            "user": user.user_id,
            "channel": spec.channel,
            "target": spec.target,
            "secret": spec.secret,
            "fleets": list(spec.fleets),
            "kinds": list(spec.kinds),
            "quiet_from": spec.quiet_from,
            "quiet_until": spec.quiet_until,
            "timezone": spec.timezone,
            "digest_s": spec.digest_s,
        }
        cur = await conn.execute(INSERT, params)
        row = await cur.fetchone()
        assert row is not None
        subscription_id = int(str(row[0]))
        details = {"channel": spec.channel, "fleets": list(spec.fleets), "kinds": list(spec.kinds)}
        await record(
            conn,
            user.tenant_id,
            user.email,
            "alerts.subscribe",
            f"subscription:{subscription_id}",
            details,
        )
    return subscription_id


async def mine(pool: AsyncConnectionPool, user: User) -> list[SubscriptionRow]:
    async with (
        pool.connection() as conn,
        conn.cursor(row_factory=class_row(SubscriptionRow)) as cur,
    ):
        await cur.execute(MINE, (user.user_id,))
        return await cur.fetchall()


async def remove(pool: AsyncConnectionPool, user: User, subscription_id: int) -> bool:
    """Remove the user's own subscription (audited); False when it is not theirs."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(DELETE, (subscription_id, user.user_id))
        row = await cur.fetchone()
        if row is None:
            return False
        await record(
            conn,
            user.tenant_id,
            user.email,
            "alerts.unsubscribe",
            f"subscription:{subscription_id}",
            {"channel": row[0]},
        )
    return True


async def delivery_log(pool: AsyncConnectionPool, user: User, limit: int = 100) -> list[LogRow]:
    """The user's latest messages, newest first, with their attempts and last reply."""
    async with pool.connection() as conn, conn.cursor(row_factory=class_row(LogRow)) as cur:
        await cur.execute(LOG, (user.user_id, limit))
        return await cur.fetchall()
