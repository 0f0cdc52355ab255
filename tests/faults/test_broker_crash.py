"""A broker killed with SIGKILL leaves no tablet without its manifest (issue #18, item 4).

The test runs its own persistent broker so it can kill it. Two ways a crash loses
retained manifests: the broker comes back empty (no autosave yet: the hub's
session is gone, CONNACK session-present 0), or it comes back from an older
autosave (the hub's session is there, newer retained manifests are not). After
either, a fresh subscriber must read every tablet's current manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from actors.effects import Publish as PublishEffect
from broker.dynsec_file import hub_publish_client_id, hub_tablet_client_id
from broker.mqttwire.connection import MqttConnection
from broker.processes import free_port
from broker.runner import EmbeddedBroker
from config.settings import MqttTarget, Settings
from contract.payloads import PlaylistItem
from hub.metrics import HubMetrics
from hub.tablet_link import PAUSE_ABOVE, TabletLink
from store.playlists import Target, empty_manifest, push
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import Conn as AsyncConn
from tests.helpers import PahoTablet, eventually, hub_role_account

pytestmark = [pytest.mark.faults, pytest.mark.slow]

Conn = psycopg.Connection[tuple[Any, ...]]
TABLETS = 200
CONNECTED = 20  # of them run a paho tablet that applies and acks what it gets


def items(ad: str) -> list[PlaylistItem]:
    return [
        PlaylistItem(
            ad_id=ad,
            campaign_id="c-1",
            url=f"https://cdn.example/{ad}.mp4",
            sha256="a" * 64,
            duration_ms=15000,
        )
    ]


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(
        tmp_path / "broker", "127.0.0.1", free_port(), "fleethub-hub", persistence=True
    )
    yield broker
    broker.stop()


def crash(broker: EmbeddedBroker) -> None:
    """SIGKILL: no final save of the in-memory database."""
    assert broker.child is not None
    os.kill(broker.child.pid, signal.SIGKILL)
    broker.child.proc.wait(10)
    broker.child.finish(0)
    broker.child = None


def retained_manifests(broker: EmbeddedBroker, fleet_id: str) -> dict[str, str]:
    """What a fresh subscriber reads: tablet id -> etag of its retained manifest."""
    target = broker.hub_target()
    got: dict[str, str] = {}
    account, password = hub_role_account(broker)  # every account is bound to its client id
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=account)
    client.username_pw_set(account, password)

    def on_message(_c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        tablet_id = msg.topic.split("/")[1]
        if msg.retain and msg.payload and tablet_id.startswith(f"{fleet_id}-"):
            got[tablet_id] = json.loads(msg.payload)["etag"]

    client.on_message = on_message
    client.connect(target.host, target.port)
    client.subscribe("tablets/+/playlist", qos=1)
    client.loop_start()
    try:
        quiet = 0
        while quiet < 8:  # 0.4 s without news after the retained burst
            before = len(got)
            time.sleep(0.05)
            quiet = quiet + 1 if len(got) == before else 0
    finally:
        client.loop_stop()
        client.disconnect()
    return got


async def every_tablet_has(
    broker: EmbeddedBroker, fleet_id: str, etag: str, tablets: int = TABLETS
) -> None:
    def check() -> bool:
        got = retained_manifests(broker, fleet_id)
        return len(got) == tablets and set(got.values()) == {etag}

    async def probe() -> bool:
        return await asyncio.to_thread(check)

    done: bool = await eventually(probe, timeout=30, interval=0.1)
    assert done


async def test_every_manifest_survives_broker_sigkill(
    own_broker: EmbeddedBroker, conn: Conn, aconn: AsyncConn, database_url: str, settings: Settings
) -> None:
    fleet = await TestFleetFactory(database_url, own_broker)(
        tablets=TABLETS, heartbeat_s=30, offline_after_s=90
    )
    # The test's hub accounts (the settings fixture made them on the session broker) and the
    # tablets' credentials go into its file before it starts.
    await own_broker.add_accounts(settings.hub_client_id, 1, settings.web_client_id)
    own_broker.start()
    hub = RunningHub(settings, database_url, own_broker.hub_target())
    await hub.start()
    tablets: list[PahoTablet] = []
    try:
        tablets = [fleet.tablet(n).connect() for n in range(CONNECTED)]
        first = await push(
            aconn,
            Target("fleet", fleet.fleet_id),
            items("ad-1"),
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
        )
        await every_tablet_has(own_broker, fleet.fleet_id, first.etag)
        await eventually(
            lambda: (
                conn.execute(
                    "SELECT count(*) FROM tablet_state"
                    " WHERE tablet_id LIKE %s AND applied_etag = %s",
                    (f"{fleet.fleet_id}-%", first.etag),
                ).fetchone()
                == (CONNECTED,)
            )
        )

        # 1. Killed before any autosave: it comes back empty, without the hub's session.
        crash(own_broker)
        own_broker.start()
        await every_tablet_has(own_broker, fleet.fleet_id, first.etag)

        # 2. Killed after an autosave that predates the current manifests: the hub's
        #    session comes back (session present), the retained manifests are older.
        own_broker.stop()  # a clean stop saves the database: the hub's session, etag 1
        own_broker.start()
        await asyncio.wait_for(hub.hub.link.connected.wait(), 20)  # type: ignore[union-attr]
        second = await push(
            aconn,
            Target("fleet", fleet.fleet_id),
            items("ad-2"),
            emergency=False,
            expires_s=None,
            reason=None,
            actor="test",
            refresh_s=300,
        )
        await every_tablet_has(own_broker, fleet.fleet_id, second.etag)
        crash(own_broker)
        own_broker.start()
        await every_tablet_has(own_broker, fleet.fleet_id, second.etag)
        assert hub.hub is not None
        assert hub.hub.metrics.broker_state_lost >= 2
    finally:
        for tablet in tablets:
            tablet.drop()
        await hub.stop()


async def test_a_tablet_never_assigned_reads_pl_none_after_the_broker_lost_it(
    own_broker: EmbeddedBroker, database_url: str, settings: Settings
) -> None:
    """Issue 17, defect 9: after a restart that lost the retained manifests, no tablet is
    left without one, never-assigned tablets included (``pl-none``)."""
    fleet = await TestFleetFactory(database_url, own_broker)(
        tablets=20, heartbeat_s=30, offline_after_s=90
    )
    await own_broker.add_accounts(settings.hub_client_id, 1, settings.web_client_id)
    own_broker.start()
    hub = RunningHub(settings, database_url, own_broker.hub_target())
    await hub.start()
    try:
        empty = empty_manifest(settings.playlist_refresh_interval_s).etag
        await every_tablet_has(own_broker, fleet.fleet_id, empty, tablets=20)
        crash(own_broker)  # before any autosave: it comes back with nothing retained
        own_broker.start()
        await every_tablet_has(own_broker, fleet.fleet_id, empty, tablets=20)
    finally:
        await hub.stop()


async def test_manifests_in_flight_while_the_hub_pauses_reading_survive_a_broker_sigkill(
    own_broker: EmbeddedBroker,
) -> None:
    """The hub's tablet session pauses reading while its actors are behind, and its
    acknowledgement timeout does not run meanwhile (issue 16). A broker that hangs and is
    killed then, its PUBACKs never sent, is noticed once reading resumes: every
    unacknowledged manifest goes back to the queue and is published to the restarted broker,
    none lost, and the lost session is reported (the hub then republishes every manifest)."""
    hub_id = f"paused-{uuid.uuid4().hex[:8]}"
    await own_broker.add_accounts(hub_id)
    own_broker.start()
    link_id, peer_id = hub_tablet_client_id(hub_id, 0), hub_publish_client_id(hub_id, 0)
    password = own_broker.hub_password()
    target = MqttTarget(
        host=own_broker.host, port=own_broker.port, username=link_id, password=password
    )
    base = uuid.uuid4().hex[:8]
    metrics, backlog = HubMetrics(), [PAUSE_ABOVE + 1]  # the actors' inbox, as the link sees it
    lost: list[str] = []
    link = TabletLink(target, link_id, lambda _: None, lambda: backlog[0], metrics, lost.append)
    running = asyncio.create_task(link.run([f"tablets/{base}-in/heartbeat"]), name="test.link")
    manifests = {f"tablets/{base}-{i}/playlist": f"m{i}".encode() for i in range(50)}
    try:
        await asyncio.wait_for(link.connected.wait(), 10)
        peer = MqttConnection(
            own_broker.host, own_broker.port, client_id=peer_id, username=peer_id,
            password=password, ack_timeout=30,
        )  # fmt: skip
        await peer.connect()
        await peer.publish(f"tablets/{base}-in/heartbeat", b"{}", qos=1)
        await peer.disconnect()
        await eventually(lambda: link.pauses == 1)  # reading paused by the backlog
        assert own_broker.child is not None
        os.kill(own_broker.child.pid, signal.SIGSTOP)  # hung: it acknowledges nothing
        for topic, payload in manifests.items():
            link.publish(PublishEffect(topic, payload, 1, True))
        await eventually(lambda: link.backlog() == 0)  # all written, none acknowledged
        await asyncio.sleep(0.5)
        assert metrics.published == 0

        crash(own_broker)  # SIGKILL (a stopped process dies too)
        own_broker.start()
        backlog[0] = 0  # the actors caught up: reading resumes, the lost session is noticed
        await eventually(lambda: metrics.published == len(manifests), timeout=30)
        assert metrics.publish_failures == len(manifests)  # each put back once, sent again
        assert link.sessions == 2
        assert lost == ["the broker did not keep the hub's session"] * 2  # first, then again
        got = await asyncio.to_thread(retained_playlists, own_broker, f"tablets/{base}-")
        assert got == manifests
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


def retained_playlists(broker: EmbeddedBroker, prefix: str) -> dict[str, bytes]:
    """The retained manifests a fresh subscriber reads whose topic starts with ``prefix``."""
    got: dict[str, bytes] = {}
    account, password = hub_role_account(broker)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=account)
    client.username_pw_set(account, password)
    client.on_message = lambda _c, _u, msg: got.update({msg.topic: bytes(msg.payload)})
    client.connect(broker.host, broker.port)
    client.subscribe("tablets/+/playlist", qos=1)
    client.loop_start()
    try:
        time.sleep(1.0)  # the retained burst on subscribing
    finally:
        client.loop_stop()
        client.disconnect()
    return {topic: payload for topic, payload in got.items() if topic.startswith(prefix)}
