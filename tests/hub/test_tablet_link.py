"""The tablet session's hard paths against a real Mosquitto: read back-pressure, publishes a
lost session did not get acknowledged (put back, sent again once a session without the old
state is up) and a publish the broker refuses with an MQTT 5 reason code — each over plain
MQTT and over TLS (asyncio's TLS transport pauses and closes differently from TCP's)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from actors.effects import Publish as PublishEffect
from broker.dynsec_file import hub_publish_client_id, hub_tablet_client_id
from broker.mqttwire.codec import Publish
from broker.mqttwire.connection import MqttConnection
from broker.runner import EmbeddedBroker
from config.settings import MqttTarget
from hub.metrics import HubMetrics
from hub.tablet_link import PAUSE_ABOVE, TabletLink
from tests.conftest import TestCA


class CuttableProxy:
    """A TCP relay to the broker that can withhold the broker's bytes and cut every socket."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.hold = False  # drop what the broker sends (PUBACKs never arrive)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for pump in list(self._pumps):
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers += [writer, up_writer]
        for source, sink, from_broker in ((reader, up_writer, False), (up_reader, writer, True)):
            pump = asyncio.create_task(self._pump(source, sink, from_broker), name="proxy.pump")
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, from_broker: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if not (from_broker and self.hold):
                    sink.write(data)
        sink.transport.abort()


async def until(done: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not done():  # noqa: ASYNC110 - a condition on counters, no event to wait on
            await asyncio.sleep(0.01)


@pytest.fixture
async def hub_id(broker: EmbeddedBroker) -> str:
    """A hub client id of this test's own: fresh accounts, no session left by another test."""
    hub_client_id = f"link-{uuid.uuid4().hex[:10]}"
    await broker.add_accounts(hub_client_id)
    return hub_client_id


@pytest.fixture(params=["mqtt", "mqtts"])
def listener(request: pytest.FixtureRequest, broker: EmbeddedBroker, test_ca: TestCA) -> MqttTarget:
    """The broker's plain or TLS listener, as the link reaches it (no account yet)."""
    if request.param == "mqtt":
        return MqttTarget(host=broker.host, port=broker.port)
    assert broker.tls is not None
    return MqttTarget(host=broker.host, port=broker.tls.port, tls=True, ca_file=test_ca.ca_file)


@pytest.fixture
async def run_link(
    broker: EmbeddedBroker, hub_id: str, listener: MqttTarget
) -> AsyncIterator[Callable[..., Awaitable[TabletLink]]]:
    """``await run_link(topics, port=..., ...)``: a TabletLink running (session expiry 0, so a
    reconnect finds no session) until the test ends."""
    tasks: list[asyncio.Task[None]] = []

    async def start(
        topics: list[str],
        *,
        port: int | None = None,
        on_message: Callable[[Publish], None] = lambda _: None,
        backlog: Callable[[], int] = lambda: 0,
        on_state_lost: Callable[[str], None] | None = None,
        wait: bool = True,
    ) -> TabletLink:
        tablet_id = hub_tablet_client_id(hub_id, 0)
        target = listener.model_copy(
            update={
                "port": port or listener.port,
                "username": tablet_id,
                "password": broker.hub_password(),
            }
        )
        link = TabletLink(
            target, tablet_id, on_message, backlog, HubMetrics(), on_state_lost, session_expiry_s=0
        )
        tasks.append(asyncio.create_task(link.run(topics), name="test.link"))
        if wait:
            await asyncio.wait_for(link.connected.wait(), 10)
        return link

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
async def peer(broker: EmbeddedBroker, hub_id: str) -> AsyncIterator[MqttConnection]:
    """Another session (the hub's publish account) to publish to or watch the link."""
    peer_id = hub_publish_client_id(hub_id, 0)
    conn = MqttConnection(
        broker.host,
        broker.port,
        client_id=peer_id,
        username=peer_id,
        password=broker.hub_password(),
        ack_timeout=30,
    )
    await conn.connect()
    yield conn
    await conn.disconnect()


async def test_reading_pauses_while_the_actors_are_behind_and_the_broker_queues(
    run_link: Callable[..., Awaitable[TabletLink]], peer: MqttConnection
) -> None:
    topic = f"tablets/{uuid.uuid4().hex}/heartbeat"
    got: list[Publish] = []
    backlog = [PAUSE_ABOVE + 1]  # the actors' inbox, as the link sees it
    link = await run_link([topic], on_message=got.append, backlog=lambda: backlog[0])
    count, payload = 2000, b"h" * 2048  # ~4 MiB: many socket reads' worth

    await asyncio.gather(*(peer.publish(topic, payload, qos=1) for _ in range(count)))

    # The broker took every publish while the link read one socket buffer and paused.
    await until(lambda: link.pauses == 1)
    stalled = len(got)
    await asyncio.sleep(0.3)
    assert len(got) == stalled < count
    backlog[0] = 0  # caught up: reading resumes within the 50 ms check
    await until(lambda: len(got) == count)
    assert link.pauses == 1
    assert {m.payload for m in got} == {payload}


async def test_a_tablet_added_while_the_session_subscribes_is_subscribed_too(
    run_link: Callable[..., Awaitable[TabletLink]],
    peer: MqttConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A shard told of a new tablet while its session subscribes the owned ones (thousands of
    filters take several SUBSCRIBE packets) must not leave the newcomer's topics out."""
    base = uuid.uuid4().hex
    owned = [f"tablets/{base}-{i}/heartbeat" for i in range(10)]
    newcomer = f"tablets/{base}-new/heartbeat"
    got: list[Publish] = []
    link = await run_link(owned, on_message=got.append, wait=False)  # not running yet
    subscribe = TabletLink._subscribe
    told: list[bool] = []

    async def subscribing(conn: MqttConnection, topics: list[str]) -> None:
        await subscribe(conn, topics)
        if not told:  # the store tells the hub of a new tablet while the session subscribes
            told.append(True)
            assert not link.connected.is_set()
            await link.subscribe_more([newcomer])

    monkeypatch.setattr(link, "_subscribe", subscribing)
    await asyncio.wait_for(link.connected.wait(), 10)
    assert told
    assert link.subscribed == len(owned) + 1
    await peer.publish(newcomer, b"hb", qos=1)
    await until(lambda: [m.topic for m in got] == [newcomer])


async def test_a_lost_session_puts_unacknowledged_publishes_back_and_sends_them_again(
    broker: EmbeddedBroker,
    listener: MqttTarget,
    run_link: Callable[..., Awaitable[TabletLink]],
    peer: MqttConnection,
) -> None:
    proxy = CuttableProxy(broker.host, listener.port)
    await proxy.start()
    lost: list[str] = []
    try:
        link = await run_link([], port=proxy.port, on_state_lost=lost.append)
        assert lost == ["the broker did not keep the hub's session"]  # the first session
        metrics = link._metrics
        base = uuid.uuid4().hex
        manifests = [
            PublishEffect(f"tablets/{base}/m{i}", f"m{i}".encode(), 1, True) for i in range(50)
        ]

        proxy.hold = True  # the broker gets them; its PUBACKs never reach the link
        for manifest in manifests:
            link.publish(manifest)
        await until(lambda: link.backlog() == 0)
        await asyncio.sleep(0.2)
        assert metrics.published == 0

        proxy.hold = False
        proxy.cut()  # session gone with 50 unacknowledged: each goes back to the queue
        await until(lambda: link.sessions == 2 and link.connected.is_set())
        assert metrics.publish_failures == len(manifests)
        # Session expiry 0: the CONNACK says no session (MQTT 5), so the state is lost again.
        assert lost == ["the broker did not keep the hub's session"] * 2
        await until(lambda: metrics.published == len(manifests))
        assert link.backlog() == 0
    finally:
        await proxy.stop()

    # Each manifest is retained at the broker, as sent again.
    seen: list[Publish] = []
    peer.on_message = seen.append
    await peer.subscribe([(f"tablets/{base}/+", 1)])
    await until(lambda: len(seen) == len(manifests))
    assert sorted(m.payload for m in seen) == sorted(m.payload for m in manifests)
    assert all(m.retain for m in seen)


async def test_a_refused_publish_is_counted_not_sent_again(
    run_link: Callable[..., Awaitable[TabletLink]], caplog: pytest.LogCaptureFixture
) -> None:
    link = await run_link([])
    assert link._conn is not None
    assert link._conn.receive_max == 10_000
    metrics = link._metrics
    link.publish(PublishEffect("elsewhere/x", b"no", 1, False))  # outside the hub's ACL
    link.publish(PublishEffect(f"tablets/{uuid.uuid4().hex}/playlist", b"", 1, True))
    await until(lambda: metrics.publish_failures == 1 and metrics.published == 1)
    await asyncio.sleep(0.2)
    assert link.backlog() == 0
    assert metrics.publish_failures == 1
    assert "not_authorized (0x87)" in caplog.text
