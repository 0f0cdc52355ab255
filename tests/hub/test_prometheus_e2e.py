"""The hub's /metrics over HTTP, scraped while a real hub routes a paho tablet's messages."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from broker.dynsec_file import hub_publish_client_id
from broker.processes import port_open
from config.settings import MqttTarget, Settings
from devtools.embedded_db import EmbeddedPostgres
from hub.tablet_link import TabletLink
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually
from tests.scrape import Samples, metrics_settings, scrape, value


async def test_scraped_counters_are_the_hubs(
    settings: Settings, database_url: str, hub_mqtt: MqttTarget, fleet_factory: TestFleetFactory
) -> None:
    settings = metrics_settings(settings)
    port = settings.hub_metrics_port
    running = RunningHub(settings, database_url, hub_mqtt)
    hub = await running.start()
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tablet = fleet.tablet().connect()
    try:
        await eventually(lambda: hub.exporter is not None and hub.exporter.serving.is_set())
        tablet.heartbeat()
        tablet.heartbeat()
        tablet.publish("heartbeat", b"{not json", qos=1)
        tablet.publish("heartbeat", {"v": 1, "seq": "seven", "boot_id": "b"}, qos=1)
        tablet.publish("heartbeat", {"v": 2, "seq": 1, "boot_id": "b"}, qos=1)
        m = hub.metrics
        await eventually(lambda: sum(m.rejected.values()) >= 3 and m.heartbeats_committed == 2)

        assert (await scrape(port, token=None))[0] == 401
        assert (await scrape(port, token="wrong"))[0] == 401

        # The hub keeps working meanwhile (the broker-session republish, other tests' retained
        # messages), so a scrape is compared with the live counters until both are still.
        def check(samples: Samples) -> None:
            # The session broker may also hold other tests' retained statuses: at least ours.
            assert value(samples, "fleethub_hub_received_total") == m.received >= 6  # status too
            assert (value(samples, "fleethub_hub_rejected_total", reason="invalid_json") or 0) >= 1
            assert (
                value(samples, "fleethub_hub_rejected_total", reason="invalid_payload") or 0
            ) >= 2
            assert value(samples, "fleethub_hub_heartbeats_committed_total") == 2
            # Every field of HubMetrics, whatever it is called, is in the scrape with its value.
            for f in dataclasses.fields(m):
                current = getattr(m, f.name)
                if isinstance(current, Mapping):
                    label = f.metadata.get("label", "reason")
                    for key, n in current.items():
                        assert value(samples, f"fleethub_hub_{f.name}_total", **{label: key}) == n
                else:
                    assert value(samples, f"fleethub_hub_{f.name}_total") == current, f.name
            assert value(samples, "fleethub_hub_tablets_owned") == len(hub.owned) >= 1
            assert value(samples, "fleethub_hub_tablet_session_up") == 1
            assert value(samples, "fleethub_hub_store_backlog") == 0
            assert (
                value(
                    samples,
                    "fleethub_hub_info",
                    shard_index="0",
                    shard_count="1",
                    client_id=settings.hub_client_id,
                )
                == 1
            )
            assert (value(samples, "process_resident_memory_bytes") or 0) > 0

        for attempt in range(50):
            status, samples = await scrape(port)
            assert status == 200
            try:
                check(samples)
                break
            except AssertionError:
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
    finally:
        tablet.close()
        await running.stop()
    assert not port_open("127.0.0.1", port), "the exporter outlived its hub"


def kick(link: TabletLink) -> None:
    """Connect as the hub's tablet session does (its account and client id): the broker
    drops the hub's session for the newcomer, which leaves at once."""
    target = link._target  # the very account and client id the hub's session uses
    kick_as(target, link._client_id)


def kick_as(target: MqttTarget, client_id: str) -> None:
    """Take ``client_id``'s session for a moment with its own account (user name = id)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    client.username_pw_set(client_id, target.password)
    client.connect(target.host, target.port)
    deadline = time.monotonic() + 5
    while not client.is_connected() and time.monotonic() < deadline:
        client.loop(0.05)
    assert client.is_connected()
    client.disconnect()


async def test_session_reconnects_are_counted(
    settings: Settings, database_url: str, hub_mqtt: MqttTarget
) -> None:
    settings = metrics_settings(settings)
    running = RunningHub(settings, database_url, hub_mqtt)
    hub = await running.start()
    try:
        _, samples = await scrape(settings.hub_metrics_port)
        assert value(samples, "fleethub_hub_reconnects_total", session="tablet") is None
        kick(hub.link)
        await eventually(lambda: hub.metrics.reconnects == {"tablet": 1})
        await hub.ready()
        _, samples = await scrape(settings.hub_metrics_port)
        assert value(samples, "fleethub_hub_reconnects_total", session="tablet") == 1
        assert value(samples, "fleethub_hub_tablet_session_up") == 1
    finally:
        await running.stop()


async def test_a_lost_publish_session_is_noticed_without_a_publish(
    settings: Settings, own_store: EmbeddedPostgres, hub_mqtt: MqttTarget
) -> None:
    """The alert session (aiomqtt) publishes only; its loss is noticed at once and it
    reconnects, not only when the next alert fails (before: it stayed down, uncounted). On a
    store of its own: the shared one's open leads and alerts keep that session publishing."""
    running = RunningHub(settings, own_store.url(), hub_mqtt)
    hub = await running.start()
    try:
        await asyncio.wait_for(hub.ready(), 15)
        kick_as(hub_mqtt, hub_publish_client_id(settings.hub_client_id, settings.shard_index))
        await eventually(lambda: hub.metrics.reconnects.get("publish") == 1)
        await asyncio.wait_for(hub.ready(), 15)
        assert hub.metrics.publish_failures == 0  # nothing was being published
    finally:
        await running.stop()
