"""Test tablets: real paho-mqtt clients speaking the MQTT contract."""

from __future__ import annotations

import asyncio
import json
import queue
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from psycopg.conninfo import make_conninfo

from broker import dynsec, dynsec_file
from broker.runner import EmbeddedBroker
from store import db

T = TypeVar("T")
Conn = psycopg.AsyncConnection[tuple[object, ...]]


def blocking(work: Coroutine[Any, Any, T]) -> T:
    """Run the product's async code from a sync helper: here when no event loop runs, else in
    a thread of its own (holding up the caller meanwhile, as the sync code it replaced did)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(work)
    with ThreadPoolExecutor(1, thread_name_prefix="tests.blocking") as pool:
        return pool.submit(asyncio.run, work).result()


Where = str | psycopg.Connection[Any]  # a database URL, or a test's own sync connection


def _url(where: Where) -> str:
    if isinstance(where, str):
        return where
    password = where.info.password
    return make_conninfo(where.info.dsn, **({"password": password} if password else {}))


async def on_store(where: Where, work: Callable[[Conn], Awaitable[T]]) -> T:
    """``work`` (the product's async store functions) on a connection of its own to the
    database of ``where``; its changes are committed when it returns."""
    async with db.connect(_url(where)) as conn:
        return await work(conn)


def store(where: Where, work: Callable[[Conn], Awaitable[T]]) -> T:
    """:func:`on_store` for sync tests and helpers."""
    return blocking(on_store(where, work))


def hub_role_account(broker: EmbeddedBroker, client_id: str | None = None) -> tuple[str, str]:
    """An account with the hub's role, bound to ``client_id`` (a fresh one by default), and
    its password: to watch or publish as the hub would without taking a hub's session."""
    client_id = client_id or f"watch-{uuid.uuid4().hex[:8]}"
    blocking(
        dynsec.put_service(
            broker.provision_target(), [client_id], broker.hub_password(), dynsec_file.HUB_ROLE
        )
    )
    return client_id, broker.hub_password()


@dataclass
class TestFleet:
    __test__ = False
    fleet_id: str
    tablet_ids: list[str]
    passwords: dict[str, str]
    host: str
    port: int

    def tablet(self, n: int = 0, **kwargs: Any) -> PahoTablet:
        tablet_id = self.tablet_ids[n]
        return PahoTablet(tablet_id, self.passwords[tablet_id], self.host, self.port, **kwargs)


class PahoTablet:
    """One tablet: connects with its will, reports online, heartbeats, acks playlists."""

    def __init__(
        self,
        tablet_id: str,
        password: str,
        host: str,
        port: int,
        auto_ack: bool = True,
        username: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.tablet_id = tablet_id
        self.host, self.port = host, port
        self.auto_ack = auto_ack
        self.seq = 0
        self.boot_id = uuid.uuid4().hex
        self.applied_etag: str | None = None
        self.received: queue.SimpleQueue[mqtt.MQTTMessage] = queue.SimpleQueue()
        self.play_acks: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._acks_subscribed = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=tablet_id, clean_session=True
        )
        self.client.username_pw_set(username or tablet_id, password)
        if tls is not None:
            self.client.tls_set_context(tls)
        self.client.will_set(self.topic("status"), b'{"state":"offline"}', qos=1, retain=True)
        self.client.on_message = self._on_message
        self.connect_rc: Any = None
        self.client.on_connect = self._on_connect
        self._connected = False

    def topic(self, kind: str) -> str:
        return f"tablets/{self.tablet_id}/{kind}"

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        self.connect_rc = rc

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topic("plays/ack"):
            self.play_acks.put(json.loads(msg.payload))
            return
        self.received.put(msg)
        if self.auto_ack and msg.topic == self.topic("playlist") and msg.payload:
            manifest = json.loads(msg.payload)
            self.applied_etag = manifest["etag"]
            # Not self.publish: waiting for the PUBACK here, on paho's network thread, would
            # hold the very thread that sends the ack and reads its PUBACK (5 s, then on).
            ack = {"etag": manifest["etag"], "status": "applied", "detail": None}
            self.client.publish(self.topic("playlist/ack"), json.dumps(ack).encode(), qos=1)

    def connect(self, subscribe: bool = True, online: bool = True) -> PahoTablet:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        deadline = time.monotonic() + 10
        while self.connect_rc is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.connect_rc is None or self.connect_rc != 0:
            self.client.loop_stop()
            raise ConnectionError(f"{self.tablet_id}: connect refused ({self.connect_rc})")
        self._connected = True
        if subscribe:
            self.client.subscribe(self.topic("playlist"), qos=1)
        if online:
            self.publish("status", {"state": "online", "ts": _now()}, qos=1, retain=True)
        return self

    def publish(
        self, kind: str, payload: dict[str, Any] | bytes, qos: int = 1, retain: bool = False
    ) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.client.publish(self.topic(kind), body, qos=qos, retain=retain).wait_for_publish(5)

    def heartbeat(self, **fields: Any) -> None:
        payload: dict[str, Any] = {
            "v": 1,
            "ts": _now(),
            "seq": self.seq,
            "boot_id": self.boot_id,
            "playlist_etag": self.applied_etag,
            "now_playing": None,
            "battery": 80,
            "charging": False,
            "disk_free_mb": 1000,
            "app_version": "1.0.0",
            "lat": 1.3,
            "lon": 103.8,
        }
        payload.update(fields)
        self.seq += 1
        self.publish("heartbeat", payload, qos=1)

    def plays(self, events: list[dict[str, Any]] | bytes, batch_id: str | None = None) -> None:
        """Publish a proof-of-play batch (QoS 1); its ack arrives on ``play_acks``."""
        if not self._acks_subscribed:  # the broker handles it before the publish below
            self.client.subscribe(self.topic("plays/ack"), qos=1)
            self._acks_subscribed = True
        if isinstance(events, bytes):
            self.publish("plays", events, qos=1)
            return
        body: dict[str, Any] = {"events": events}
        if batch_id is not None:
            body["batch_id"] = batch_id
        self.publish("plays", body, qos=1)

    async def play_ack(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next ``plays/ack`` the hub sent this tablet."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return self.play_acks.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.02)
        raise AssertionError(f"{self.tablet_id}: no plays/ack within {timeout} s")

    def drop(self) -> None:
        """Vanish without DISCONNECT: the broker publishes the will."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()
        self._connected = False

    def close(self) -> None:
        if self._connected:
            self.client.disconnect()
            self.client.loop_stop()
            self._connected = False

    async def messages(self, timeout: float = 5.0, settle: float = 0.3) -> list[mqtt.MQTTMessage]:
        """What arrives within ``timeout``; returns ``settle`` s after the first message."""
        out: list[mqtt.MQTTMessage] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                out.append(self.received.get_nowait())
                deadline = min(deadline, time.monotonic() + settle)
            except queue.Empty:
                await asyncio.sleep(0.02)
        return out


def state_of(conn: Any, tablet_id: str) -> str | None:
    """The tablet's stored state (``None`` before the hub wrote any)."""
    row = conn.execute(
        "SELECT state FROM tablet_state WHERE tablet_id = %s", (tablet_id,)
    ).fetchone()
    return str(row[0]) if row else None


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def eventually(
    probe: Callable[[], Awaitable[T] | T], timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Poll until ``probe`` returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        value = probe()
        result: T = await value if asyncio.iscoroutine(value) else value  # type: ignore[assignment]
        if result:
            return result
        last = result
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")
