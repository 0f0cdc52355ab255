"""Simulated tablets against a real Mosquitto, watched by a paho client."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any

import pytest

from broker.mqttwire.codec import Publish
from devtools.simulator import (
    ChurnConfig,
    ConnectFailed,
    Manifest,
    MqttConnection,
    SimFleet,
    TabletConfig,
)
from tests.helpers import eventually
from tests.simulator.observer import Observe, SimBroker

FAST = TabletConfig(heartbeat_interval_s=0.2, keepalive_s=10, connect_timeout_s=3, ack_timeout_s=3)


def ids(count: int) -> list[tuple[str, str | None]]:
    run = uuid.uuid4().hex[:8]
    return [(f"sim-{run}-{index:02d}", f"pw-{index}") for index in range(count)]


def manifest(etag: str) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "etag": etag,
            "playlist_id": "pl-7",
            "version": 2,
            "priority": "emergency",
            "issued_at": "2025-01-01T10:00:00+00:00",
            "valid_until": None,
            "refresh_interval_s": 60,
            "items": [
                {
                    "ad_id": "ad-1",
                    "campaign_id": "camp-1",
                    "url": "https://cdn/1.mp4",
                    "sha256": "a" * 64,
                    "duration_ms": 5000,
                    "position": 0,
                }
            ],
        }
    ).encode()


def statuses(seen: list[Any], state: str) -> set[str]:
    return {
        message.topic.split("/")[1]
        for message in seen
        if message.topic.endswith("/status") and message.json()["state"] == state
    }


async def test_twenty_tablets_go_online_and_heartbeat(
    sim_broker: SimBroker, observe: Observe
) -> None:
    tablets = ids(20)
    names = {tablet_id for tablet_id, _ in tablets}
    fleet = SimFleet(tablets, port=sim_broker.port, per_address=8, tablet_config=FAST, seed=1)
    assert fleet.source_addresses == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    async with fleet.running():
        async with asyncio.timeout(5):
            await fleet.wait_connected()
        # Subscribing after the fact: the online statuses are retained.
        observer = await observe(["tablets/+/status", "tablets/+/heartbeat"])
        await observer.wait_for(lambda: statuses(observer.seen, "online") == names)
        assert all(m.retain for m in observer.seen if m.topic.endswith("/status"))

        def beating() -> set[str]:
            return {m.topic.split("/")[1] for m in observer.seen if m.topic.endswith("/heartbeat")}

        await observer.wait_for(lambda: beating() == names)
        one = [m.json() for m in observer.on(f"tablets/{tablets[0][0]}/heartbeat")]
        assert [beat["seq"] for beat in one] == list(range(one[0]["seq"], one[0]["seq"] + len(one)))
        assert {beat["boot_id"] for beat in one} == {fleet.tablet(tablets[0][0]).boot_id}
        assert one[0]["v"] == 1
        assert one[0]["playlist_etag"] is None
        assert one[0]["now_playing"] is None
        assert 0 <= one[0]["battery"] <= 100
        assert fleet.stats.connected == 20
    assert fleet.stats.connected == 0
    assert fleet.stats.publish_failures == 0


async def test_manifest_is_acked_and_reported_in_heartbeats(
    sim_broker: SimBroker, observe: Observe
) -> None:
    tablets = ids(3)
    target = tablets[1][0]
    received: list[tuple[str, Manifest, float]] = []
    fleet = SimFleet(
        tablets,
        port=sim_broker.port,
        tablet_config=FAST,
        on_playlist=lambda *call: received.append(call),
    )
    observer = await observe(["tablets/+/playlist/ack", f"tablets/{target}/heartbeat"])
    async with fleet.running():
        async with asyncio.timeout(5):
            await fleet.wait_connected()
        ack_topic = f"tablets/{target}/playlist/ack"
        observer.publish(f"tablets/{target}/playlist", manifest("etag-1"), retain=True)
        await observer.wait_for(lambda: bool(observer.on(ack_topic)))
        assert observer.on(ack_topic)[0].json() == {
            "etag": "etag-1",
            "status": "applied",
            "detail": None,
        }
        assert [(tablet_id, m.etag) for tablet_id, m, _ in received] == [(target, "etag-1")]
        assert fleet.tablet(target).playlist_etag == "etag-1"

        def reports_etag() -> bool:
            beats = [m.json() for m in observer.on(f"tablets/{target}/heartbeat")]
            return any(beat["playlist_etag"] == "etag-1" for beat in beats)

        await observer.wait_for(reports_etag)
        last = observer.on(f"tablets/{target}/heartbeat")[-1].json()
        assert last["now_playing"] == {"ad_id": "ad-1", "campaign_id": "camp-1"}

        # A manifest that breaks the contract is answered "failed" with the reason.
        observer.publish(f"tablets/{target}/playlist", b'{"etag": "etag-2"}', retain=True)
        await observer.wait_for(lambda: len(observer.on(ack_topic)) == 2)
        failed = observer.on(ack_topic)[1].json()
        assert (failed["etag"], failed["status"]) == ("etag-2", "failed")
        assert failed["detail"]
        assert fleet.tablet(target).playlist_etag == "etag-1"
    assert len(observer.on(ack_topic)) == 2  # only the target was sent manifests
    assert fleet.stats.playlists_received == 2
    assert fleet.stats.playlists_invalid == 1


async def test_abrupt_drop_publishes_the_will_and_the_tablet_comes_back(
    sim_broker: SimBroker, observe: Observe
) -> None:
    tablets = ids(4)
    victim = tablets[2][0]
    fleet = SimFleet(tablets, port=sim_broker.port, tablet_config=FAST)
    observer = await observe([f"tablets/{victim}/status", f"tablets/{victim}/heartbeat"])
    status = f"tablets/{victim}/status"
    async with fleet.running():
        async with asyncio.timeout(5):
            await fleet.wait_connected()
        first_boot = fleet.tablet(victim).boot_id
        assert fleet.drop(victim, reconnect_after_s=0.2, reboot=True)
        await observer.wait_for(
            lambda: [m.json()["state"] for m in observer.on(status)][-1:] == ["offline"]
        )
        # The will is retained: a late subscriber sees the tablet offline.
        late = await observe([status])
        await late.wait_for(lambda: bool(late.seen))
        assert late.seen[0].json() == {"state": "offline"}
        assert late.seen[0].retain

        await observer.wait_for(lambda: observer.on(status)[-1].json()["state"] == "online")
        new_boot = fleet.tablet(victim).boot_id
        assert new_boot != first_boot

        def new_boot_beats() -> list[Any]:
            beats = [m.json() for m in observer.on(f"tablets/{victim}/heartbeat")]
            return [beat for beat in beats if beat["boot_id"] == new_boot]

        await observer.wait_for(lambda: bool(new_boot_beats()))
        assert new_boot_beats()[0]["seq"] == 0
    assert fleet.stats.drops == 1
    assert fleet.stats.connects == 5


async def test_clean_stop_leaves_every_tablet_offline(
    sim_broker: SimBroker, observe: Observe
) -> None:
    tablets = ids(10)
    fleet = SimFleet(tablets, port=sim_broker.port, tablet_config=FAST)
    async with fleet.running():
        async with asyncio.timeout(5):
            await fleet.wait_connected()
    observer = await observe(["tablets/+/status"])
    await observer.wait_for(lambda: len(observer.seen) == len(tablets))
    assert statuses(observer.seen, "offline") == {tablet_id for tablet_id, _ in tablets}
    assert all(message.retain for message in observer.seen)


async def test_blast_sends_at_the_asked_aggregate_rate(
    sim_broker: SimBroker, observe: Observe
) -> None:
    tablets = ids(8)
    quiet = TabletConfig(heartbeat_interval_s=None, heartbeat_qos=1)
    fleet = SimFleet(tablets, port=sim_broker.port, tablet_config=quiet)
    observer = await observe(["tablets/+/heartbeat"])
    sent: list[tuple[str, int, float]] = []
    async with fleet.running():
        async with asyncio.timeout(5):
            await fleet.wait_connected()
        result = await fleet.blast(400.0, 0.5, on_sent=lambda *call: sent.append(call))
        await observer.wait_for(lambda: len(observer.seen) == 200)
        await eventually(lambda: fleet.in_flight() == 0)  # every PUBACK in before stopping
    assert (result.sent, result.failed) == (200, 0)
    assert result.elapsed_s >= 0.45  # paced over the half second, not sent in a burst
    assert len(sent) == 200
    for tablet_id, _ in tablets:
        assert [seq for sender, seq, _ in sent if sender == tablet_id] == list(range(25))
    assert fleet.stats.heartbeats_sent == 200
    assert fleet.stats.publish_failures == 0


async def test_churn_drops_and_brings_tablets_back(sim_broker: SimBroker, observe: Observe) -> None:
    tablets = ids(20)
    churn = ChurnConfig(interval_s=0.25, fraction=0.5, downtime_s=(0.05, 0.1))
    fleet = SimFleet(tablets, port=sim_broker.port, tablet_config=FAST, churn=churn, seed=3)
    observer = await observe(["tablets/+/status"])
    async with fleet.running():
        async with asyncio.timeout(5):
            await fleet.wait_connected()
        await observer.wait_for(lambda: len(statuses(observer.seen, "offline")) >= 10)
        await observer.wait_for(lambda: fleet.stats.connects >= 30)
    assert fleet.stats.drops >= 10
    assert fleet.stats.connect_failures == 0


async def test_connection_qos1_subscribe_and_keepalive(sim_broker: SimBroker) -> None:
    got: list[Publish] = []
    topic = f"sim/{uuid.uuid4().hex}"
    conn = MqttConnection(
        sim_broker.host,
        sim_broker.port,
        client_id=topic[4:],
        keepalive=1,
        source_ip="127.0.0.9",
        on_message=got.append,
    )
    await conn.connect()
    assert await conn.subscribe([(topic, 1)]) == (1,)
    await conn.publish(topic, b"one", qos=1)
    assert conn.in_flight == 0
    # Idle past 1.5 x keepalive: only PINGREQs keep the broker from closing us.
    await asyncio.sleep(1.7)
    assert conn.connected
    assert [(m.topic, m.payload, m.qos) for m in got] == [(topic, b"one", 1)]
    await conn.disconnect()
    assert not conn.connected


async def test_connect_to_a_closed_port_fails_cleanly() -> None:
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]
        conn = MqttConnection("127.0.0.1", port, client_id="nobody")
        with pytest.raises(ConnectFailed, match="cannot connect"):
            await conn.connect()


async def test_fleet_stops_by_itself_after_its_lifetime(sim_broker: SimBroker) -> None:
    fleet = SimFleet(ids(5), port=sim_broker.port, tablet_config=FAST, max_lifetime_s=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with fleet.running():
            await asyncio.sleep(30)
    assert loop.time() - started < 2
    assert fleet.stats.connected == 0
    assert all(not tablet.online for tablet in fleet.tablets())


async def test_body_errors_surface_unwrapped(sim_broker: SimBroker) -> None:
    fleet = SimFleet(ids(2), port=sim_broker.port, tablet_config=FAST)
    with pytest.raises(KeyError, match="nobody"):
        async with fleet.running():
            fleet.tablet("nobody")
    assert fleet.stats.connected == 0
