"""Health incidents end to end: a real hub, broker and paho tablet, scripted heartbeats.

Each kind opens once and resolves once (with its notifications and alerts); a hub restarted
while one is open neither opens it again nor forgets to resolve it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from contract.payloads import PlaylistItem
from store.playlists import Target, push
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import PahoTablet, eventually, state_of
from tests.hub.test_alerts_e2e import AlertListener

Conn = psycopg.Connection[tuple[Any, ...]]


def health_incidents(conn: Conn, tablet_id: str) -> list[tuple[str, bool]]:
    rows = conn.execute(
        "SELECT kind, resolved_at IS NOT NULL FROM incidents WHERE tablet_id = %s"
        " AND kind NOT IN ('offline', 'flapping') ORDER BY opened_at",
        (tablet_id,),
    ).fetchall()
    return [(str(r[0]), bool(r[1])) for r in rows]


def notified(conn: Conn, tablet_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT kind FROM notifications WHERE tablet_id = %s ORDER BY notification_id",
        (tablet_id,),
    ).fetchall()
    return [str(r[0]) for r in rows]


async def handled(conn: Conn, tablet: PahoTablet) -> None:
    """Until the hub committed the tablet's last heartbeat (its incidents commit with it)."""
    boot, seq = tablet.boot_id, tablet.seq - 1

    def done() -> bool:
        row = conn.execute(
            "SELECT boot_id, last_seq FROM tablet_state WHERE tablet_id = %s",
            (tablet.tablet_id,),
        ).fetchone()
        return row == (boot, seq)

    await eventually(done)


ITEMS = [
    PlaylistItem(
        ad_id=f"ad-{n}",
        campaign_id="c-1",
        url=f"https://cdn.example/ad-{n}.mp4",
        sha256=str(n) * 64,
        duration_ms=1000,
    )
    for n in (1, 2)
]

# kind → (fleet overrides, fields of a bad heartbeat, fields of a good one)
SCRIPTS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "low_storage": ({}, {"disk_free_mb": 40}, {"disk_free_mb": 4000}),
    "not_charging": (
        {"not_charging_s": 0},
        {"charging": False, "battery": 50},
        {"charging": True, "battery": 50},
    ),
    "app_outdated": (
        {"min_app_version": "2.0"},
        {"app_version": "1.9"},
        {"app_version": "2.0.1"},
    ),
    "clock_skew": (
        {"clock_skew_s": 60},
        {"ts": (datetime.now(UTC) + timedelta(hours=2)).isoformat()},
        {},
    ),
}


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
async def test_each_kind_opens_once_and_resolves_once(
    kind: str,
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    broker: Any,
) -> None:
    overrides, bad, good = SCRIPTS[kind]
    policy = {"clear_s": 0, **overrides}
    # clock_skew is not judged within offline_after of the hub's start (its restart grace).
    offline_after_s = 2 if kind == "clock_skew" else 90
    fleet = await fleet_factory(
        tablets=1, heartbeat_s=1, offline_after_s=offline_after_s, health=policy
    )
    tid = fleet.tablet_ids[0]
    alerts = AlertListener(broker, fleet.fleet_id)
    tablet = fleet.tablet().connect()
    try:
        await eventually(lambda: state_of(conn, tid) == "online")
        if kind == "clock_skew":
            await asyncio.sleep(offline_after_s)  # the hub's restart grace is over
        tablet.heartbeat(**good)
        if kind == "not_charging":  # the battery falls while not charging
            tablet.heartbeat(charging=False, battery=60)
        for _ in range(3):
            tablet.heartbeat(**bad)
        await eventually(lambda: health_incidents(conn, tid) == [(kind, False)])
        for _ in range(2):
            tablet.heartbeat(**good)
        await eventually(lambda: health_incidents(conn, tid) == [(kind, True)])
        await eventually(lambda: notified(conn, tid) == ["incident.opened", "incident.resolved"])
        received: list[tuple[str, str]] = []

        def both() -> bool:
            received.extend(alerts.events())
            return len(received) >= 2

        await eventually(both)
        assert received == [(kind, "opened"), (kind, "resolved")]
        detail = conn.execute(
            "SELECT detail FROM incidents WHERE tablet_id = %s", (tid,)
        ).fetchone()
        assert detail is not None
        assert detail[0]
    finally:
        tablet.close()
        alerts.close()


async def test_crash_loop_from_new_boots(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    policy = {"clear_s": 0, "crash_loop_boots": 3}
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90, health=policy)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect()
    try:
        await eventually(lambda: state_of(conn, tid) == "online")
        for boot in ("boot-1", "boot-2", "boot-3"):
            tablet.heartbeat(boot_id=boot, seq=0)
        await eventually(lambda: health_incidents(conn, tid) == [("crash_loop", False)])
        tablet.heartbeat(boot_id="boot-3", seq=1)
        tablet.boot_id, tablet.seq = "boot-3", 2
        await handled(conn, tablet)
        assert health_incidents(conn, tid) == [("crash_loop", False)]  # three in the hour
    finally:
        tablet.close()


async def test_playback_stuck_on_a_two_ad_playlist(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, aconn: AsyncConn
) -> None:
    policy = {"clear_s": 0, "playback_stuck_factor": 1.0}
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90, health=policy)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect()
    try:
        await eventually(lambda: state_of(conn, tid) == "online")
        result = await push(
            aconn, Target("tablet", tid), ITEMS, emergency=False, expires_s=None,
            reason="t", actor="test", refresh_s=300,
        )  # fmt: skip
        await eventually(lambda: tablet.applied_etag == result.etag)
        playing = {"ad_id": "ad-1", "campaign_id": "c-1"}
        tablet.heartbeat(now_playing=playing)
        await asyncio.sleep(1.2)  # past 1 × the ad's 1 s
        tablet.heartbeat(now_playing=playing)
        await eventually(lambda: health_incidents(conn, tid) == [("playback_stuck", False)])
        tablet.heartbeat(now_playing={"ad_id": "ad-2", "campaign_id": "c-1"})
        await eventually(lambda: health_incidents(conn, tid) == [("playback_stuck", True)])
    finally:
        tablet.close()


async def test_restart_keeps_the_open_incident_without_duplicates(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn
) -> None:
    fleet = await fleet_factory(
        tablets=1, heartbeat_s=30, offline_after_s=90, health={"clear_s": 0}
    )
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect()
    try:
        await eventually(lambda: state_of(conn, tid) == "online")
        tablet.heartbeat(disk_free_mb=10)
        await eventually(lambda: health_incidents(conn, tid) == [("low_storage", False)])
        await running_hub.restart()
        for _ in range(3):
            tablet.heartbeat(disk_free_mb=10)
        await handled(conn, tablet)
        assert health_incidents(conn, tid) == [("low_storage", False)]
        tablet.heartbeat(disk_free_mb=5000)
        await eventually(lambda: health_incidents(conn, tid) == [("low_storage", True)])
        assert notified(conn, tid) == ["incident.opened", "incident.resolved"]
    finally:
        tablet.close()
