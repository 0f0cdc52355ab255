"""The hub processes' counters as they store them: one ``hub_metrics`` row per shard."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

SHARDS = "SELECT shard, started_at, updated_at, counters FROM hub_metrics ORDER BY shard"


async def shards(pool: AsyncConnectionPool) -> list[dict[str, Any]]:
    """Every shard's row (``shard``, ``started_at``, ``updated_at``, ``counters``), by shard."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(SHARDS)
        return await cur.fetchall()
