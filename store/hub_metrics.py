"""Each hub shard's counters (``hub_metrics``): one row per shard, replaced every interval."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

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
