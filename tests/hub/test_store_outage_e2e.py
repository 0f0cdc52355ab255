"""A store outage: heartbeats and plays are buffered and written when PostgreSQL is back."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from broker.runner import EmbeddedBroker
from config.settings import MqttTarget, Settings
from devtools.embedded_db import EmbeddedPostgres
from store import db
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from tests.conftest import RunningHub
from tests.helpers import PahoTablet, eventually


def count(url: str, tablet_id: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM heartbeats WHERE tablet_id = %s", (tablet_id,)
        ).fetchone()
        return int(row[0]) if row else 0


@pytest.mark.slow
async def test_outage_buffers_and_replays_without_loss(
    own_store: EmbeddedPostgres, broker: EmbeddedBroker, hub_mqtt: MqttTarget, settings: Settings
) -> None:
    url = own_store.url()
    async with db.connect(url) as aconn:
        await add_fleet(aconn, FleetSpec("outage"), "test")
        await add_tablet(aconn, TabletSpec("outage-t1", "outage", None, 30, 90), "test")
    await broker.set_credentials({"outage-t1": "pw"})
    running = RunningHub(settings, url, hub_mqtt)
    hub = await running.start()
    tablet = PahoTablet("outage-t1", "pw", broker.host, broker.port).connect(online=False)
    try:
        for _ in range(5):
            tablet.heartbeat()
        await eventually(lambda: count(url, "outage-t1") == 5)

        own_store.stop()
        for _ in range(20):
            tablet.heartbeat()
            await asyncio.sleep(0.05)
        await eventually(lambda: hub.metrics.db_outages == 1)
        assert hub.writer is not None
        assert hub.writer.backlog() >= 20

        own_store.start()
        await eventually(lambda: count(url, "outage-t1") == 25, timeout=20)
        assert hub.metrics.dropped == {}
    finally:
        tablet.close()
        await running.stop()


@pytest.mark.slow
async def test_plays_are_acknowledged_only_once_committed_after_an_outage(
    own_store: EmbeddedPostgres, broker: EmbeddedBroker, hub_mqtt: MqttTarget, settings: Settings
) -> None:
    url = own_store.url()
    async with db.connect(url) as aconn:
        await add_fleet(aconn, FleetSpec("outage-plays"), "test")
        await add_tablet(aconn, TabletSpec("outage-p1", "outage-plays", None, 30, 90), "test")
    await broker.set_credentials({"outage-p1": "pw"})
    running = RunningHub(settings, url, hub_mqtt)
    hub = await running.start()
    tablet = PahoTablet("outage-p1", "pw", broker.host, broker.port).connect(online=False)
    started = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    event = {
        "event_id": str(uuid.uuid4()),
        "ad_id": "a",
        "campaign_id": "c",
        "playlist_id": "p",
        "playlist_etag": "e",
        "started_at": started,
        "duration_ms": 1000,
        "result": "completed",
        "lat": None,
        "lon": None,
    }
    try:
        tablet.plays([event])
        assert (await tablet.play_ack())["accepted"] == 1  # the fleet is cached from here on

        own_store.stop()
        second = {**event, "event_id": str(uuid.uuid4())}
        tablet.plays([second])
        await eventually(lambda: hub.metrics.db_outages >= 1)
        assert hub.plays.backlog() == 1
        assert tablet.play_acks.empty()  # nothing acknowledged while not committed

        own_store.start()
        ack = await tablet.play_ack(timeout=20)
        assert (ack["accepted"], ack["first_event_id"]) == (1, second["event_id"])
        with psycopg.connect(url) as conn:
            assert conn.execute(
                "SELECT plays FROM plays_daily WHERE tablet_id = 'outage-p1'"
            ).fetchone() == (2,)
        assert hub.metrics.dropped == {}
    finally:
        tablet.close()
        await running.stop()
