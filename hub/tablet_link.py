"""The hub's MQTT session for tablet traffic, on the minimal client (``broker/mqttwire``).

Measured (docs/performance.md): paho + aiomqtt cost about half of the hub's main
thread per received message and publish QoS 1 at ~15,000/s on an idle machine;
this session decodes PUBLISH packets in the protocol callback and pipelines
publishes at ~60,000/s. It speaks MQTT 5 (packets by the ``mqtt5`` codec) and
holds the hub's persistent session (clean start off, session expiry
``session_expiry_s``: QoS 1 messages wait for the hub across restarts) and every
subscription, and publishes the retained playlist manifests. aiomqtt keeps the
fleet-owner side (``fleets/{id}/alerts``).

Flow control both ways: reading pauses when the actors fall behind (the broker
then queues, bounded by its ``max_queued_messages``), and the broker has at most
``RECEIVE_MAX`` deliveries unacknowledged; publishing keeps at most the broker's
receive maximum (its CONNACK) unacknowledged and re-queues what a lost session did
not get acknowledged. A publish the broker refuses (a PUBACK reason code from 0x80,
e.g. not authorized) is counted and logged, not sent again. The outbound queue is
bounded; overflow drops the oldest, counted.

After a reconnect on which the broker lost what it held for the hub — the CONNACK
says the session is not present, or ``$SYS/broker/uptime`` shows the broker was
restarted since the last session (a crash restores only its last autosave) —
``on_state_lost`` tells the hub to publish every manifest again (issue #18, item 4).

Received QoS 1 messages are acknowledged only once handled (issue #18, item 6): each
takes a sequence number, ``on_received`` passes it down the hub's pipeline behind the
message (actors, then the writer), and :meth:`release` sends the PUBACKs up to a
number once everything up to it is committed, in order. A kill before that leaves
the message with the broker, which delivers it again to the persistent session.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Callable, Iterable

from actors.effects import Publish as PublishEffect
from broker.mqttwire.codec import Publish
from broker.mqttwire.connection import MqttConnection, describe_reason
from broker.mqttwire.errors import ConnectionLost, MqttWireError, PublishRefused
from config.retry import reconnecting
from config.settings import MqttTarget
from hub.metrics import HubMetrics
from hub.outqueue import OutQueue

log = logging.getLogger(__name__)

UPTIME_TOPIC = "$SYS/broker/uptime"  # retained by Mosquitto, refreshed every sys_interval
UPTIME_WAIT_S = 5.0
RESTART_MARGIN_S = 2.0
SUBSCRIBE_CHUNK = 500
PAUSE_ABOVE = 50_000  # actor inbox length at which reading pauses
RESUME_BELOW = 10_000
# Deliveries the broker may have awaiting the hub's PUBACK (held until the store commits):
# the broker's max_inflight_messages of MQTT 3.1.1 days (broker/mosquitto.conf).
RECEIVE_MAX = 10_000
OUT_QUEUE_MAX = 500_000
# Far above the contract's 16 KiB: an oversized payload is rejected and counted, not a
# protocol error that would close the hub's session.
MAX_PACKET_BYTES = 16 * 1024 * 1024


class TabletLink:
    def __init__(
        self,
        target: MqttTarget,
        client_id: str,
        on_message: Callable[[Publish], None],
        backlog: Callable[[], int],
        metrics: HubMetrics,
        on_state_lost: Callable[[str], None] | None = None,
        on_received: Callable[[int], None] | None = None,
        *,
        session_expiry_s: int = 7 * 86_400,
    ) -> None:
        self._target = target
        self._session_expiry_s = session_expiry_s
        self._on_received = on_received  # None: acknowledge on receipt
        self._received = 0  # sequence number of the last QoS 1 message received
        self._unacked: deque[tuple[int, MqttConnection, int]] = deque()  # seq, conn, id
        self._on_state_lost = on_state_lost
        self._uptime: asyncio.Future[float] | None = None
        self._client_id = client_id
        self._on_message = on_message
        self._backlog = backlog
        self._metrics = metrics
        self._conn: MqttConnection | None = None
        self._topics: list[str] = []
        self._out = OutQueue(metrics, OUT_QUEUE_MAX)
        self._paused = False
        self._lost_at: float | None = None  # loop time the previous session ended
        self.connected = asyncio.Event()
        self.pauses = 0
        self.sessions = 0  # established: the first, then reconnects
        self.subscribed = 0  # topic filters the current session has subscribed

    # --- outbound --------------------------------------------------------------

    def publish(self, msg: PublishEffect) -> None:
        self._out.put(msg)

    def backlog(self) -> int:
        return len(self._out)

    async def _sender(self, conn: MqttConnection) -> None:
        while not conn.closed_future().done():
            room = conn.receive_max - conn.in_flight
            if self._out and conn.writable and room > 0:
                burst = [self._out.take() for _ in range(min(room, len(self._out)))]
                futures = conn.publish_many(
                    (m.topic, m.payload, m.qos, m.retain, m.expiry_s) for m in burst
                )
                for msg, future in zip(burst, futures, strict=True):
                    if future is None:
                        self._metrics.published += 1
                    else:
                        future.add_done_callback(functools.partial(self._acked, msg))
                await asyncio.sleep(0)  # let the PUBACKs in before the next burst
                continue
            self._out.ready.clear()
            await self._out.ready.wait()

    def _acked(self, msg: PublishEffect, future: asyncio.Future[None]) -> None:
        error = None if future.cancelled() else future.exception()
        if isinstance(error, PublishRefused):
            self._metrics.publish_failures += 1
            log.warning("publish to %s refused: %s", msg.topic, error)  # would be again
            self._out.ready.set()
        elif future.cancelled() or error is not None:
            self._metrics.publish_failures += 1
            self._out.put_back(msg)  # not acknowledged: send it again on the next session
        else:
            self._metrics.published += 1
            self._out.ready.set()  # room for another burst

    # --- session ---------------------------------------------------------------

    async def run(self, topics: Iterable[str]) -> None:
        """Stay connected and subscribed until cancelled, reconnecting with backoff."""
        self._topics = list(topics)
        self._lost_at = None
        await reconnecting(
            self._session, on=(MqttWireError, OSError), wait_initial=0.5, wait_max=10.0
        )

    async def _session(self, up: Callable[[], None]) -> None:
        """One session: connect, subscribe, send and receive until the connection is lost."""
        loop = asyncio.get_running_loop()
        conn = MqttConnection(
            self._target.host,
            self._target.port,
            client_id=self._client_id,
            username=self._target.username,
            password=self._target.password,
            keepalive=30,
            clean_session=False,
            session_expiry_s=self._session_expiry_s,
            receive_max=RECEIVE_MAX,
            manual_ack=self._on_received is not None,
            connect_timeout=30,
            ack_timeout=30,
            max_packet_bytes=MAX_PACKET_BYTES,
            tls=self._target.ssl_context(),
        )
        conn.on_message = functools.partial(self._deliver, conn)
        try:
            await conn.connect()
            if self.sessions:
                self._metrics.reconnects["tablet"] += 1
            self.sessions += 1
            self.subscribed = 0
            # Topics added while these subscribe (subscribe_more with no session yet) are
            # subscribed here too: no await between the last check and ``_conn = conn``.
            while self.subscribed < len(self._topics):
                more = self._topics[self.subscribed :]
                await self._subscribe(conn, more)
                self.subscribed += len(more)
            self._conn = conn
            self.connected.set()
            up()
            log.info(
                "tablet session up on %s:%d (session present: %s, receive maximum %d)",
                self._target.host,
                self._target.port,
                conn.session_present,
                conn.receive_max,
            )
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._sender(conn), name="hub.mqtt.send")
                tg.create_task(self._flow_control(conn), name="hub.mqtt.flow")
                if not conn.session_present:
                    self._state_lost("the broker did not keep the hub's session")
                elif self._lost_at is not None:
                    since = loop.time() - self._lost_at
                    tg.create_task(self._check_restart(conn, since), name="hub.mqtt.uptime")
                await conn.wait_closed()
                self._out.ready.set()
            why = conn.broker_disconnect
            by = f" by the broker: {describe_reason(why)}" if why is not None else ""
            raise ConnectionLost(f"the broker closed the tablet session{by}")
        except* (MqttWireError, OSError) as group:
            log.warning("tablet session lost: %s; reconnecting", group.exceptions[0])
            raise
        finally:
            if self._conn is not None:
                self._lost_at = loop.time()  # loop time the previous session ended
            self._conn = None
            self.subscribed = 0
            self._paused = False
            self.connected.clear()
            conn.abort()

    async def subscribe_more(self, topics: list[str]) -> None:
        self._topics.extend(topics)
        if self._conn is not None:
            conn = self._conn
            await self._subscribe(conn, topics)
            if self._conn is conn:
                self.subscribed += len(topics)

    @staticmethod
    async def _subscribe(conn: MqttConnection, topics: list[str]) -> None:
        for i in range(0, len(topics), SUBSCRIBE_CHUNK):
            await conn.subscribe((t, 1) for t in topics[i : i + SUBSCRIBE_CHUNK])

    def _state_lost(self, reason: str) -> None:
        self._metrics.broker_state_lost += 1
        log.warning("%s: publishing every manifest again", reason)
        if self._on_state_lost is not None:
            self._on_state_lost(reason)

    async def _check_restart(self, conn: MqttConnection, since_lost_s: float) -> None:
        """The session came back; was the broker restarted (retained state from its last
        autosave only) since the previous session ended?"""
        self._uptime = asyncio.get_running_loop().create_future()
        try:
            await conn.subscribe([(UPTIME_TOPIC, 0)])
            uptime = await asyncio.wait_for(self._uptime, UPTIME_WAIT_S)
        except (TimeoutError, MqttWireError):
            if not conn.closed_future().done():  # no uptime to judge by: assume the worst
                self._state_lost("broker uptime unknown after a reconnect")
            return
        finally:
            self._uptime = None
        if uptime <= since_lost_s + RESTART_MARGIN_S:
            self._state_lost(f"the broker restarted ({uptime:.0f} s ago)")

    def release(self, upto: int) -> None:
        """PUBACK every QoS 1 message received up to sequence number ``upto``, in order.

        Those of a session that ended are dropped: the broker delivers them again.
        """
        unacked = self._unacked
        ids: list[int] = []
        conn: MqttConnection | None = None
        while unacked and unacked[0][0] <= upto:
            _, owner, packet_id = unacked.popleft()
            if owner is not conn:
                if conn is not None and ids:
                    conn.ack(ids)
                conn, ids = owner, []
            ids.append(packet_id)
        if conn is not None and ids:
            conn.ack(ids)  # a closed connection writes nothing

    def unacked(self) -> int:
        return len(self._unacked)

    def _deliver(self, conn: MqttConnection, packet: Publish) -> None:
        if packet.topic == UPTIME_TOPIC:
            waiting = self._uptime
            if waiting is not None and not waiting.done():
                with contextlib.suppress(ValueError, IndexError):
                    waiting.set_result(float(packet.payload.split()[0]))
        else:
            self._on_message(packet)
        if packet.qos == 1 and self._on_received is not None:
            assert packet.packet_id is not None
            self._received += 1
            self._unacked.append((self._received, conn, packet.packet_id))
            self._on_received(self._received)
        if self._conn is not None and self._backlog() > PAUSE_ABOVE and not self._paused:
            self._paused = True
            self.pauses += 1
            self._conn.pause_reading()

    async def _flow_control(self, conn: MqttConnection) -> None:
        """Resume reading once the actors have caught up (checked every 50 ms)."""
        while not conn.closed_future().done():
            await asyncio.sleep(0.05)
            if self._paused and self._backlog() < RESUME_BELOW:
                self._paused = False
                conn.resume_reading()
