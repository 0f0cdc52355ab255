"""Closed months (``billing_closes``) and the tenant's billing lock.

Every billing write that depends on what is closed (closing, reopening, rate cards, driver
assignments, lead prices, settings) runs in a transaction holding :func:`lock`, so a month
cannot close while a rate card or an assignment for it is being changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from billing.months import last_day

Conn = psycopg.AsyncConnection[Any]

LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('fleethub billing ' || %s, 0))"


@dataclass(frozen=True, slots=True)
class Close:
    close_id: int
    month: date
    closed_at: datetime
    closed_by: str


@dataclass(frozen=True, slots=True)
class Reopening:
    month: date
    closed_at: datetime
    closed_by: str
    reopened_at: datetime
    reopened_by: str
    reopen_reason: str


LIVE = """
SELECT close_id, month, closed_at, closed_by FROM billing_closes
WHERE tenant_id = %s AND reopened_at IS NULL ORDER BY month
"""
REOPENED = """
SELECT month, closed_at, closed_by, reopened_at, reopened_by, reopen_reason FROM billing_closes
WHERE tenant_id = %s AND month = %s AND reopened_at IS NOT NULL ORDER BY closed_at DESC
"""
INSERT = """
INSERT INTO billing_closes (tenant_id, month, closed_by) VALUES (%s, %s, %s)
RETURNING close_id, month, closed_at, closed_by
"""
REOPEN = """
UPDATE billing_closes SET reopened_at = now(), reopened_by = %s, reopen_reason = %s
WHERE close_id = %s AND reopened_at IS NULL
"""


async def lock(conn: Conn, tenant_id: str) -> None:
    """The tenant's billing lock, until the caller's transaction ends."""
    await conn.execute(LOCK, (tenant_id,))


async def live(conn: Conn, tenant_id: str) -> dict[date, Close]:
    """The tenant's closed months (not reopened), by month."""
    async with conn.cursor(row_factory=class_row(Close)) as cur:
        await cur.execute(LIVE, (tenant_id,))
        return {c.month: c for c in await cur.fetchall()}


async def closed_through(conn: Conn, tenant_id: str) -> date | None:
    """The last day of the latest closed month (None: none is closed)."""
    closes = await live(conn, tenant_id)
    return last_day(max(closes)) if closes else None


async def reopenings(conn: Conn, tenant_id: str, month: date) -> list[Reopening]:
    async with conn.cursor(row_factory=class_row(Reopening)) as cur:
        await cur.execute(REOPENED, (tenant_id, month))
        return await cur.fetchall()


async def insert(conn: Conn, tenant_id: str, month: date, actor: str) -> Close:
    async with conn.cursor(row_factory=class_row(Close)) as cur:
        await cur.execute(INSERT, (tenant_id, month, actor))
        row = await cur.fetchone()
        assert row is not None
        return row


async def mark_reopened(conn: Conn, close_id: int, actor: str, reason: str) -> None:
    await conn.execute(REOPEN, (actor, reason, close_id))
