"""The store: hypertables or BRIN by what the server offers, retention, the uptime rollup."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from config.settings import Settings
from store.retention import apply_retention
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually, state_of

Conn = psycopg.Connection[tuple[Any, ...]]
TIMESCALE = os.environ.get("FLEETHUB_EXPECT_TIMESCALE") == "1"


def test_time_series_tables_match_the_server(conn: Conn) -> None:
    mode = conn.execute("SELECT value FROM store_meta WHERE key = 'timescaledb'").fetchone()
    if TIMESCALE:
        assert mode == ("true",)
        tables = conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1"
        ).fetchall()
        assert tables == [("heartbeats",), ("plays",), ("presence_transitions",)]
    else:
        assert mode == ("false",)
        brin = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%%brin%%' ORDER BY 1"
        ).fetchall()
        assert brin == [
            ("heartbeats_time_brin",),
            ("play_event_ids_started_at_brin",),
            ("plays_started_at_brin",),
            ("presence_transitions_time_brin",),
        ]


async def test_retention_drops_old_raw_rows_and_keeps_rollups(
    database_url: str, conn: Conn
) -> None:
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=45), now - timedelta(hours=1)
    tablet = f"ret-{now.timestamp()}"
    for at in (old, recent):
        conn.execute(
            "INSERT INTO heartbeats (time, tablet_id, seq, boot_id) VALUES (%s,%s,0,'b')",
            (at, tablet),
        )
        conn.execute(
            "INSERT INTO uptime_hourly VALUES (%s, %s, 60)",
            (tablet, at.replace(minute=0, second=0, microsecond=0)),
        )
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as aconn:
        await apply_retention(aconn, Settings(heartbeat_retention_days=30))
    kept = conn.execute("SELECT time FROM heartbeats WHERE tablet_id = %s", (tablet,)).fetchall()
    assert [r[0] for r in kept] == [recent]
    rollups = conn.execute("SELECT count(*) FROM uptime_hourly WHERE tablet_id = %s", (tablet,))
    assert rollups.fetchone() == (2,)


@pytest.mark.slow
async def test_uptime_hourly_counts_online_time_once(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect()
    await eventually(lambda: state_of(conn, tid) == "online")
    for _ in range(3):
        tablet.heartbeat()
        await asyncio.sleep(0.5)
    tablet.drop()
    await eventually(lambda: state_of(conn, tid) == "offline")
    online, offline = conn.execute(
        "SELECT min(time) FILTER (WHERE to_state = 'online'),"
        " max(time) FILTER (WHERE to_state = 'offline')"
        " FROM presence_transitions WHERE tablet_id = %s",
        (tid,),
    ).fetchone() or (None, None)
    await eventually(
        lambda: (
            conn.execute(
                "SELECT sum(online_seconds) FROM uptime_hourly WHERE tablet_id = %s", (tid,)
            ).fetchone()
            != (None,)
        )
    )
    total = conn.execute(
        "SELECT sum(online_seconds) FROM uptime_hourly WHERE tablet_id = %s", (tid,)
    ).fetchone()
    assert total is not None
    assert online is not None
    assert offline is not None
    assert total[0] == pytest.approx((offline - online).total_seconds(), abs=0.01)
