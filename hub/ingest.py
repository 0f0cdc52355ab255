"""The hub's receive path: one persistent MQTT session on the minimal client.

Measured (docs/performance.md): paho + aiomqtt spend about half of the hub's
main thread on each received message; this session decodes PUBLISH packets in
the protocol callback and hands them straight to the hub. aiomqtt keeps the
outbound side (playlists, alerts). When the actors fall behind, reading pauses
and the broker queues for us (``max_queued_messages``): bounded, nothing dropped.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable

from config.settings import MqttTarget
from hub.mqttwire.codec import Publish
from hub.mqttwire.connection import MqttConnection
from hub.mqttwire.errors import MqttWireError

log = logging.getLogger(__name__)

SUBSCRIBE_CHUNK = 500
PAUSE_ABOVE = 50_000  # actor inbox length at which reading pauses
RESUME_BELOW = 10_000
# Far above the contract's 16 KiB: an oversized payload is rejected and counted, not a
# protocol error that would close the hub's session.
MAX_PACKET_BYTES = 16 * 1024 * 1024


class IngestSession:
    def __init__(
        self,
        target: MqttTarget,
        client_id: str,
        on_message: Callable[[Publish], None],
        backlog: Callable[[], int],
    ) -> None:
        self._target = target
        self._client_id = client_id
        self._on_message = on_message
        self._backlog = backlog
        self._conn: MqttConnection | None = None
        self._topics: list[str] = []
        self.connected = asyncio.Event()
        self.pauses = 0
        self._paused = False

    async def run(self, topics: Iterable[str]) -> None:
        """Stay connected and subscribed until cancelled, reconnecting with backoff."""
        self._topics = list(topics)
        backoff = 0.5
        while True:
            conn = MqttConnection(
                self._target.host,
                self._target.port,
                client_id=self._client_id,
                username=self._target.username,
                password=self._target.password,
                keepalive=30,
                clean_session=False,  # QoS 1 messages wait for us across restarts
                on_message=self._deliver,
                connect_timeout=30,
                ack_timeout=30,
                max_packet_bytes=MAX_PACKET_BYTES,
            )
            try:
                await conn.connect()
                await self._subscribe(conn, self._topics)
                self._conn = conn
                self.connected.set()
                backoff = 0.5
                log.info("ingest session up on %s:%d", self._target.host, self._target.port)
                await asyncio.gather(conn.wait_closed(), self._flow_control(conn))
            except (MqttWireError, OSError) as exc:
                log.warning("ingest session lost: %s; reconnecting", exc)
            finally:
                self._conn = None
                self._paused = False
                self.connected.clear()
                conn.abort()
            await asyncio.sleep(backoff * (0.5 + random.random()))  # noqa: S311
            backoff = min(backoff * 2, 10.0)

    async def subscribe_more(self, topics: list[str]) -> None:
        self._topics.extend(topics)
        if self._conn is not None:
            await self._subscribe(self._conn, topics)

    @staticmethod
    async def _subscribe(conn: MqttConnection, topics: list[str]) -> None:
        for i in range(0, len(topics), SUBSCRIBE_CHUNK):
            await conn.subscribe((t, 1) for t in topics[i : i + SUBSCRIBE_CHUNK])

    def _deliver(self, packet: Publish) -> None:
        self._on_message(packet)
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
