"""Bad device input is rejected, counted and logged; the hub keeps routing. ACLs hold."""

from __future__ import annotations

import json
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from broker.runner import EmbeddedBroker
from config.settings import Settings
from store.users import add_user
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import PahoTablet, eventually, hub_role_account
from tests.web.conftest import PASSWORD, sign_in
from web.app import create_app

Conn = psycopg.Connection[tuple[Any, ...]]


async def test_malformed_payloads_are_rejected_and_counted(
    running_hub: RunningHub, fleet_factory: TestFleetFactory, conn: Conn, broker: EmbeddedBroker
) -> None:
    hub = running_hub.hub
    assert hub is not None
    fleet = await fleet_factory(tablets=1, heartbeat_s=30, offline_after_s=90)
    tid = fleet.tablet_ids[0]
    tablet = fleet.tablet().connect(online=False)
    try:
        tablet.publish("heartbeat", b"{not json", qos=1)
        tablet.publish("heartbeat", {"v": 1, "seq": "seven", "boot_id": "b"}, qos=1)
        tablet.publish("heartbeat", {"v": 1, "seq": 1, "boot_id": "b", "battery": 250}, qos=1)
        tablet.publish("heartbeat", {"v": 2, "seq": 1, "boot_id": "b"}, qos=1)
        tablet.publish("playlist/ack", {"etag": "x", "status": "maybe"}, qos=1)
        huge = json.dumps({"v": 1, "seq": 1, "boot_id": "b", "pad": "x" * 17_000}).encode()
        tablet.publish("heartbeat", huge, qos=1)

        # An unknown tablet id (the hub's own user may publish anywhere).
        ghost_id, password = hub_role_account(broker, "ghost-tablet")
        ghost = PahoTablet(ghost_id, password, broker.host, broker.port, username=ghost_id)
        ghost.connect(subscribe=False, online=False)
        ghost.heartbeat()
        ghost.close()

        await eventually(lambda: sum(hub.metrics.rejected.values()) >= 7)
        assert hub.metrics.rejected["invalid_json"] == 1
        assert hub.metrics.rejected["invalid_payload"] == 4
        assert hub.metrics.rejected["too_large"] == 1
        assert hub.metrics.rejected["unknown_tablet"] == 1

        # Still routing: a good heartbeat after all that is stored.
        tablet.heartbeat()
        await eventually(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM heartbeats WHERE tablet_id = %s", (tid,)
                ).fetchone()
                == (1,)
            )
        )
        assert conn.execute(
            "SELECT count(*) FROM heartbeats WHERE tablet_id = 'ghost-tablet'"
        ).fetchone() == (0,)
    finally:
        tablet.close()


def _client(broker: EmbeddedBroker, user: str, password: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user)
    client.username_pw_set(user, password)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


async def test_acl_confines_each_tablet_to_its_own_topics(
    fleet_factory: TestFleetFactory, broker: EmbeddedBroker
) -> None:
    fleet = await fleet_factory(tablets=2)
    a, b = fleet.tablet_ids
    # The hub's view: everything a tablet publishes anywhere.
    seen: list[str] = []
    hub = _client(broker, *hub_role_account(broker))
    hub.on_message = lambda c, u, m: seen.append(m.topic)
    hub.subscribe("tablets/#", qos=1)
    # Tablet b's retained playlist, published by the hub.
    secret = hub.publish(f"tablets/{b}/playlist", b'{"etag":"secret"}', qos=1, retain=True)
    secret.wait_for_publish(5)

    got: list[str] = []
    tablet_a = _client(broker, a, fleet.passwords[a])
    tablet_a.on_message = lambda c, u, m: got.append(m.topic)
    tablet_a.subscribe(f"tablets/{b}/playlist", qos=1)
    tablet_a.subscribe(f"tablets/{a}/playlist", qos=1)
    tablet_a.publish(f"tablets/{b}/heartbeat", b'{"v":1,"seq":0,"boot_id":"x"}', qos=1)
    tablet_a.publish(f"tablets/{a}/heartbeat", b'{"v":1,"seq":0,"boot_id":"x"}', qos=1)
    await eventually(lambda: f"tablets/{a}/heartbeat" in seen)
    assert f"tablets/{b}/heartbeat" not in seen  # publish to another tablet was dropped
    assert f"tablets/{b}/playlist" not in got  # another tablet's playlist is unreadable
    for c in (tablet_a, hub):
        c.disconnect()
        c.loop_stop()


@pytest.mark.parametrize("password", ["wrong", ""])
async def test_bad_credentials_are_refused(
    fleet_factory: TestFleetFactory, broker: EmbeddedBroker, password: str
) -> None:
    fleet = await fleet_factory(tablets=1)
    tablet = PahoTablet(fleet.tablet_ids[0], password, broker.host, broker.port)
    with pytest.raises(ConnectionError):
        tablet.connect()


async def test_counters_reach_the_store_and_the_status_page(
    running_hub: RunningHub,
    fleet_factory: TestFleetFactory,
    conn: Conn,
    aconn: AsyncConn,
    database_url: str,
    settings: Settings,
) -> None:
    fleet = await fleet_factory(tablets=1)
    tablet = fleet.tablet().connect(online=False)
    try:
        tablet.publish("heartbeat", b"{not json", qos=1)
        shard = f"0/1 {running_hub.settings.hub_client_id}"
        row = await eventually(
            lambda: conn.execute(
                "SELECT counters FROM hub_metrics WHERE shard = %s AND"
                " (counters->'rejected'->>'invalid_json')::int >= 1",
                (shard,),
            ).fetchone()
        )
        assert row is not None
        assert row[0]["received"] >= 1
        email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
        await add_user(
            aconn,
            tenant_id="default",
            email=email,
            name="Admin",
            role="admin",
            password=PASSWORD,
            fleets=[],
            actor="test",
        )
        with TestClient(create_app(settings, database_url)) as client:
            sign_in(client, email)
            page = client.get("/hubs").text
        assert "invalid json 1" in page  # the reason in words
    finally:
        tablet.close()
