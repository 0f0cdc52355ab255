"""Campaign targeting end to end: a real hub, paho tablets driving along a path through a
zone. The manifest gains the zone campaign's creative exactly when the tablet enters, keeps it
while the tablet drives along the border, loses it after the leave fixes; a fleet the campaign
does not target never gets it; proof of play records the zone and flags out-of-target plays."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from config.settings import Settings
from contract.manifest import EMPTY_PLAYLIST_ID
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import PahoTablet, eventually
from tests.hub.campaign_helpers import CBD_RING, IN_CBD, OUTSIDE, make_campaign

Conn = psycopg.Connection[tuple[Any, ...]]


_held: dict[str, str] = {}  # tablet id → the etag of the manifest it last got


async def next_manifest(tablet: PahoTablet, timeout: float = 10.0) -> dict[str, Any]:
    """The next manifest the tablet receives, a repeat of the one it holds folded as a tablet
    does (the hub republishes every manifest after the broker lost its session, as at each
    test hub's start, and that may cross the test's steps); fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in await tablet.messages(min(0.5, deadline - time.monotonic()), settle=0):
            if m.topic.endswith("/playlist") and m.payload:
                body: dict[str, Any] = json.loads(m.payload)
                if _held.get(tablet.tablet_id) != body["etag"]:
                    _held[tablet.tablet_id] = body["etag"]
                    return body
    raise AssertionError(f"{tablet.tablet_id}: no manifest within {timeout} s")


def ads(manifest: dict[str, Any]) -> list[str]:
    return [i["campaign_id"] for i in sorted(manifest["items"], key=lambda i: i["position"])]


def at(where: tuple[float, float]) -> dict[str, float]:
    return {"lat": where[0], "lon": where[1]}


async def test_a_tablet_driving_through_a_zone_gets_its_campaign_exactly_while_inside(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    settings: Settings,
    aconn: AsyncConn,
    conn: Conn,
) -> None:
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    other = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    made = await make_campaign(
        aconn, settings, "default", fleets=(fleet.fleet_id,), zone_ring=CBD_RING
    )
    hub = running_hub.hub
    assert hub is not None
    await eventually(lambda: made.campaign_id in {r.campaign_id for r in hub.campaigns.book.rules})
    tablet = fleet.tablet(0).connect()
    outsider = other.tablet(0).connect()
    try:
        assert (await next_manifest(tablet))["playlist_id"] == EMPTY_PLAYLIST_ID
        tablet.heartbeat(**at(OUTSIDE))
        tablet.heartbeat(**at(IN_CBD))  # enters on one fix
        entered = await next_manifest(tablet)
        assert ads(entered) == [made.campaign_id]
        item = entered["items"][0]
        assert item["media_id"] == made.media_id
        assert item["sha256"] == made.sha256
        assert "download_url" in item
        for n in range(6):  # along the border: in, out, in, out ...
            tablet.heartbeat(**at(OUTSIDE if n % 2 == 0 else IN_CBD))
        for _ in range(3):  # three fixes outside in a row: left
            tablet.heartbeat(**at(OUTSIDE))
        left = await next_manifest(tablet)  # the very next manifest: nothing in between
        assert left["items"] == []
        assert left["etag"] != entered["etag"]

        # The other fleet's tablet drives into the zone too: the campaign is not its fleet's.
        assert (await next_manifest(outsider))["playlist_id"] == EMPTY_PLAYLIST_ID
        outsider.heartbeat(**at(IN_CBD))
        tablet.heartbeat(**at(IN_CBD))  # a marker: the first tablet enters again
        assert ads(await next_manifest(tablet)) == [made.campaign_id]
        assert await outsider.messages(0.5) == []

        # Proof of play: in the zone, outside it (out of target), and with no position (the
        # tablet's last fix, in the zone).
        now = datetime.now(UTC)
        events = []
        for n, where in enumerate([IN_CBD, OUTSIDE, None]):
            event: dict[str, Any] = {
                "event_id": str(uuid.uuid4()),
                "ad_id": made.media_id,
                "campaign_id": made.campaign_id,
                "playlist_id": entered["playlist_id"],
                "playlist_etag": entered["etag"],
                "started_at": (now - timedelta(seconds=30 - n)).isoformat(),
                "duration_ms": 5000,
                "result": "completed",
            }
            if where is not None:
                event |= at(where)
            events.append(event)
        await eventually(lambda: _last_fix_in_cbd(conn, tablet.tablet_id))
        tablet.plays(events)
        assert (await tablet.play_ack())["accepted"] == 3
        rows = conn.execute(
            "SELECT lat IS NULL, zone_id, out_of_target, h3_cell IS NOT NULL FROM plays"
            " WHERE tablet_id = %s ORDER BY started_at",
            (tablet.tablet_id,),
        ).fetchall()
        assert rows == [
            (False, made.zone_id, False, True),
            (False, None, True, True),
            (True, made.zone_id, False, True),
        ]
        delivery = conn.execute(
            "SELECT sum(plays), sum(in_target), sum(in_target_ms), sum(out_of_target)"
            " FROM campaign_delivery WHERE campaign_id = %s",
            (made.campaign_id,),
        ).fetchone()
        assert delivery == (3, 2, 10_000, 1)
    finally:
        tablet.close()
        outsider.close()


def _last_fix_in_cbd(conn: Conn, tablet_id: str) -> bool:
    row = conn.execute(
        "SELECT lat, lon FROM tablet_state WHERE tablet_id = %s", (tablet_id,)
    ).fetchone()
    return row is not None and (row[0], row[1]) == IN_CBD
