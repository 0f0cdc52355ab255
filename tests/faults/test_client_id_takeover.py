"""Every broker account × every foreign client id: the connect is refused, the holder stays.

Mosquitto ends the session of whoever holds a client id when another client connects with
it. Each account is bound to its own client id (the dynamic-security plugin's per-client
``clientid``), so an account presenting anyone else's id is refused before that happens.
The holders here are the real ones: a running hub (its tablet session and its publish
session), the panel's session (``web.live.broker_link.BrokerLink``), paho tablets and an agent.
After each refused connect the holder must still be connected, with no reconnect logged,
and its traffic must still flow.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from actors.effects import Publish
from broker import dynsec
from broker.dynsec_file import agent_username, hub_publish_client_id, hub_tablet_client_id
from broker.runner import PROVISION_USER, EmbeddedBroker
from config.settings import Settings
from tests.conftest import RunningHub, TestFleetFactory
from tests.helpers import eventually
from web.live.broker_link import BrokerLink

pytestmark = [pytest.mark.faults, pytest.mark.slow]

Conn = psycopg.Connection[tuple[object, ...]]
# What a taken session logs before it reconnects (hub/tablet_link.py, hub/runtime.py,
# web/live/broker_link.py).
SESSION_LOST = ("tablet session lost", "mqtt publish session ended", "panel broker session lost")


@dataclass(frozen=True)
class Account:
    name: str
    username: str
    password: str
    own_id: str


def attempt(broker: EmbeddedBroker, account: Account, client_id: str) -> ReasonCode:
    """Connect as ``account`` presenting ``client_id``; the CONNACK's reason code."""
    answered = threading.Event()
    codes: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(account.username, account.password)

    def on_connect(c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        codes.append(rc)
        answered.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port, keepalive=10)
    client.loop_start()
    try:
        assert answered.wait(5), f"{account.name} as {client_id!r}: no CONNACK"
        return codes[0]
    finally:
        close(client)


def close(client: mqtt.Client) -> None:
    """Disconnect and stop; a refused client's socket is closed here if paho left it open."""
    client.disconnect()
    client.loop_stop()
    sock = client.socket()
    if sock is not None:
        sock.close()


class Agent:
    """A lead agent's app, subscribed to its own subtree; ``echo`` proves its session."""

    def __init__(self, broker: EmbeddedBroker, user_id: int, password: str) -> None:
        self.username = agent_username(user_id)
        self.topic = f"agents/{user_id}/probe"
        self.got: asyncio.Queue[bytes] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.username)
        self.client.username_pw_set(self.username, password)
        self.client.on_message = self._on_message
        assert self.client.connect(broker.host, broker.port, keepalive=30) == 0
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.loop.call_soon_threadsafe(self.got.put_nowait, bytes(msg.payload))

    async def ready(self) -> None:
        await eventually(self.client.is_connected)
        self.client.subscribe(self.topic, qos=1)
        await self.echo()

    async def echo(self) -> None:
        token = uuid.uuid4().bytes
        self.client.publish(self.topic, token, qos=1)
        while (await asyncio.wait_for(self.got.get(), 5)) != token:
            pass

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
async def panel_link(settings: Settings, broker: EmbeddedBroker) -> AsyncIterator[BrokerLink]:
    """The panel's real MQTT session, as ``web.app`` runs it."""
    link = BrokerLink(broker.hub_target().as_account(settings.web_client_id), None)
    task = asyncio.create_task(link.run(), name="test.panel.broker")
    await asyncio.wait_for(link.connected.wait(), 10)
    yield link
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def heartbeats(conn: Conn, tablet_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM heartbeats WHERE tablet_id = %s", (tablet_id,)
    ).fetchone()
    return int(str(row[0])) if row else 0


async def test_no_account_can_take_another_client_id(
    running_hub: RunningHub,
    panel_link: BrokerLink,
    fleet_factory: TestFleetFactory,
    broker: EmbeddedBroker,
    settings: Settings,
    conn: Conn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hub = running_hub.hub
    assert hub is not None
    fleet = await fleet_factory(tablets=2)
    id_a, id_b = fleet.tablet_ids
    tablets = {t: fleet.tablet(n).connect(online=False) for n, t in enumerate(fleet.tablet_ids)}
    probes: dict[str, asyncio.Queue[bytes]] = {t: asyncio.Queue() for t in tablets}
    loop = asyncio.get_running_loop()

    def probe_to(
        queue: asyncio.Queue[bytes],
    ) -> Callable[[mqtt.Client, object, mqtt.MQTTMessage], None]:
        def got(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, bytes(msg.payload))

        return got

    for tablet_id, tablet in tablets.items():
        tablet.client.subscribe(f"tablets/{tablet_id}/probe", qos=1)
        tablet.client.message_callback_add(
            f"tablets/{tablet_id}/probe", probe_to(probes[tablet_id])
        )
    user_id = random.randrange(10**8, 10**9)  # an agent's id of its own
    agent_password = f"agent-pw-{uuid.uuid4().hex}"
    await dynsec.provision_agent(broker.provision_target(), user_id, agent_password)
    agent = Agent(broker, user_id, agent_password)
    try:
        await agent.ready()
        hub_id = hub_tablet_client_id(settings.hub_client_id, 0)
        out_id = hub_publish_client_id(settings.hub_client_id, 0)
        provision = broker.provision_target()
        password = broker.hub_password()
        accounts = [
            Account("tablet A", id_a, fleet.passwords[id_a], id_a),
            Account("tablet B", id_b, fleet.passwords[id_b], id_b),
            Account("agent", agent.username, agent_password, agent.username),
            Account("hub tablet session", hub_id, password, hub_id),
            Account("hub publish session", out_id, password, out_id),
            Account("panel", settings.web_client_id, password, settings.web_client_id),
            Account("provisioning", PROVISION_USER, provision.password or "", PROVISION_USER),
        ]

        async def tablet_flows(tablet_id: str) -> None:
            tablet = tablets[tablet_id]
            before = heartbeats(conn, tablet_id)
            tablet.heartbeat()
            await eventually(lambda: heartbeats(conn, tablet_id) == before + 1)

        async def hub_out_flows() -> None:
            token = uuid.uuid4().bytes
            hub.publisher.put(Publish(f"tablets/{id_a}/probe", token, 1, False))
            while (await asyncio.wait_for(probes[id_a].get(), 5)) != token:
                pass

        async def panel_flows() -> None:
            tablet = tablets[id_a]
            body = {"v": 1, "seq": tablet.seq, "boot_id": tablet.boot_id}
            tablet.seq += 1
            before = heartbeats(conn, id_a)
            await panel_link.publish(f"tablets/{id_a}/heartbeat", json.dumps(body).encode())
            await eventually(lambda: heartbeats(conn, id_a) == before + 1)

        # Each foreign id: who holds it, whether it is still connected, its traffic.
        holders: dict[str, tuple[Callable[[], bool], Callable[[], Awaitable[None]]]] = {
            id_a: (tablets[id_a].client.is_connected, lambda: tablet_flows(id_a)),
            id_b: (tablets[id_b].client.is_connected, lambda: tablet_flows(id_b)),
            hub_id: (hub.link.connected.is_set, lambda: tablet_flows(id_a)),
            out_id: (hub._publishing.is_set, hub_out_flows),
            settings.web_client_id: (panel_link.connected.is_set, panel_flows),
            agent.username: (agent.client.is_connected, agent.echo),
        }
        taken: list[str] = []
        for account in accounts:
            other_tablet = id_b if account.own_id == id_a else id_a
            foreign = [other_tablet, hub_id, out_id, settings.web_client_id, agent.username]
            for client_id in [f for f in foreign if f != account.own_id]:
                rc = await asyncio.to_thread(attempt, broker, account, client_id)
                if not (rc.is_failure and "authori" in str(rc).lower()):
                    taken.append(f"{account.name} as {client_id}: {rc}")
                connected, flows = holders[client_id]
                assert connected(), f"{account.name} as {client_id} ended the holder's session"
                await flows()
        assert taken == []
        lost = [r.getMessage() for r in caplog.records if r.getMessage().startswith(SESSION_LOST)]
        assert lost == []
        # Each account still connects with its own id (the refusals were not a broken login).
        for account in accounts[:3] + accounts[6:]:
            rc = await asyncio.to_thread(attempt, broker, account, account.own_id)
            assert not rc.is_failure, f"{account.name}: {rc}"
    finally:
        agent.close()
        for tablet in tablets.values():
            tablet.close()


def test_an_account_presenting_no_or_an_empty_client_id_is_refused(
    broker: EmbeddedBroker, fleet_factory: TestFleetFactory
) -> None:
    """An MQTT 5 client with an empty id gets one from the broker, which is not its own."""
    fleet = asyncio.run(fleet_factory(tablets=1))
    (tablet_id,) = fleet.tablet_ids
    answered = threading.Event()
    codes: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    client.username_pw_set(tablet_id, fleet.passwords[tablet_id])

    def on_connect(c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        codes.append(rc)
        answered.set()

    client.on_connect = on_connect
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        assert answered.wait(5)
        assert codes[0].is_failure
        assert "authori" in str(codes[0]).lower()
    finally:
        close(client)
