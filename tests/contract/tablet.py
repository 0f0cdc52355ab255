"""A tablet written from docs/mqtt-contract.md alone, on paho-mqtt (not the hub's client).

It knows only what the contract says: its client id and user name are its ``tablet_id``,
it reports ``status`` (retained, with a will), publishes heartbeats, acks manifests on
``playlist/ack`` and sends proof-of-play batches on ``plays``, reading ``plays/ack``.
"""

from __future__ import annotations

import asyncio
import json
import queue
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class ContractTablet:
    """One tablet on paho; every message it receives is kept in arrival order."""

    def __init__(
        self,
        tablet_id: str,
        password: str,
        host: str,
        port: int,
        *,
        client_id: str | None = None,
        mqtt5: bool = False,
        clean: bool = True,
    ) -> None:
        self.tablet_id = tablet_id
        self.host, self.port = host, port
        self.mqtt5 = mqtt5
        self.boot_id = uuid.uuid4().hex
        self.seq = 0
        self.inbox: queue.SimpleQueue[mqtt.MQTTMessage] = queue.SimpleQueue()
        self.seen: list[mqtt.MQTTMessage] = []
        self.connack: Any = None
        self.disconnected: Any = None
        protocol = MQTTProtocolVersion.MQTTv5 if mqtt5 else MQTTProtocolVersion.MQTTv311
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=tablet_id if client_id is None else client_id,
            protocol=protocol,
            clean_session=None if mqtt5 else clean,  # MQTT 5: clean_start on connect
        )
        self._clean = clean
        self.client.username_pw_set(tablet_id, password)
        self.client.will_set(self.topic("status"), b'{"state": "offline"}', qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda _c, _u, msg: self.inbox.put(msg)

    def topic(self, kind: str) -> str:
        return f"tablets/{self.tablet_id}/{kind}"

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, rc: Any, _props: Any = None) -> None:
        self.connack = rc

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, rc: Any, _props: Any = None) -> None:
        self.disconnected = rc

    # --- session ---------------------------------------------------------------

    def connect(self, *, subscribe: tuple[str, ...] = ("playlist", "plays/ack")) -> Any:
        """Connect and wait for the CONNACK; return its reason code (0: accepted)."""
        kwargs: dict[str, Any] = {}
        if self.mqtt5:
            kwargs["clean_start"] = self._clean
        self.client.connect(self.host, self.port, keepalive=30, **kwargs)
        self.client.loop_start()
        deadline = time.monotonic() + 10
        while self.connack is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.connack is None:
            raise AssertionError(f"{self.tablet_id}: no CONNACK within 10 s")
        if self.connack != 0:
            self.client.loop_stop()
            return self.connack
        for kind in subscribe:
            self.client.subscribe(self.topic(kind), qos=1)
        return self.connack

    def online(self) -> None:
        self.publish("status", {"state": "online", "ts": now_iso()}, retain=True)

    def publish(
        self, kind: str, payload: dict[str, Any] | bytes, qos: int = 1, retain: bool = False
    ) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(self.topic(kind), body, qos=qos, retain=retain).wait_for_publish(5)

    def heartbeat(self, **fields: Any) -> dict[str, Any]:
        """The contract's heartbeat with the next ``seq`` of this boot; ``fields`` override."""
        body: dict[str, Any] = {
            "v": 1,
            "ts": now_iso(),
            "seq": self.seq,
            "boot_id": self.boot_id,
            "battery": 80,
            "charging": False,
        }
        body.update(fields)
        self.seq += 1
        self.publish("heartbeat", body)
        return body

    def reboot(self) -> None:
        self.boot_id, self.seq = uuid.uuid4().hex, 0

    def drop(self) -> None:
        """Vanish without DISCONNECT (the broker publishes the will)."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    # --- what arrives ----------------------------------------------------------

    async def next(self, kind: str, timeout: float = 10.0) -> mqtt.MQTTMessage:
        """The next message on ``tablets/{id}/{kind}`` (others are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.inbox.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)
                continue
            self.seen.append(msg)
            if msg.topic == self.topic(kind):
                return msg
        raise AssertionError(f"{self.tablet_id}: nothing on {kind} within {timeout} s")

    async def next_any(self, timeout: float = 10.0) -> mqtt.MQTTMessage:
        """The next message on any topic the client subscribed to."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self.inbox.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)
        raise AssertionError(f"{self.tablet_id}: nothing within {timeout} s")

    async def next_json(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        msg = await self.next(kind, timeout)
        body: dict[str, Any] = json.loads(msg.payload)
        return body

    async def manifest(self, timeout: float = 10.0, where: Any = None) -> dict[str, Any]:
        """The next manifest (matching ``where``, a predicate, when given)."""
        deadline = time.monotonic() + timeout
        while True:
            body = await self.next_json("playlist", max(0.05, deadline - time.monotonic()))
            if where is None or where(body):
                return body

    def ack(self, manifest: dict[str, Any], status: str = "applied", detail: Any = None) -> None:
        self.publish("playlist/ack", {"etag": manifest["etag"], "status": status, "detail": detail})

    async def quiet(self, kind: str, seconds: float) -> list[mqtt.MQTTMessage]:
        """Everything on ``kind`` within ``seconds`` (for "nothing more arrives")."""
        got: list[mqtt.MQTTMessage] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                msg = self.inbox.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)
                continue
            self.seen.append(msg)
            if msg.topic == self.topic(kind):
                got.append(msg)
        return got
