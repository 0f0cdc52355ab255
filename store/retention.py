"""Raw-data retention: ``drop_chunks`` on TimescaleDB, batched deletes otherwise.

``uptime_hourly`` and ``plays_daily`` are never trimmed here, so rollups outlive raw
data. ``play_event_ids`` goes with ``plays``: events that old are rejected on arrival,
so forgetting their ids cannot let a resend count twice.
"""

from __future__ import annotations

from datetime import timedelta

import psycopg

from config.settings import Settings
from store.idempotency import purge

DELETE_BATCH = 10_000


async def is_timescale(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
    cur = await conn.execute("SELECT value FROM store_meta WHERE key = 'timescaledb'")
    row = await cur.fetchone()
    return bool(row and row[0] == "true")


async def apply_retention(
    conn: psycopg.AsyncConnection[tuple[object, ...]], settings: Settings
) -> int:
    """Delete raw rows past retention; returns rows (or chunks) removed."""
    plays = timedelta(days=settings.play_retention_days)
    plan = (
        ("heartbeats", "time", timedelta(days=settings.heartbeat_retention_days)),
        ("presence_transitions", "time", timedelta(days=settings.transition_retention_days)),
        ("plays", "started_at", plays),
        ("play_event_ids", "started_at", plays),  # a plain table in both modes
    )
    removed = 0
    timescale = await is_timescale(conn)
    for table, column, keep in plan:
        if timescale and table != "play_event_ids":
            cur = await conn.execute(
                "SELECT count(*) FROM drop_chunks(%s::regclass, older_than => now() - %s)",
                (table, keep),
            )
            row = await cur.fetchone()
            removed += int(str(row[0])) if row else 0
            continue
        while True:
            cur = await conn.execute(
                psycopg.sql.SQL(
                    "DELETE FROM {t} WHERE ctid = ANY(ARRAY("
                    "SELECT ctid FROM {t} WHERE {c} < now() - %s LIMIT %s))"
                ).format(t=psycopg.sql.Identifier(table), c=psycopg.sql.Identifier(column)),
                (keep, DELETE_BATCH),
            )
            removed += cur.rowcount
            if cur.rowcount < DELETE_BATCH:
                break
    return removed + await purge(conn)  # device idempotency keys past their 24 h
