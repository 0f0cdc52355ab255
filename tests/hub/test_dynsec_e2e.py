"""Per-tablet credentials through Mosquitto's dynamic-security plugin, on a real broker.

Real paho clients log in as tablets and as the hub; credentials are provisioned and revoked
as the provisioning account with the sync (paho) and async (aiomqtt) runners of
``broker.dynsec``. Every account is bound to its client id, its username.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from broker import dynsec
from broker.dynsec_file import CONTROL_TOPIC
from broker.processes import free_port
from broker.runner import PROVISION_USER, EmbeddedBroker
from config.errors import BrokerError, DynsecError
from config.settings import MqttTarget


class Probe:
    """A paho client that records its CONNACK, SUBACKs, messages and disconnects."""

    def __init__(self, broker: EmbeddedBroker, user: str, password: str) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user)
        self.client.username_pw_set(user, password)
        self.broker = broker
        self.connack: queue.SimpleQueue[ReasonCode] = queue.SimpleQueue()
        self.subacks: queue.SimpleQueue[list[ReasonCode]] = queue.SimpleQueue()
        self.messages: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self.disconnected = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: self.connack.put(rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.put(rcs)
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, bytes(m.payload)))
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnected.set()

    def connect(self) -> ReasonCode:
        self.client.connect(self.broker.host, self.broker.port, keepalive=10)
        self.client.loop_start()
        return self.connack.get(timeout=5)

    def subscribe(self, topic: str) -> bool:
        """True when granted."""
        self.client.subscribe(topic, qos=1)
        return not self.subacks.get(timeout=5)[0].is_failure

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def topics_within(self, seconds: float) -> list[str]:
        deadline, seen = time.monotonic() + seconds, []
        while (left := deadline - time.monotonic()) > 0:
            try:
                seen.append(self.messages.get(timeout=left)[0])
            except queue.Empty:
                break
        return seen

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def probes(broker: EmbeddedBroker) -> Iterator[Any]:
    opened: list[Probe] = []

    def make(user: str, password: str) -> Probe:
        probe = Probe(broker, user, password)
        opened.append(probe)
        return probe

    yield make
    for probe in opened:
        probe.close()


def new_ids(n: int) -> list[str]:
    tag = uuid.uuid4().hex[:8]
    return [f"ds-{tag}-{i}" for i in range(n)]


def refused(rc: ReasonCode) -> bool:
    return rc.is_failure and "authori" in str(rc).lower()


async def hub_account(broker: EmbeddedBroker) -> str:
    """A hub of the test's own: the account (and client id) of its tablet session."""
    hub_id = f"hub-{uuid.uuid4().hex[:8]}"
    await broker.add_accounts(hub_id)
    return f"{hub_id}-0"


async def test_a_tablet_uses_its_own_topics_and_nothing_else(
    broker: EmbeddedBroker, probes: Any
) -> None:
    a, b = new_ids(2)
    await dynsec.provision_tablets(broker.provision_target(), {a: "pw-a", b: "pw-b"})
    hub = probes(await hub_account(broker), broker.hub_password())
    assert not hub.connect().is_failure
    assert hub.subscribe("tablets/#")

    tablet_a, tablet_b = probes(a, "pw-a"), probes(b, "pw-b")
    assert not tablet_a.connect().is_failure
    assert not tablet_b.connect().is_failure
    assert tablet_a.subscribe(f"tablets/{a}/#")
    assert not tablet_a.subscribe(f"tablets/{b}/#")
    assert not tablet_a.subscribe("tablets/#")
    assert not tablet_a.subscribe("#")

    tablet_a.publish(f"tablets/{b}/status", b"spoofed")  # acknowledged, dropped by the ACL
    tablet_b.publish(f"tablets/{b}/heartbeat", b"b's own")
    tablet_a.publish(f"tablets/{a}/heartbeat", b"a's own")
    hub.publish(f"tablets/{a}/playlist", b"for a")

    seen_by_hub = hub.topics_within(1.5)
    assert f"tablets/{a}/heartbeat" in seen_by_hub
    assert f"tablets/{b}/heartbeat" in seen_by_hub
    assert f"tablets/{b}/status" not in seen_by_hub
    seen_by_a = tablet_a.topics_within(0.5)
    assert f"tablets/{a}/playlist" in seen_by_a
    assert not [t for t in seen_by_a if t.startswith(f"tablets/{b}/")]


async def test_a_wrong_password_or_unknown_user_is_refused(
    broker: EmbeddedBroker, probes: Any
) -> None:
    (a,) = new_ids(1)
    await dynsec.provision_tablets(broker.provision_target(), {a: "right"})
    assert refused(probes(a, "wrong").connect())
    assert refused(probes(f"{a}-unknown", "right").connect())
    assert not probes(a, "right").connect().is_failure


async def test_revoke_disconnects_and_a_reconnect_is_refused(
    broker: EmbeddedBroker, probes: Any
) -> None:
    (a,) = new_ids(1)
    await broker.set_credentials({a: "pw"})  # running broker: $CONTROL commands
    tablet = probes(a, "pw")
    assert not tablet.connect().is_failure
    await broker.remove_credentials(a)
    assert tablet.disconnected.wait(5)
    assert refused(probes(a, "pw").connect())
    await dynsec.revoke_tablet(broker.provision_target(), a)  # revoking twice is fine


async def test_provisioning_again_replaces_the_password(
    broker: EmbeddedBroker, probes: Any
) -> None:
    (a,) = new_ids(1)
    await dynsec.provision_tablets(broker.provision_target(), {a: "old"})
    await dynsec.provision_tablets(broker.provision_target(), {a: "new"})
    assert refused(probes(a, "old").connect())
    tablet = probes(a, "new")
    assert not tablet.connect().is_failure
    assert tablet.subscribe(f"tablets/{a}/#")


async def test_many_tablets_in_chunks(broker: EmbeddedBroker, probes: Any) -> None:
    ids = new_ids(dynsec.CHUNK_TABLETS + 7)  # two messages over one connection
    await broker.set_credentials({i: f"pw-{i}" for i in ids})
    for i in (ids[0], ids[dynsec.CHUNK_TABLETS - 1], ids[-1]):
        assert not probes(i, f"pw-{i}").connect().is_failure


async def test_one_tablet_is_provisioned_replaced_and_revoked(
    broker: EmbeddedBroker, probes: Any
) -> None:
    (a,) = new_ids(1)
    await dynsec.provision_tablet(broker.provision_target(), a, "pw-async")
    tablet = probes(a, "pw-async")
    assert not tablet.connect().is_failure
    assert tablet.subscribe(f"tablets/{a}/#")
    await dynsec.provision_tablet(broker.provision_target(), a, "pw-async-2")  # replaces: kicked
    assert tablet.disconnected.wait(5)
    assert refused(probes(a, "pw-async").connect())
    again = probes(a, "pw-async-2")
    assert not again.connect().is_failure
    await dynsec.revoke_tablet(broker.provision_target(), a)
    assert again.disconnected.wait(5)
    assert refused(probes(a, "pw-async-2").connect())


async def test_a_failing_command_raises_with_the_failed_commands(broker: EmbeddedBroker) -> None:
    bad = [
        [
            {"command": "createClient", "username": PROVISION_USER, "password": "x"},  # exists
            {"command": "deleteClient", "username": "nobody-here"},  # not found: fine
            {"command": "noSuchCommand"},
        ]
    ]
    with pytest.raises(DynsecError) as excinfo:
        await dynsec.run(broker.provision_target(), bad, timeout=5)
    message = str(excinfo.value)
    assert f"createClient {PROVISION_USER}: Client already exists" in message
    assert "noSuchCommand: Unknown command" in message
    assert "nobody-here" not in message


async def test_a_tablet_cannot_run_commands(broker: EmbeddedBroker) -> None:
    a, b = new_ids(2)
    await dynsec.provision_tablets(broker.provision_target(), {a: "pw-a"})
    as_tablet = MqttTarget(host=broker.host, port=broker.port, username=a, password="pw-a")
    with pytest.raises(DynsecError, match="may not subscribe"):
        await dynsec.provision_tablets(as_tablet, {b: "pw-b"}, timeout=5)


async def test_the_hubs_accounts_cannot_run_commands(broker: EmbeddedBroker, probes: Any) -> None:
    """Routing and provisioning are separate accounts: the hub's holds no $CONTROL."""
    (b,) = new_ids(1)
    hub = await hub_account(broker)
    for account in (hub, f"{hub}-out"):
        as_hub = MqttTarget(
            host=broker.host, port=broker.port, username=account, password=broker.hub_password()
        )
        with pytest.raises(DynsecError, match="may not subscribe"):
            await dynsec.provision_tablets(as_hub, {b: "pw-b"}, timeout=5)
    # Publishing commands without reading the answers does nothing either.
    probe = probes(hub, broker.hub_password())
    assert not probe.connect().is_failure
    probe.publish(CONTROL_TOPIC, dynsec.Request(dynsec.provision_commands(b, "pw-b")).payload())
    await asyncio.sleep(0.3)  # a command the plugin ran would have made b's account by now
    assert refused(probes(b, "pw-b").connect())


def test_the_provisioning_account_only_reaches_the_plugin(
    broker: EmbeddedBroker, probes: Any
) -> None:
    target = broker.provision_target()
    assert target.username == PROVISION_USER
    assert target.password
    probe = probes(PROVISION_USER, target.password)
    assert not probe.connect().is_failure
    assert probe.subscribe(f"{CONTROL_TOPIC}/response")
    for topic in ("tablets/#", "fleets/#", "agents/#", "$CONTROL/#", "$SYS/#"):
        assert not probe.subscribe(topic), topic


async def test_wrong_provisioning_credentials_are_a_broker_error(broker: EmbeddedBroker) -> None:
    wrong = MqttTarget(
        host=broker.host, port=broker.port, username=PROVISION_USER, password="not-the-password"
    )
    with pytest.raises(BrokerError) as error:
        await dynsec.revoke_tablet(wrong, "x", timeout=5)
    assert not isinstance(error.value, DynsecError)
    assert "refused" in str(error.value)


async def test_nothing_listening_is_a_broker_error() -> None:
    nowhere = MqttTarget(host="127.0.0.1", port=free_port(), username="u", password="p")
    with pytest.raises(BrokerError, match="cannot reach"):
        await dynsec.revoke_tablet(nowhere, "x", timeout=2)


async def test_the_hub_reads_every_tablet_and_nothing_else(
    broker: EmbeddedBroker, probes: Any
) -> None:
    hub = probes(await hub_account(broker), broker.hub_password())
    assert not hub.connect().is_failure
    assert hub.subscribe("tablets/+/status")
    assert hub.subscribe("fleets/#")
    assert hub.subscribe("agents/#")
    assert not hub.subscribe("elsewhere/#")
    assert not hub.subscribe("$CONTROL/dynamic-security/v1/response")
    assert not hub.subscribe("$SYS/#")


@pytest.mark.slow
async def test_credentials_written_while_stopped_work_after_start(tmp_path: Path) -> None:
    stopped = EmbeddedBroker(
        tmp_path / "b", "127.0.0.1", free_port(), "fleethub-hub", persistence=False
    )
    await stopped.set_credentials({"early-1": "pw-1", "early-2": "pw-2"})
    await stopped.remove_credentials("early-2")
    stopped.start()
    try:
        tablet = Probe(stopped, "early-1", "pw-1")
        try:
            assert not tablet.connect().is_failure
            assert tablet.subscribe("tablets/early-1/#")
            assert not tablet.subscribe("tablets/early-2/#")
        finally:
            tablet.close()
        removed = Probe(stopped, "early-2", "pw-2")
        try:
            assert refused(removed.connect())
        finally:
            removed.close()
        # The running broker now owns the file; more tablets go through $CONTROL.
        await stopped.set_credentials({"late-1": "pw-late"})
        late = Probe(stopped, "late-1", "pw-late")
        try:
            assert not late.connect().is_failure
        finally:
            late.close()
    finally:
        stopped.stop()
    # Stopped again: the broker's own saves kept every tablet.
    stopped.start()
    try:
        again = Probe(stopped, "late-1", "pw-late")
        try:
            assert not again.connect().is_failure
        finally:
            again.close()
    finally:
        stopped.stop()
