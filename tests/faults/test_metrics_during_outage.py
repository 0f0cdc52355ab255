"""Operators see a store outage as it happens: the hub's /metrics answers at once while
PostgreSQL is down, with the outage counted and the buffered rows growing, then draining."""

from __future__ import annotations

import asyncio
import time

import pytest

from broker.runner import EmbeddedBroker
from config.settings import MqttTarget, Settings
from devtools.embedded_db import EmbeddedPostgres
from store import db
from store.fleets import FleetSpec, TabletSpec, add_fleet, add_tablet
from tests.conftest import RunningHub
from tests.helpers import PahoTablet, eventually
from tests.scrape import metrics_settings, scrape, value

pytestmark = [pytest.mark.faults, pytest.mark.slow]


async def test_a_store_outage_is_visible_in_the_scrape(
    own_store: EmbeddedPostgres, broker: EmbeddedBroker, hub_mqtt: MqttTarget, settings: Settings
) -> None:
    url = own_store.url()
    async with db.connect(url) as aconn:
        await add_fleet(aconn, FleetSpec("metrics-outage"), "test")
        await add_tablet(
            aconn, TabletSpec("metrics-outage-t1", "metrics-outage", None, 30, 90), "test"
        )
    await broker.set_credentials({"metrics-outage-t1": "pw"})
    settings = metrics_settings(settings)
    port = settings.hub_metrics_port
    running = RunningHub(settings, url, hub_mqtt)
    hub = await running.start()
    tablet = PahoTablet("metrics-outage-t1", "pw", broker.host, broker.port).connect(online=False)
    try:
        tablet.heartbeat()
        await eventually(lambda: hub.metrics.heartbeats_committed == 1)
        _, before = await scrape(port)
        assert value(before, "fleethub_hub_db_outages_total") == 0

        own_store.stop()
        for _ in range(10):
            tablet.heartbeat()
            await asyncio.sleep(0.05)
        await eventually(lambda: hub.metrics.db_outages == 1)
        started = time.monotonic()
        status, during = await scrape(port)
        assert status == 200
        assert time.monotonic() - started < 1.0  # the exporter never waits for the store
        assert value(during, "fleethub_hub_db_outages_total") == 1
        assert (value(during, "fleethub_hub_store_backlog") or 0) >= 10

        own_store.start()

        writer = hub.writer
        assert writer is not None
        await eventually(
            lambda: hub.metrics.heartbeats_committed == 11 and not writer.backlog(), timeout=20
        )
        _, after = await scrape(port)
        assert value(after, "fleethub_hub_store_backlog") == 0
        assert value(after, "fleethub_hub_heartbeats_committed_total") == 11
    finally:
        tablet.close()
        await running.stop()
