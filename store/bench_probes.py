"""What the benchmarks read back to measure: committed rows and their latencies.

Each bench tablet id starts with the benchmark's prefix (``bench-``, ``bplay-``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

Conn = psycopg.AsyncConnection[tuple[Any, ...]]

HEARTBEAT_LATENCY = """
SELECT count(*),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY lag),
       percentile_disc(0.99) WITHIN GROUP (ORDER BY lag),
       max(lag), min(stored_at), max(stored_at)
FROM (SELECT extract(epoch FROM stored_at - device_ts)::float8 AS lag, stored_at
      FROM heartbeats WHERE device_ts >= %s AND tablet_id LIKE 'bench-%%') s
"""
# Detected − deadline of each timeout: the deadline is the last heartbeat (or the coming
# online, if later) plus the tablet's offline_after_s.
DETECTION = """
SELECT extract(epoch FROM p.time - (greatest(s.last_heartbeat_at, online.time)
       + make_interval(secs => t.offline_after_s)))::float8
FROM presence_transitions p JOIN tablet_state s USING (tablet_id) JOIN tablets t USING (tablet_id)
CROSS JOIN LATERAL (SELECT max(o.time) AS time FROM presence_transitions o
                    WHERE o.tablet_id = p.tablet_id AND o.to_state = 'online'
                      AND o.time < p.time) online
WHERE p.reason = 'timeout' AND p.time > %s AND p.tablet_id LIKE 'bench-%%'
"""
PLAY_LATENCY = """
SELECT count(*), count(DISTINCT event_id),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY stored_lag),
       percentile_disc(0.99) WITHIN GROUP (ORDER BY stored_lag),
       max(stored_lag),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY commit_lag),
       percentile_disc(0.99) WITHIN GROUP (ORDER BY commit_lag),
       max(commit_lag),
       min(received_at), max(committed_at)
FROM (SELECT event_id, received_at,
             extract(epoch FROM stored_at - received_at)::float8 AS stored_lag,
             extract(epoch FROM committed_at - received_at)::float8 AS commit_lag,
             committed_at
      FROM (SELECT event_id, received_at, stored_at,
                   CASE WHEN %(commit_times)s THEN pg_xact_commit_timestamp(xmin)
                        ELSE stored_at END AS committed_at
            FROM plays WHERE tablet_id LIKE 'bplay-%%' AND received_at >= %(since)s) p) s
"""


async def _count(conn: Conn, query: str, *args: object) -> int:
    row = await (await conn.execute(query, args)).fetchone()
    return int(row[0]) if row else 0


async def online_tablets(conn: Conn) -> int:
    return await _count(conn, "SELECT count(*) FROM tablet_state WHERE state = 'online'")


async def heartbeat_rows(conn: Conn) -> int:
    return await _count(conn, "SELECT count(*) FROM heartbeats")


async def heartbeat_latency(conn: Conn, since: datetime) -> tuple[Any, ...]:
    """Bench heartbeats sent since ``since``: count, p50, p99 and max of stored − sent (s),
    first and last stored_at."""
    row = await (await conn.execute(HEARTBEAT_LATENCY, (since,))).fetchone()
    assert row is not None  # an aggregate: always one row
    return row


async def timeouts_after(conn: Conn, since: datetime) -> int:
    """Offline transitions by timeout after ``since``."""
    return await _count(
        conn,
        "SELECT count(*) FROM presence_transitions WHERE reason = 'timeout' AND time > %s",
        since,
    )


async def detection_errors(conn: Conn, since: datetime) -> list[float]:
    """Seconds from each bench tablet's offline deadline to its timeout detected after ``since``."""
    rows = await (await conn.execute(DETECTION, (since,))).fetchall()
    return [float(str(r[0])) for r in rows]


async def play_latency(conn: Conn, commit_times: bool, since: datetime) -> tuple[Any, ...]:
    """Bench plays received since ``since``: rows, distinct events, p50/p99/max of stored_at −
    received and of commit − received (s), first receipt, last commit."""
    params = {"commit_times": commit_times, "since": since}
    row = await (await conn.execute(PLAY_LATENCY, params)).fetchone()
    assert row is not None  # an aggregate: always one row
    return row


async def latest_hub_counters(conn: Conn) -> dict[str, Any]:
    """The counters of the hub shard that stored them last (empty before any did)."""
    row = await (
        await conn.execute("SELECT counters FROM hub_metrics ORDER BY updated_at DESC LIMIT 1")
    ).fetchone()
    counters: dict[str, Any] = row[0] if row else {}
    return counters


COMMAND_LATENCY = """
SELECT count(*), count(*) FILTER (WHERE t.state = 'succeeded'),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.sent_at - c.issued_at)),
       percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM t.sent_at - c.issued_at)),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM t.done_at - t.sent_at)),
       percentile_disc(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM t.done_at - t.sent_at)),
       max(extract(epoch FROM t.done_at - t.sent_at))
FROM command_targets t JOIN commands c USING (command_id)
WHERE t.command_id = %s
"""


async def command_latency(conn: Conn, command_id: object) -> tuple[Any, ...]:
    """One command's targets: how many, how many succeeded, p50/p99 of issued → published
    and p50/p99/max of published → result received by the hub (s)."""
    row = await (await conn.execute(COMMAND_LATENCY, (command_id,))).fetchone()
    assert row is not None  # an aggregate: always one row
    return row


async def heartbeats_received_since(conn: Conn, since: datetime) -> int:
    """Bench heartbeats received (and so committed) at or after ``since`` (the time index)."""
    return await _count(
        conn,
        "SELECT count(*) FROM heartbeats WHERE time >= %s AND tablet_id LIKE 'bench-%%'",
        since,
    )


HEARTBEAT_TIMES = """
SELECT extract(epoch FROM device_ts)::float8, extract(epoch FROM stored_at)::float8
FROM heartbeats WHERE time >= %s AND device_ts >= %s AND tablet_id LIKE 'bench-%%'
"""


async def heartbeat_times(conn: Conn, since: datetime) -> list[tuple[float, float]]:
    """(published, committed) epoch seconds of every bench heartbeat published since
    ``since``: the overload leg's timeline."""
    rows = await (await conn.execute(HEARTBEAT_TIMES, (since, since))).fetchall()
    return [(float(str(a)), float(str(b))) for a, b in rows]


async def heartbeat_duplicates(conn: Conn, since: datetime) -> int:
    """Bench heartbeats published since ``since`` stored more than once."""
    return await _count(
        conn,
        "SELECT count(*) - count(DISTINCT (tablet_id, boot_id, seq)) FROM heartbeats"
        " WHERE time >= %s AND device_ts >= %s AND tablet_id LIKE 'bench-%%'",
        since,
        since,
    )
