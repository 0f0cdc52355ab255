"""Each hub shard's counters (``hub_metrics``): one row per shard, replaced every interval by
the hub and read by the panel's hub status page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

UPSERT = (
    "INSERT INTO hub_metrics VALUES (%s, now(), %s, %s) ON CONFLICT (shard)"
    " DO UPDATE SET updated_at = now(), started_at = excluded.started_at,"
    " counters = excluded.counters"
)


async def store_counters(
    conn: psycopg.AsyncConnection[Any],
    shard: str,
    started_at: datetime,
    counters: Mapping[str, object],
) -> None:
    """Replace the shard's row with its start time and current counters."""
    await conn.execute(UPSERT, (shard, started_at, Jsonb(counters)))


SHARDS = "SELECT shard, started_at, updated_at, counters FROM hub_metrics ORDER BY shard"


async def shards(pool: AsyncConnectionPool) -> list[dict[str, Any]]:
    """Every shard's row (``shard``, ``started_at``, ``updated_at``, ``counters``), by shard."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(SHARDS)
        return await cur.fetchall()
