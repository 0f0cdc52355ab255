"""A paho client that records what it receives, for tests that watch simulated tablets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass(frozen=True)
class SimBroker:
    host: str
    port: int
    pid: int


@dataclass(frozen=True)
class Seen:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Observer:
    """A paho client in its own thread that records what it receives for async tests."""

    def __init__(self, broker: SimBroker, topics: list[str]) -> None:
        self.seen: list[Seen] = []
        self._loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        self._subscribed: asyncio.Future[None] = self._loop.create_future()
        self._topics = topics
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"observer-{id(self)}")
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._broker = broker

    async def start(self) -> None:
        self._client.connect(self._broker.host, self._broker.port, keepalive=30)
        self._client.loop_start()
        async with asyncio.timeout(5):
            await self._subscribed

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain)

    def on(self, topic: str) -> list[Seen]:
        return [message for message in self.seen if message.topic == topic]

    async def wait_for(self, done: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``done()`` holds, re-checking whenever a message arrives."""
        async with asyncio.timeout(timeout):
            while not done():
                self._arrived.clear()
                await self._arrived.wait()

    # paho callbacks, on paho's thread

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(topic, 1) for topic in self._topics])

    def _on_subscribe(self, *_: Any) -> None:
        self._loop.call_soon_threadsafe(self._subscribed.set_result, None)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        seen = Seen(msg.topic, bytes(msg.payload), bool(msg.retain))
        self._loop.call_soon_threadsafe(self._record, seen)

    def _record(self, seen: Seen) -> None:
        self.seen.append(seen)
        self._arrived.set()


Observe = Callable[[list[str]], Awaitable[Observer]]
