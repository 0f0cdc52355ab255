"""What ``fleethub up`` follows as it runs: recent transitions and deliveries, state counts."""

from __future__ import annotations

import psycopg

Conn = psycopg.AsyncConnection[tuple[object, ...]]

RECENT_TRANSITIONS = """
SELECT time, tablet_id, to_state, reason FROM presence_transitions
WHERE time > %s ORDER BY time LIMIT 8
"""
RECENT_DELIVERIES = """
SELECT acked_at, tablet_id, status, etag FROM deliveries
WHERE acked_at > %s ORDER BY acked_at LIMIT 8
"""
COUNTS = "SELECT state, count(*) FROM tablet_state GROUP BY state"
PLAYING_DESIRED = (
    "SELECT count(*) FROM tablet_state WHERE applied_etag IS NOT NULL"
    " AND applied_etag = desired_etag"
)


async def recent_transitions(conn: Conn, since: object) -> list[tuple[object, ...]]:
    """The first eight presence transitions after ``since``: (time, tablet, to state, reason)."""
    cur = await conn.execute(RECENT_TRANSITIONS, (since,))
    return await cur.fetchall()


async def recent_deliveries(conn: Conn, since: object) -> list[tuple[object, ...]]:
    """The first eight playlist acks after ``since``: (acked at, tablet, status, etag)."""
    cur = await conn.execute(RECENT_DELIVERIES, (since,))
    return await cur.fetchall()


async def state_counts(conn: Conn) -> dict[object, object]:
    """How many tablets are in each presence state."""
    cur = await conn.execute(COUNTS)
    return {row[0]: row[1] for row in await cur.fetchall()}


async def playing_desired(conn: Conn) -> int:
    """How many tablets play the playlist they should."""
    row = await (await conn.execute(PLAYING_DESIRED)).fetchone()
    return int(str(row[0])) if row else 0
