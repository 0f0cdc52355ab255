"""Poison that reaches a real hub costs only itself (issue #18, items 1 and 7).

A retained heartbeat the store cannot hold used to kill the hub at every start (a crash
loop until someone cleared the broker); an actor handler that raised was retried and
dropped by thespian, uncounted, on half-changed state.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import psycopg
import pytest

from actors.messages import HeartbeatIn
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually

pytestmark = pytest.mark.faults
Conn = psycopg.Connection[tuple[Any, ...]]


def heartbeats_of(conn: Conn, tablet_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM heartbeats WHERE tablet_id = %s", (tablet_id,)
    ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.slow
async def test_a_retained_poison_heartbeat_does_not_crash_loop_the_hub(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=3, heartbeat_s=30, offline_after_s=90)
    evil, *others = (fleet.tablet(n).connect(online=False) for n in range(3))

    def each_has(count: int) -> bool:
        return all(heartbeats_of(conn, t.tablet_id) == count for t in others)

    try:
        # seq 2**63 killed the writer (OverflowError); retained, it returns on every subscribe.
        evil.publish("heartbeat", {"v": 1, "seq": 2**63, "boot_id": "b"}, retain=True)
        evil.publish("status", {"state": "online", "ts": "2026-01-01T00:00:00\u0000"}, retain=True)
        for restart in range(3):
            hub = await running_hub.restart() if restart else running_hub.hub
            assert hub is not None
            for tablet in others:
                tablet.heartbeat()
            await eventually(functools.partial(each_has, restart + 1))
            assert hub.writer is not None
            await hub.writer.flush_now()
            assert hub.metrics.rejected["invalid_payload"] == 2  # each start: both retained
            assert running_hub._task is not None
            assert not running_hub._task.done()
            assert hub.metrics.handler_errors == 0
            assert not hub.metrics.dropped
        assert heartbeats_of(conn, evil.tablet_id) == 0
    finally:
        evil.publish("heartbeat", b"", retain=True)  # clear the retained poison
        evil.publish("status", b"", retain=True)
        for tablet in (evil, *others):
            tablet.close()


async def test_a_raising_tablet_handler_is_counted_and_rolled_back(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = running_hub.hub
    assert hub is not None
    assert hub.pump is not None
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect(online=False)

    def stored_state() -> tuple[Any, ...] | None:
        return conn.execute(
            "SELECT boot_id, last_seq, battery, app_version FROM tablet_state WHERE tablet_id = %s",
            (tid,),
        ).fetchone()

    try:
        tablet.heartbeat()  # seq 0: online
        await eventually(lambda: stored_state() == (tablet.boot_id, 0, 80, "1.0.0"))
        # A message the session fails on halfway: it sets boot_id, seq, battery and app
        # version, then compares a naive time with its aware uptime mark (TypeError).
        poison = HeartbeatIn(
            tid,
            datetime(2030, 1, 1),
            None,
            99,
            "evil",
            None,
            None,
            None,
            1,
            None,
            None,
            "evil-app",
            None,
            None,
            None,
        )
        hub.pump.put(poison)
        await eventually(lambda: hub.metrics.handler_errors == 1)
        assert any(
            tid in r.getMessage() and "rolled back" in r.getMessage() for r in caplog.records
        )

        # An ack writes the session's state row: it is the state from before the poison.
        tablet.publish("playlist/ack", {"etag": "e-after", "status": "failed", "detail": "x"})
        await eventually(
            lambda: conn.execute(
                "SELECT 1 FROM deliveries WHERE tablet_id = %s AND etag = 'e-after'", (tid,)
            ).fetchone()
        )
        assert stored_state() == (tablet.boot_id, 0, 80, "1.0.0")

        tablet.heartbeat(battery=70)  # the next good message works
        await eventually(lambda: stored_state() == (tablet.boot_id, 1, 70, "1.0.0"))
        assert heartbeats_of(conn, tid) == 2
        assert hub.metrics.handler_errors == 1
        assert sum(hub.metrics.rejected.values()) == 0
    finally:
        tablet.close()
