"""Alerts to fleet owners (``fleets/{id}/alerts``) through aiomqtt: a bounded queue, a few workers.

Each QoS 1 publish waits for the broker's PUBACK; a message whose session ended is
queued again, and a full queue drops the oldest message and counts it. Playlists to
tablets go out on the tablet session instead (``hub/tablet_link.py``).
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from actors.effects import Publish
from hub.metrics import HubMetrics
from hub.outqueue import OutQueue

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, metrics: HubMetrics, workers: int = 16, bound: int = 100_000) -> None:
        self._metrics = metrics
        self._workers = workers
        self._queue = OutQueue(metrics, bound)

    def put(self, msg: Publish) -> None:
        self._queue.put(msg)

    def backlog(self) -> int:
        return len(self._queue)

    async def run(self, client: aiomqtt.Client) -> None:
        """Publish until the MQTT session ends (``MqttError``) or is cancelled; unsent messages
        stay queued. The session's end is noticed at once, not at the next publish."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._until_disconnected(client), name="hub.publish.watch")
            for n in range(self._workers):
                tg.create_task(self._worker(client), name=f"hub.publish.{n}")

    @staticmethod
    async def _until_disconnected(client: aiomqtt.Client) -> None:
        """Raise ``MqttError`` when the broker drops the session (nothing is subscribed, so
        no message ever arrives: aiomqtt's iterator raises on disconnect)."""
        async for _ in client.messages:
            pass

    async def _worker(self, client: aiomqtt.Client) -> None:
        while True:
            while not self._queue:
                self._queue.ready.clear()
                await self._queue.ready.wait()
            msg = self._queue.take()
            try:
                await client.publish(
                    msg.topic, msg.payload, qos=msg.qos, retain=msg.retain, timeout=30
                )
            except aiomqtt.MqttError:
                self._queue.put_back(msg)  # the session is gone: keep it for the next one
                self._metrics.publish_failures += 1
                raise
            except asyncio.CancelledError:
                self._queue.put_back(msg)  # not known to be acknowledged: at least once
                raise
            self._metrics.published += 1
