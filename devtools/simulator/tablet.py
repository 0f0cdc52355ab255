"""`SimTablet`: one simulated in-car tablet speaking the MQTT contract v1.

A session: connect with the offline will, publish the retained online
status, subscribe to the playlist and commands topics, then heartbeat on a loop
timer, acknowledge every manifest and run every command (devtools/simulator/commands.py).
A tablet can drop off abruptly (the broker then publishes the will) and come back, as the
same boot or as a new one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from broker.mqttwire.codec import Publish, QoS, Will
from broker.mqttwire.connection import TIMER_CONTEXT, MqttConnection
from devtools.simulator import payloads
from devtools.simulator.addresses import loopback_host
from devtools.simulator.commands import TabletCommands, commands_topic
from devtools.simulator.content import TabletContent
from devtools.simulator.errors import Backpressure, SimulatorError
from devtools.simulator.payloads import Manifest, ManifestRejected, NowPlaying
from devtools.simulator.routes import Route, route_for
from devtools.simulator.stats import FleetStats

log = logging.getLogger(__name__)

PlaylistHook = Callable[[str, Manifest, float], None]
"""``on_playlist(tablet_id, manifest, received_monotonic)``, called before the ack is sent."""


@dataclass(frozen=True, slots=True)
class TabletConfig:
    """Behaviour shared by every tablet of a fleet."""

    heartbeat_interval_s: float | None = 30.0  # None: only explicit sends (SimFleet.blast)
    heartbeat_qos: int = 0
    ack_failure_rate: float = 0.0  # fraction of valid manifests answered "failed"
    keepalive_s: int = 60
    clean_session: bool = True
    connect_timeout_s: float = 10.0
    ack_timeout_s: float = 10.0
    app_version: str = "sim-1.0.0"
    home: tuple[float, float] = (52.520, 13.405)  # where the cars drive around
    # Cars drive these loops instead (one each, by tablet id), at speed_mps (routes.py).
    routes: tuple[Route, ...] = ()
    speed_mps: float = 12.0

    def __post_init__(self) -> None:
        if self.heartbeat_qos not in (0, 1):
            raise ValueError("heartbeat_qos must be 0 or 1")
        if self.heartbeat_interval_s is not None and self.heartbeat_interval_s <= 0:
            raise ValueError("heartbeat_interval_s must be positive")
        if not 0.0 <= self.ack_failure_rate <= 1.0:
            raise ValueError("ack_failure_rate must be within 0..1")


class SimTablet:
    """One tablet; its state outlives its connections so seq and etag survive a drop."""

    __slots__ = (
        "_app_version",
        "_battery",
        "_boot_id",
        "_charging",
        "_commands",
        "_config",
        "_conn",
        "_content",
        "_disk_free_mb",
        "_etag",
        "_heartbeat_timer",
        "_host",
        "_lat",
        "_lon",
        "_moved_at",
        "_odometer",
        "_online",
        "_password",
        "_port",
        "_rng",
        "_rotation",
        "_route",
        "_seq",
        "_stats",
        "on_lost",
        "on_playlist",
        "reconnect_attempts",
        "source_ip",
        "tablet_id",
    )

    def __init__(
        self,
        tablet_id: str,
        password: str | None,
        *,
        host: str,
        port: int,
        source_ip: str | None = None,
        config: TabletConfig | None = None,
        stats: FleetStats | None = None,
        rng: random.Random | None = None,
        on_playlist: PlaylistHook | None = None,
        on_lost: Callable[[SimTablet], None] | None = None,
        content: TabletContent | None = None,
    ) -> None:
        self.tablet_id = tablet_id
        # Downloads, plays the loop, proof of play (None: acks manifests at once, plays nothing).
        self._content = content
        if content is not None:
            content.position = lambda: (self._lat, self._lon)
        # Load tests stay on this machine: only loopback brokers and source addresses.
        self.source_ip = loopback_host(source_ip) if source_ip is not None else None
        self.on_playlist = on_playlist
        self.on_lost = on_lost  # called when an online session ends without being asked to
        self.reconnect_attempts = 0
        self._password = password
        self._host = loopback_host(host)
        self._port = port
        self._config = config or TabletConfig()
        self._stats = stats or FleetStats()
        self._rng = rng or random.Random()  # noqa: S311 - simulation, not security
        self._conn: MqttConnection | None = None
        self._online = False
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self._boot_id: str | None = None
        self._seq = 0
        self._etag: str | None = None
        self._rotation: tuple[NowPlaying, ...] = ()
        self._battery = self._rng.uniform(30.0, 100.0)
        self._charging = self._rng.random() < 0.3
        self._disk_free_mb = self._rng.randint(2_000, 30_000)
        self._lat, self._lon = self._config.home
        self._route = route_for(tablet_id, self._config.routes) if self._config.routes else None
        self._odometer = 0.0
        self._moved_at = time.monotonic()
        if self._route is not None:  # somewhere along its loop, the same spot on every run
            start = random.Random(tablet_id)  # noqa: S311 - simulation, not security
            self._odometer = start.uniform(0.0, self._route.length_m)
            self._lat, self._lon = self._route.at(self._odometer)
        self._app_version = self._config.app_version
        self._commands = TabletCommands(tablet_id, self.publish, self._new_boot, self._playing)

    # -- state ----------------------------------------------------------------

    @property
    def online(self) -> bool:
        """Connected, status published and playlist subscribed."""
        return self._online

    @property
    def in_flight(self) -> int:
        """QoS 1 publishes still awaiting their PUBACK."""
        return self._conn.in_flight if self._conn is not None else 0

    @property
    def position(self) -> tuple[float, float]:
        """(lat, lon) as the last heartbeat sent it."""
        return self._lat, self._lon

    @property
    def boot_id(self) -> str | None:
        return self._boot_id

    @property
    def seq(self) -> int:
        """The seq the next heartbeat will carry."""
        return self._seq

    @property
    def playlist_etag(self) -> str | None:
        return self._etag

    @property
    def content(self) -> TabletContent | None:
        return self._content

    @property
    def commands(self) -> TabletCommands:
        return self._commands

    @property
    def app_version(self) -> str:
        return self._app_version

    def set_disk_free_mb(self, mb: int) -> None:
        """What the next heartbeats report as free storage (the demo's low storage)."""
        self._disk_free_mb = mb

    def _new_boot(self, version: str | None) -> None:
        """A reboot, an app restart or an update: the next heartbeat is a new boot's."""
        self._boot_id = uuid.uuid4().hex
        self._seq = 0
        if version:
            self._app_version = version

    def _playing(self) -> str | None:
        if self._content is not None and self._content.now_playing is not None:
            return self._content.now_playing[0]
        return self._rotation[self._seq % len(self._rotation)][0] if self._rotation else None

    # -- lifecycle ------------------------------------------------------------

    async def start(self, *, reboot: bool = True) -> None:
        """Open a session. ``reboot`` starts a new boot (new ``boot_id``, seq from 0)."""
        if self._conn is not None:
            raise SimulatorError(f"tablet {self.tablet_id} is already connected")
        if reboot or self._boot_id is None:
            self._boot_id = uuid.uuid4().hex
            self._seq = 0
        config = self._config
        status = payloads.status_topic(self.tablet_id)
        conn = MqttConnection(
            self._host,
            self._port,
            client_id=self.tablet_id,
            username=self.tablet_id,
            password=self._password,
            keepalive=config.keepalive_s,
            clean_session=config.clean_session,
            will=Will(status, payload=payloads.OFFLINE_STATUS, qos=QoS.AT_LEAST_ONCE, retain=True),
            source_ip=self.source_ip,
            on_message=self._on_message,
            on_close=self._on_close,
            connect_timeout=config.connect_timeout_s,
            ack_timeout=config.ack_timeout_s,
        )
        self._conn = conn
        try:
            await conn.connect()
            await conn.publish(status, payloads.online_status(), qos=1, retain=True)
            topics = [
                (payloads.playlist_topic(self.tablet_id), 1),
                (commands_topic(self.tablet_id), 1),
            ]
            if self._content is not None:
                topics.append((payloads.plays_ack_topic(self.tablet_id), 1))
            await conn.subscribe(topics)
        except BaseException:
            self._conn = None
            conn.abort()
            raise
        self._online = True
        self._stats.connected += 1
        self._stats.connects += 1
        self.reconnect_attempts = 0
        if self._content is not None:
            self._content.on_connected(self.publish)
        if config.heartbeat_interval_s is not None:
            loop = asyncio.get_running_loop()
            first = self._rng.uniform(0.0, config.heartbeat_interval_s)
            self._heartbeat_timer = loop.call_later(
                first, self._heartbeat_due, context=TIMER_CONTEXT
            )

    def drop(self) -> None:
        """Lose the connection abruptly (no DISCONNECT): the broker publishes the will."""
        conn = self._end_session()
        if conn is not None:
            conn.abort()

    def stop_nowait(self) -> MqttConnection | None:
        """Go offline politely: retained offline status, DISCONNECT, close after flush.

        Returns the closing connection, to ``await conn.wait_closed()``.
        """
        conn = self._end_session()
        if conn is None:
            return None
        if conn.connected:
            status = payloads.status_topic(self.tablet_id)
            try:
                done = conn.publish_nowait(status, payloads.OFFLINE_STATUS, qos=1, retain=True)
            except Backpressure:
                conn.abort()  # no room for the offline status: let the broker send the will
                return conn
            # Written ahead of DISCONNECT on the same stream, so the broker applies it;
            # its PUBACK is not waited for.
            assert done is not None
            done.add_done_callback(_ignore_outcome)
        conn.disconnect_nowait()
        return conn

    async def stop(self) -> None:
        """:meth:`stop_nowait`, then wait (at most ``ack_timeout_s``) for the socket to close."""
        conn = self.stop_nowait()
        if conn is not None:
            await conn.disconnect()

    def _end_session(self) -> MqttConnection | None:
        conn, self._conn = self._conn, None
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        if self._online:
            self._online = False
            self._stats.connected -= 1
        if self._content is not None:
            self._content.on_disconnected()
        return conn

    def _on_close(self, conn: MqttConnection, exc: BaseException | None) -> None:
        if conn is not self._conn:
            return  # a session this tablet ended itself, or one that never came up
        was_online = self._online
        self._end_session()
        if was_online:
            self._stats.connections_lost += 1
            log.debug("tablet %s lost its connection: %s", self.tablet_id, exc)
            if self.on_lost is not None:
                self.on_lost(self)

    # -- heartbeats -----------------------------------------------------------

    def send_heartbeat(self) -> int | None:
        """Publish one heartbeat now; its seq, or ``None`` if the tablet could not send."""
        conn = self._conn
        if conn is None or not self._online or not conn.writable:
            self._stats.publish_failures += 1
            return None
        seq = self._seq
        self._drift()
        assert self._boot_id is not None
        playing = self._rotation[seq % len(self._rotation)] if self._rotation else None
        if self._content is not None:
            playing = self._content.now_playing
        payload = payloads.heartbeat(
            seq=seq,
            boot_id=self._boot_id,
            playlist_etag=self._etag,
            now_playing=playing,
            battery=round(self._battery),
            charging=self._charging,
            disk_free_mb=self._disk_free_mb,
            app_version=self._app_version,
            lat=self._lat,
            lon=self._lon,
        )
        topic = payloads.heartbeat_topic(self.tablet_id)
        try:
            done = conn.publish_nowait(topic, payload, qos=self._config.heartbeat_qos)
        except Backpressure:
            self._stats.publish_failures += 1
            return None
        self._seq = seq + 1
        if done is not None:
            done.add_done_callback(self._stats.record_outcome)
        self._stats.heartbeats_sent += 1
        return seq

    def _heartbeat_due(self) -> None:
        interval = self._config.heartbeat_interval_s
        timer = self._heartbeat_timer
        if timer is None or interval is None:
            return
        self.send_heartbeat()
        if self._heartbeat_timer is timer:  # still the same session
            loop = asyncio.get_running_loop()
            self._heartbeat_timer = loop.call_at(
                timer.when() + interval, self._heartbeat_due, context=TIMER_CONTEXT
            )

    def _drift(self) -> None:
        rng = self._rng
        if self._charging:
            self._battery = min(100.0, self._battery + rng.uniform(0.0, 1.5))
            self._charging = self._battery < 95.0
        else:
            self._battery = max(0.0, self._battery - rng.uniform(0.0, 0.8))
            self._charging = self._battery < 20.0
        self._disk_free_mb = max(0, self._disk_free_mb - rng.randint(0, 2))
        if self._route is not None:  # along the route, as far as the time since the last fix
            now = time.monotonic()
            self._odometer += self._config.speed_mps * (now - self._moved_at)
            self._moved_at = now
            self._lat, self._lon = self._route.at(self._odometer)
            return
        home_lat, home_lon = self._config.home
        self._lat += rng.uniform(-0.002, 0.002) + (home_lat - self._lat) * 0.01
        self._lon += rng.uniform(-0.002, 0.002) + (home_lon - self._lon) * 0.01

    # -- playlists ------------------------------------------------------------

    def publish(self, topic: str, payload: bytes) -> bool:
        """Publish at QoS 1 now; False when the tablet cannot send (offline, backpressure)."""
        conn = self._conn
        if conn is None or not self._online or not conn.writable:
            self._stats.publish_failures += 1
            return False
        try:
            done = conn.publish_nowait(topic, payload, qos=1)
        except Backpressure:
            self._stats.publish_failures += 1
            return False
        assert done is not None
        done.add_done_callback(self._stats.record_outcome)
        return True

    def _on_message(self, message: Publish) -> None:
        received = time.monotonic()
        if self._content is not None and message.topic == payloads.plays_ack_topic(self.tablet_id):
            self._content.on_plays_ack(message.payload)
            return
        if message.topic == commands_topic(self.tablet_id):
            self._commands.on_message(message.payload)
            return
        if message.topic != payloads.playlist_topic(self.tablet_id) or not message.payload:
            return  # an empty retained payload only clears the topic
        # Thousands of tablets share this event loop, where real ones work in parallel:
        # read every socket first, validate and acknowledge after, so a tablet's arrival
        # time does not include the other tablets' work.
        asyncio.get_running_loop().call_soon(self._apply, message, received)

    def _apply(self, message: Publish, received: float) -> None:
        self._stats.playlists_received += 1
        try:
            manifest = payloads.read_manifest(message.payload)
        except ManifestRejected as exc:
            self._stats.playlists_invalid += 1
            log.warning(
                "tablet %s rejected the manifest on %s: %s",
                self.tablet_id,
                message.topic,
                exc.reason,
            )
            if exc.etag is not None:
                self._ack(exc.etag, "failed", exc.reason)
            return
        if self.on_playlist is not None:
            try:
                self.on_playlist(self.tablet_id, manifest, received)
            except Exception:
                log.exception("on_playlist hook failed for %s", self.tablet_id)
        if self._rng.random() < self._config.ack_failure_rate:
            self._ack(manifest.etag, "failed", "simulated failure")
            return
        if self._content is not None:
            ready = functools.partial(self._ready, manifest)
            if self._content.apply(manifest, ready):
                return  # acknowledged once its files are downloaded and verified
        self._ready(manifest, manifest.etag, "applied", None)

    def _ready(
        self, manifest: Manifest, etag: str, status: payloads.AckStatus, detail: str | None
    ) -> None:
        self._etag = manifest.etag
        self._rotation = manifest.rotation()
        self._ack(etag, status, detail)

    def _ack(self, etag: str, status: payloads.AckStatus, detail: str | None) -> None:
        conn = self._conn
        if conn is None or not conn.connected:
            self._stats.publish_failures += 1
            return
        topic = payloads.ack_topic(self.tablet_id)
        try:
            done = conn.publish_nowait(topic, payloads.playlist_ack(etag, status, detail), qos=1)
        except Backpressure:
            self._stats.publish_failures += 1
            return
        assert done is not None
        done.add_done_callback(self._stats.record_outcome)
        self._stats.acks_sent += 1


def _ignore_outcome(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # mark it retrieved: nobody waits for this PUBACK
