"""Publishing through the hub's one MQTT client: a bounded queue and a few workers.

QoS 1 publishes wait for the broker's PUBACK, so many run at once (fan-out to
thousands of tablets); a full queue drops the oldest message and counts it.
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
        self.client: aiomqtt.Client | None = None

    def put(self, msg: Publish) -> None:
        self._queue.put(msg)

    def backlog(self) -> int:
        return len(self._queue)

    async def run(self, client: aiomqtt.Client) -> None:
        """Publish until cancelled (the MQTT session ended); unsent messages stay queued."""
        self.client = client
        try:
            async with asyncio.TaskGroup() as tg:
                for n in range(self._workers):
                    tg.create_task(self._worker(client), name=f"hub.publish.{n}")
        finally:
            self.client = None

    async def _worker(self, client: aiomqtt.Client) -> None:
        while True:
            while not self._queue:
                self._queue.ready.clear()
                await self._queue.ready.wait()
            msg = self._queue.take()
            try:
                await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain,
                                     timeout=30)  # fmt: skip
            except aiomqtt.MqttError:
                self._queue.put_back(msg)  # the session is gone: keep it for the next one
                self._metrics.publish_failures += 1
                raise
            self._metrics.published += 1
