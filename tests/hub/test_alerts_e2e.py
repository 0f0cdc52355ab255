"""Offline incidents end to end: hours, back-online, flapping, restart without duplicates."""

from __future__ import annotations

import asyncio
import json
import queue
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from broker.runner import EmbeddedBroker
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually, hub_role_account, state_of

Conn = psycopg.Connection[tuple[Any, ...]]


def incidents(conn: Conn, tablet_id: str) -> list[tuple[str, bool]]:
    rows = conn.execute(
        "SELECT kind, resolved_at IS NOT NULL FROM incidents WHERE tablet_id = %s"
        " ORDER BY opened_at",
        (tablet_id,),
    ).fetchall()
    return [(str(r[0]), bool(r[1])) for r in rows]


class AlertListener:
    """A fleet owner's app: subscribed to ``fleets/{id}/alerts`` as the hub user."""

    def __init__(self, broker: EmbeddedBroker, fleet_id: str) -> None:
        self.messages: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        username, password = hub_role_account(broker)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=username)
        self.client.username_pw_set(username, password)
        self.client.on_message = lambda c, u, m: self.messages.put(json.loads(m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(f"fleets/{fleet_id}/alerts", qos=1)
        self.client.loop_start()

    def events(self) -> list[tuple[str, str]]:
        out = []
        while not self.messages.empty():
            m = self.messages.get()
            out.append((m["kind"], m["event"]))
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_offline_opens_incident_and_back_online_resolves(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, broker: EmbeddedBroker
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90, alert_after_s=1)
    tid = fleet.tablet_ids[0]
    alerts = AlertListener(broker, fleet.fleet_id)
    try:
        tablet = fleet.tablet().connect()
        await eventually(lambda: state_of(conn, tid) == "online")
        tablet.drop()
        await eventually(lambda: incidents(conn, tid) == [("offline", False)], timeout=6)
        notified = conn.execute(
            "SELECT kind FROM notifications WHERE tablet_id = %s", (tid,)
        ).fetchall()
        assert notified == [("incident.opened",)]
        tablet = fleet.tablet().connect()
        await eventually(lambda: incidents(conn, tid) == [("offline", True)], timeout=5)
        await eventually(
            lambda: (
                len(
                    conn.execute(
                        "SELECT 1 FROM notifications WHERE tablet_id = %s", (tid,)
                    ).fetchall()
                )
                == 2
            )
        )
        received: list[tuple[str, str]] = []

        def both_alerts() -> bool:
            received.extend(alerts.events())
            return len(received) == 2

        await eventually(both_alerts)
        assert received == [("offline", "opened"), ("offline", "resolved")]
        tablet.close()
    finally:
        alerts.close()


async def test_no_incident_outside_operating_hours(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    # A fleet whose only open hour is twelve hours away from now (in its zone).
    tz = "Asia/Singapore"
    local = datetime.now(UTC).astimezone(ZoneInfo(tz)) + timedelta(hours=12)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    hours = f"{day} {local.hour:02d}:00-{local.hour:02d}:59"
    fleet = await fleet_factory(
        tablets=1, heartbeat_s=1, offline_after_s=2, alert_after_s=1, hours=hours, timezone=tz
    )
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect()
    await eventually(lambda: state_of(conn, tid) == "online")
    tablet.drop()
    await eventually(lambda: state_of(conn, tid) == "offline")
    await asyncio.sleep(2.5)  # alert_after has passed: still no incident out of hours
    assert incidents(conn, tid) == []


async def test_never_seen_tablet_never_alerts(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=1, offline_after_s=2, alert_after_s=1)
    await asyncio.sleep(3.5)
    assert incidents(conn, fleet.tablet_ids[0]) == []
    state = conn.execute(
        "SELECT state FROM tablet_state WHERE tablet_id = %s", (fleet.tablet_ids[0],)
    ).fetchone()
    assert state == ("unknown",)


async def test_flapping_folds_into_one_incident(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(
        tablets=1, heartbeat_s=30, offline_after_s=90, alert_after_s=60, flap_limit=3
    )
    tid = fleet.tablet_ids[0]
    for _ in range(4):
        tablet = fleet.tablet().connect()
        await eventually(lambda: state_of(conn, tid) == "online")
        tablet.drop()
        await eventually(lambda: state_of(conn, tid) == "offline")
    await eventually(lambda: incidents(conn, tid) == [("flapping", False)])
    moves = conn.execute(
        "SELECT count(*) FROM presence_transitions WHERE tablet_id = %s", (tid,)
    ).fetchone()
    assert moves == (8,)


async def test_restart_rebuilds_state_without_duplicate_incident(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(tablets=2, heartbeat_s=1, offline_after_s=2, alert_after_s=1)
    gone, stays = fleet.tablet_ids
    t_gone = fleet.tablet(0).connect()
    t_stays = fleet.tablet(1).connect(online=False)
    t_stays.heartbeat()
    await eventually(
        lambda: (
            conn.execute(
                "SELECT count(*) FROM tablet_state WHERE tablet_id = ANY(%s) AND state='online'",
                ([gone, stays],),
            ).fetchone()
            == (2,)
        )
    )
    t_gone.drop()
    await eventually(lambda: incidents(conn, gone) == [("offline", False)], timeout=6)

    hub = await running_hub.restart()
    for _ in range(8):  # the staying tablet keeps its heartbeat through the restart
        t_stays.heartbeat()
        await asyncio.sleep(0.4)
    await hub.writer.flush_now() if hub.writer else None
    assert incidents(conn, gone) == [("offline", False)]  # not opened twice
    assert incidents(conn, stays) == []
    state = conn.execute("SELECT state FROM tablet_state WHERE tablet_id = %s", (stays,))
    assert state.fetchone() == ("online",)
    stats = await hub.pump.stats() if hub.pump else {}
    assert stats["resident"] >= 1
    t_gone = fleet.tablet(0).connect()
    await eventually(lambda: incidents(conn, gone) == [("offline", True)])
    t_gone.close()
    t_stays.close()
