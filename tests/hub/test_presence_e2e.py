"""End to end: paho tablets → Mosquitto → hub actors → PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import PahoTablet, eventually, state_of

Conn = psycopg.Connection[tuple[Any, ...]]


def transitions(conn: Conn, tablet_id: str) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT to_state, reason FROM presence_transitions WHERE tablet_id = %s ORDER BY time",
        (tablet_id,),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


async def test_heartbeat_is_stored_and_tablet_goes_online(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tablet = fleet.tablet().connect(online=False)
    try:
        tablet.heartbeat(
            battery=42, now_playing={"ad_id": "ad-1", "campaign_id": "c-1"}, mood="sunny"
        )
        tid = fleet.tablet_ids[0]
        rows = await eventually(
            lambda: conn.execute(
                "SELECT seq, battery, ad_id, campaign_id, extra FROM heartbeats"
                " WHERE tablet_id = %s",
                (tid,),
            ).fetchall()
        )
        assert rows == [(0, 42, "ad-1", "c-1", {"mood": "sunny"})]
        assert await eventually(lambda: state_of(conn, tid) == "online")
        assert transitions(conn, tid) == [("online", "heartbeat")]
    finally:
        tablet.close()


async def test_will_marks_offline_within_a_second(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect()
    await eventually(lambda: state_of(conn, tid) == "online")
    dropped_at = datetime.now(UTC)
    tablet.drop()
    await eventually(lambda: state_of(conn, tid) == "offline", timeout=5)
    row = conn.execute(
        "SELECT time FROM presence_transitions WHERE tablet_id = %s AND to_state = 'offline'",
        (tid,),
    ).fetchone()
    assert row is not None
    assert (row[0] - dropped_at).total_seconds() < 1.0
    assert transitions(conn, tid) == [("online", "status"), ("offline", "will")]


async def test_silence_goes_offline_at_offline_after(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=1, offline_after_s=2)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect(online=False)
    try:
        tablet.heartbeat()
        await eventually(lambda: state_of(conn, tid) == "online")
        await eventually(lambda: state_of(conn, tid) == "offline", timeout=6)
        last_hb, offline_at = conn.execute(
            "SELECT s.last_heartbeat_at, p.time FROM tablet_state s JOIN presence_transitions p"
            " USING (tablet_id) WHERE tablet_id = %s AND p.to_state = 'offline'",
            (tid,),
        ).fetchone() or (None, None)
        assert last_hb is not None
        assert offline_at is not None
        detected_after = (offline_at - last_hb).total_seconds()
        assert 1.0 <= detected_after <= 3.0  # offline_after = 2 s, ± 1 s
        assert transitions(conn, tid)[-1] == ("offline", "timeout")
    finally:
        tablet.close()


async def test_first_message_of_a_tablet_registered_unheard_is_not_lost(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    """A tablet added without NOTIFY reaching the hub (or racing it) is looked up, not dropped."""
    fleet = await fleet_factory(tablets=1)
    late = f"{fleet.fleet_id}-late"
    conn.execute(
        "INSERT INTO tablets (tablet_id, fleet_id, offline_after_s) VALUES (%s, %s, 90)",
        (late, fleet.fleet_id),
    )  # no NOTIFY: the hub never heard of it
    await fleet_factory.broker.set_credentials({late: "pw-late"})
    tablet = PahoTablet(late, "pw-late", fleet.host, fleet.port).connect(online=False)
    try:
        tablet.heartbeat()
        assert await eventually(lambda: state_of(conn, late) == "online")
        rows = conn.execute("SELECT count(*) FROM heartbeats WHERE tablet_id = %s", (late,))
        assert rows.fetchone() == (1,)
    finally:
        tablet.close()
