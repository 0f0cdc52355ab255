"""The hub: MQTT in, actors in the middle, store and MQTT out.

One owner per resource, opened in order and closed in reverse: the psycopg
pool, the actor pump thread, then the MQTT session (reconnected with jittered
backoff) with its receive loop, the writer, the publishers, the store listener
(``LISTEN``/``NOTIFY`` for registrations and playlist changes), the playlist
reconciler and retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import aiomqtt
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from actors.effects import (
    LEAD_EFFECTS,
    Effect,
    HandlerFailed,
    IncidentEvent,
    LookupTablet,
    Rejected,
)
from actors.effects import Publish as PublishEffect
from actors.messages import DesiredMany, DesiredPlaylist, NotRegistered, Register, Unregister
from actors.rules.incidents import alert_payload
from actors.system.pump import ActorPump
from broker import aio_client
from broker.dynsec_file import hub_publish_client_id, hub_tablet_client_id
from broker.mqttwire.codec import Publish
from broker.mqttwire.errors import MqttWireError
from config.errors import PayloadError
from config.retry import reconnecting
from config.settings import MqttTarget, Settings
from contract.manifest import Manifest
from contract.media import Downloads, library_media
from hub import rollouts
from hub.campaigns import CHANNEL as CAMPAIGNS_CHANNEL
from hub.campaigns import Campaigns
from hub.commands import HubCommands
from hub.inbound import SUBSCRIPTIONS, tablet_topics, translate
from hub.lead_routing import LeadRouting
from hub.log_limit import LogLimiter
from hub.media_links import MediaLinks
from hub.media_retention import collect_media, collect_screenshots
from hub.metrics import HubMetrics
from hub.notify.notifier import Notifier
from hub.play_ingest import PlayIngest, PlaysIn
from hub.prometheus import Gauge, hub_exporter
from hub.publisher import Publisher
from hub.supervise import STORE_ERRORS, retrying, supervised
from hub.tablet_link import TabletLink
from hub.writer import StoreWriter
from store.db import open_pool
from store.hub_metrics import store_counters
from store.leads import ACTIONS_CHANNEL, LEADS_CHANNEL
from store.listen import listen
from store.playlists import empty_manifest, next_expiry, resolve
from store.retention import apply_retention
from store.snapshots import load_snapshots

log = logging.getLogger(__name__)
# Tablets per DesiredMany: half a pump round (actors/system/pump.py MAX_BATCH).
DESIRED_PART = 1000


def owner(tablet_id: str, shard_count: int) -> int:
    """The hub shard of a tablet: crc32, stable across processes (not Python's salted hash)."""
    return zlib.crc32(tablet_id.encode()) % shard_count


def owns(tablet_id: str, shard_index: int, shard_count: int) -> bool:
    return shard_count == 1 or owner(tablet_id, shard_count) == shard_index


@dataclass(frozen=True, slots=True)
class Desired:
    """A tablet's manifest as the hub tells its actor."""

    etag: str
    body: str
    media: tuple[tuple[str, int], ...] = ()  # its library files (SHA-256, bytes)
    playlist_id: str | None = None
    # Fleets with campaigns: the manifest and the tablet's links, for its actor to compose.
    base: Manifest | None = None
    downloads: Downloads | None = None

    def message(self, tablet_id: str, at: datetime, force: bool = False) -> DesiredPlaylist:
        return DesiredPlaylist(
            tablet_id,
            self.etag,
            self.body,
            at,
            force,
            self.media,
            self.playlist_id,
            base=self.base,
            downloads=self.downloads,
        )


def desired_many(
    desired: dict[str, Desired],
    tablet_ids: Iterable[str],
    at: datetime,
    force: bool = False,
    resolved_at: datetime | None = None,
) -> list[DesiredMany]:
    """One message per distinct manifest (``Desired`` shared by its tablets, see
    ``Hub._desired``) and ``DESIRED_PART`` of the tablets it is for: the registry resolves
    each in one step, and the pump returns a round's publishes to the loop after at most
    ``MAX_BATCH`` tablets (actors/system/pump.py), so the first tablets of a push to 19,000
    get their manifest while the registry still works through the rest."""
    groups: dict[int, tuple[Desired, list[str]]] = {}
    for tablet_id in tablet_ids:
        wanted = desired[tablet_id]
        groups.setdefault(id(wanted), (wanted, []))[1].append(tablet_id)
    out = []
    for wanted, ids in groups.values():
        template = replace(wanted.message("", at, force), resolved_at=resolved_at)
        for start in range(0, len(ids), DESIRED_PART):
            out.append(DesiredMany(tuple(ids[start : start + DESIRED_PART]), template))
    return out


class Hub:
    def __init__(self, settings: Settings, database_url: str, mqtt: MqttTarget) -> None:
        self.settings = settings
        self.database_url = database_url
        self.mqtt = mqtt
        self.metrics = HubMetrics()
        self.exporter = hub_exporter(self.metrics, self._gauges(), settings)  # None: off
        self.pool: AsyncConnectionPool = open_pool(database_url)
        self.publisher = Publisher(self.metrics)
        self.writer: StoreWriter | None = None
        self.plays = PlayIngest(self.pool, self.metrics, settings, self._publish_to_tablet)
        self.pump: ActorPump | None = None
        # Leads (issue #5): only shard 0 routes them (one lead router for the whole store).
        self.routes_leads = settings.shard_index == 0
        self.leads = LeadRouting(self.pool, self._to_actors, self.publisher.put)
        # Alert channels (e-mail, webhooks, Telegram): shard 0 sends for the whole store.
        self.notifier = Notifier(self.pool, settings, self.metrics)
        self.owned: set[str] = set()
        self.commands = HubCommands(self.pool, settings, self.metrics, self._to_actors, self.owned)
        self.media_links = MediaLinks(settings)  # library files' download links in manifests
        self._reconcile = asyncio.Event()
        self.campaigns = Campaigns(
            self.pool, settings, self.metrics, self._to_actors, self._reconcile.set
        )
        self.health = settings.health_policy()  # fleets' health policies override it
        # Each session logs in as the account bound to its client id (broker/README.md).
        tablet_id = hub_tablet_client_id(settings.hub_client_id, settings.shard_index)
        self.link = TabletLink(
            mqtt.as_account(tablet_id),
            tablet_id,
            self._on_publish,
            self._inbox_backlog,
            self.metrics,
            self._on_state_lost,
            self._on_received,
            session_expiry_s=settings.hub_session_expiry_s,
        )
        self._republish = asyncio.Event()
        self._received_upto = 0  # the last QoS 1 message received (TabletLink's numbering)
        self._mark_posted = False
        self._publishing = asyncio.Event()
        self._publish_sessions = 0
        self.started = asyncio.Event()
        self._listening = asyncio.Event()
        self._subscribe_more: asyncio.Queue[list[str]] = asyncio.Queue()
        self._lookups: asyncio.Queue[str] = asyncio.Queue()
        self._limited = LogLimiter(log)

    # --- lifecycle -----------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        await self.pool.open(wait=True, timeout=30)
        self.pump = ActorPump(
            loop, self._on_effects, self.settings.watchdog_tick_s, on_mark=self._on_actors_done
        )
        self.writer = StoreWriter(
            self.pool,
            self.metrics,
            self.settings.writer_flush_interval_s,
            self.settings.writer_buffer_max,
            on_commit=self.link.release,
        )
        try:
            self.pump.start()
            async with asyncio.TaskGroup() as tg:
                # Every task is supervised: an error ends one run of it (logged, counted,
                # restarted with backoff), only cancellation ends the hub (hub/supervise.py).
                if self.exporter is not None:
                    self._task(tg, "hub.metrics.http", self.exporter.run)
                self._task(tg, "hub.store.writer", self.writer.run)
                self._task(tg, "hub.store.plays", self.plays.run)
                self._task(tg, "hub.store.leads", self.leads.run)
                if self.routes_leads:  # shard 0
                    self._task(tg, "hub.alerts.notify", self.notifier.run)
                    self._task(tg, "hub.commands.expire", self.commands.expire_loop)
                    self._task(
                        tg, "hub.rollouts.step", lambda: rollouts.step_loop(self.pool, self.metrics)
                    )
                self._task(tg, "hub.store.listen", self._listen_store)
                # Tablets are loaded once LISTEN is active, so no registration is missed,
                # and before MQTT, so their first messages find them.
                await self._listening.wait()
                self._task(tg, "hub.mqtt.tablet-session", self._tablet_loop)
                self._task(tg, "hub.mqtt.publish-session", self._publish_session_loop)
                self._task(tg, "store.playlists.reconcile", self._reconcile_loop)
                self._task(tg, "store.playlists.republish", self._republish_loop)
                self._task(tg, "store.playlists.renew-links", self._renew_loop)
                self._task(tg, "hub.store.lookup", self._lookup_loop)
                self._task(tg, "hub.campaigns.edges", self.campaigns.run)
                if self.settings.shard_index == 0:  # one pacer for the whole store
                    self._task(tg, "hub.campaigns.pacing", self.campaigns.pace_loop)
                self._task(tg, "hub.store.retention", self._retention_loop)
                self._task(tg, "hub.metrics.log", self._log_loop)
                self.started.set()
        finally:
            try:
                await asyncio.shield(self._final_flush())
            finally:
                self.pump.stop()
                await self.pool.close()

    def _task(self, tg: asyncio.TaskGroup, name: str, body: Callable[[], Awaitable[None]]) -> None:
        tg.create_task(supervised(name, self.metrics, body), name=name)

    async def _final_flush(self) -> None:
        """Write what the actors produced before stopping; what cannot be written is counted."""
        assert self.writer is not None
        writer_task = asyncio.create_task(self.writer.run(), name="hub.store.final-flush")
        try:
            await self.writer.flush_now(timeout=10)
        except TimeoutError:
            lost = self.writer.backlog()
            self.metrics.dropped["unwritten_at_shutdown"] += lost
            log.error("stopping with %d rows not written (store unavailable)", lost)
        finally:
            writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer_task

    # --- tablets and playlists -----------------------------------------------

    async def _load_tablets(
        self, tablet_ids: list[str] | None = None, fleet_ids: list[str] | None = None
    ) -> list[str]:
        assert self.pump is not None
        async with self.pool.connection() as conn:
            snapshots = await load_snapshots(conn, tablet_ids, fleet_ids, self.health)
        s = self.settings
        mine = [x for x in snapshots if owns(x.config.tablet_id, s.shard_index, s.shard_count)]
        for snap in mine:
            self.pump.put(Register(snap))
            self.plays.remember(snap.config.tablet_id, snap.config.fleet_id)
            cfg = snap.config
            self.campaigns.remember(cfg.tablet_id, cfg.fleet_id, cfg.hours.timezone)
        new = [x.config.tablet_id for x in mine if x.config.tablet_id not in self.owned]
        self.owned.update(new)
        if new and s.shard_count > 1:
            self._subscribe_more.put_nowait(new)
        log.info("registered %d tablets (%d new)", len(mine), len(new))
        return [x.config.tablet_id for x in mine]

    async def reconcile(self, tablet_ids: list[str] | None = None) -> int:
        """Tell each tablet actor its desired manifest; actors publish what changed."""
        assert self.pump is not None
        now = datetime.now(UTC)
        desired = await self._desired(tablet_ids, now)
        for message in desired_many(desired, desired, now):
            self.pump.put(message)
        return len(desired)

    async def _desired(self, tablet_ids: list[str] | None, now: datetime) -> dict[str, Desired]:
        """Each owned tablet's current manifest (etag, JSON, library files), from the store: a
        tablet with no assignment (never assigned, or all expired) gets the empty one,
        ``pl-none``.

        A manifest without library files is encoded once for all its tablets; one with
        them once per tablet, with that tablet's download links (hub/media_links.py)."""
        if tablet_ids is None and self.settings.shard_count > 1:
            tablet_ids = sorted(self.owned)  # a shard resolves only its own tablets
        async with self.pool.connection() as conn:
            manifests = await resolve(
                conn, self.settings.playlist_refresh_interval_s, tablet_ids, now
            )
            distinct = {id(m): m for m in manifests.values()}
            with_media = {k for k, m in distinct.items() if library_media(m)}
            wanted = self.owned if tablet_ids is None else self.owned.intersection(tablet_ids)
            composing = self.campaigns.tablets(wanted)  # their actors add campaigns
            links = None
            if with_media or composing:
                media_tablets = [t for t, m in manifests.items() if id(m) in with_media]
                media_manifests = [distinct[k] for k in with_media]
                links = await self.media_links.prepare(
                    conn,
                    media_manifests,
                    sorted({*media_tablets, *composing}),
                    now,
                    self.campaigns.files() if composing else (),
                )
        empty = empty_manifest(self.settings.playlist_refresh_interval_s)
        desired: dict[str, Desired] = {}
        shared: dict[int, Desired] = {}  # one etag and JSON per distinct manifest
        for tablet_id in wanted:
            manifest = manifests.get(tablet_id, empty)
            key = id(manifest)
            if key in with_media and links is not None:
                body, media = self.media_links.encode(tablet_id, manifest, links)
                desired[tablet_id] = Desired(manifest.etag, body, media, manifest.playlist_id)
            else:
                desired[tablet_id] = shared.get(key) or shared.setdefault(
                    key, Desired(manifest.etag, manifest.to_json())
                )
            if tablet_id in composing and links is not None:
                downloads = self.media_links.downloads(tablet_id, links)
                desired[tablet_id] = replace(desired[tablet_id], base=manifest, downloads=downloads)
        return desired

    def _on_state_lost(self, reason: str) -> None:
        self._republish.set()

    async def _republish_loop(self) -> None:
        """The broker lost its retained manifests (or may have): every owned tablet's goes
        out again, ``manifest_republish_per_s`` at a time, so a large fleet is no burst."""
        name = "store.playlists.republish"
        while True:
            await self._republish.wait()
            self._republish.clear()
            resolved_at = datetime.now(UTC)
            resolve_all = functools.partial(self._desired, None, resolved_at)
            desired = await retrying(name, self.metrics, resolve_all)
            await self._paced(
                desired, sorted(desired), "republishing", self._republish, resolved_at
            )

    async def _renew_loop(self) -> None:
        """Download links expire (hub/media_links.py): at half their lifetime every manifest
        holding library files goes out again with fresh ones, paced as a republish is."""
        name = "store.playlists.renew-links"
        while True:
            await asyncio.sleep(self.media_links.renew_every_s)
            resolved_at = datetime.now(UTC)
            resolve_all = functools.partial(self._desired, None, resolved_at)
            desired = await retrying(name, self.metrics, resolve_all)
            ids = sorted(t for t, d in desired.items() if d.media or d.downloads)
            await self._paced(desired, ids, "renewing the download links of", None, resolved_at)

    async def _paced(
        self,
        desired: dict[str, Desired],
        ids: list[str],
        what: str,
        restart: asyncio.Event | None,
        resolved_at: datetime,
    ) -> None:
        """Publish these tablets' manifests again, ``manifest_republish_per_s`` at a time;
        stop early when ``restart`` is set (the caller starts over from fresh state). Each
        carries ``resolved_at``: a push that reaches a tablet meanwhile is newer, and wins."""
        assert self.pump is not None
        step = max(1, self.settings.manifest_republish_per_s // 10)
        log.info("%s %d manifests, %d/s", what, len(ids), step * 10)
        for start in range(0, len(ids), step):
            if restart is not None and restart.is_set():
                break
            now = datetime.now(UTC)
            for message in desired_many(
                desired, ids[start : start + step], now, force=True, resolved_at=resolved_at
            ):
                self.pump.put(message)
            self.metrics.manifests_republished += len(ids[start : start + step])
            await asyncio.sleep(0.1)

    async def _reconcile_loop(self) -> None:
        self._reconcile.set()
        name = "store.playlists.reconcile"
        while True:
            wake_at = await retrying(name, self.metrics, self._next_expiry)
            timeout = 3600.0
            if wake_at is not None:
                timeout = max(0.05, (wake_at - datetime.now(UTC)).total_seconds() + 0.05)
            with contextlib.suppress(TimeoutError):  # not wait_for: 3.11's may eat a cancel
                async with asyncio.timeout(timeout):
                    await self._reconcile.wait()
            self._reconcile.clear()
            started = time.monotonic()
            sent = await retrying(name, self.metrics, self.reconcile)
            took = time.monotonic() - started
            log.info("playlists reconciled for %d tablets in %.2f s", sent, took)

    async def _next_expiry(self) -> datetime | None:
        async with self.pool.connection(timeout=10) as conn:
            return await next_expiry(conn)

    async def _lookup_loop(self) -> None:
        """Answer the registry about tablets it does not know, in batches."""
        assert self.pump is not None
        while True:
            ids = {await self._lookups.get()}
            while not self._lookups.empty():
                ids.add(self._lookups.get_nowait())
            # Retried with the same ids until the store answers: held messages wait on them.
            load = functools.partial(self._load_tablets, tablet_ids=sorted(ids))
            found = set(await retrying("hub.store.lookup", self.metrics, load))
            for tablet_id in ids - found:
                self.pump.put(NotRegistered(tablet_id))
            if found:
                again = functools.partial(self.reconcile, sorted(found))
                await retrying("hub.store.lookup", self.metrics, again)

    async def _listen_store(self) -> None:
        """Registrations and playlist changes arrive as ``NOTIFY`` from CLI or panel."""
        channels = [
            "fleethub_tablets",
            "fleethub_playlists",
            "fleethub_commands",
            CAMPAIGNS_CHANNEL,
        ]
        if self.routes_leads:
            channels += [LEADS_CHANNEL, ACTIONS_CHANNEL, "fleethub_alerts"]
        # STORE_ERRORS: also a pool timeout while handling a NOTIFY.
        await listen(
            self.database_url,
            channels,
            self._on_notify,
            name="hub.store.listen",
            on_connected=self._on_listening,
            on_lost=self._on_listen_lost,
            on=STORE_ERRORS,
        )

    async def _on_listening(self) -> None:
        await self._load_tablets()  # everything, including what changed unheard
        await self.campaigns.load()  # before the manifests: their actors compose with it
        if self.routes_leads:  # every lead still to route, offers to re-arm
            log.info("routing %d open leads", await self.leads.route(None))
        if self._listening.is_set():
            self._reconcile.set()
        log.info("handing %d queued commands to the tablets", await self.commands.load())
        self._listening.set()

    def _on_listen_lost(self, exc: BaseException) -> None:
        self.metrics.loop_errors["hub.store.listen"] += 1

    async def _on_notify(self, channel: str, payload: str) -> None:
        if channel == "fleethub_alerts":
            self.notifier.wake()
            return
        if channel == "fleethub_commands":
            await self.commands.on_notify(payload)
            return
        if self.routes_leads and await self.leads.on_notify(channel, payload):
            return
        if channel == "fleethub_playlists":
            self._reconcile.set()
            return
        if channel == CAMPAIGNS_CHANNEL:  # the book is reloaded; maybe the manifests too
            self.campaigns.on_notify(payload)
            return
        kind, _, ident = payload.partition(":")
        if kind == "tablet":
            ids = await self._load_tablets(tablet_ids=[ident])
            if ident not in ids and ident in self.owned:  # revoked: forget its actor
                assert self.pump is not None
                self.owned.discard(ident)
                self.pump.put(Unregister(ident))
        elif kind == "fleet":
            ids = await self._load_tablets(fleet_ids=[ident])
        else:
            return
        if ids:
            await self.reconcile(ids)

    # --- MQTT ----------------------------------------------------------------

    async def _publish_session_loop(self) -> None:
        """The fleet-owner session (aiomqtt): alerts, reconnected with backoff."""
        await reconnecting(
            self._publish_session, on=(aiomqtt.MqttError,), wait_initial=0.5, wait_max=10.0
        )

    async def _publish_session(self, up: Callable[[], None]) -> None:
        s = self.settings
        client = aio_client.Client(
            self.mqtt.host,
            self.mqtt.port,
            username=hub_publish_client_id(s.hub_client_id, s.shard_index),
            password=self.mqtt.password,
            identifier=hub_publish_client_id(s.hub_client_id, s.shard_index),
            clean_session=True,  # publishes only; unsent ones stay queued here
            keepalive=30,
            max_inflight_messages=1000,
            timeout=30,
            tls_context=self.mqtt.ssl_context(),
        )
        try:
            async with client:
                up()
                if self._publish_sessions:
                    self.metrics.reconnects["publish"] += 1
                self._publish_sessions += 1
                # aiomqtt logs a warning per publish above this; fan-out to thousands
                # of tablets is meant to have that many in flight.
                client.pending_calls_threshold = 1_000_000
                self._publishing.set()
                await self.publisher.run(client)
        except* aiomqtt.MqttError as group:
            self._publishing.clear()
            log.warning("mqtt publish session ended: %s; reconnecting", group.exceptions[0])
            raise
        finally:
            _consume_disconnect(client)

    async def _tablet_loop(self) -> None:
        s = self.settings
        if s.shard_count == 1:
            topics = list(SUBSCRIPTIONS)
        else:
            topics = [t for tablet_id in sorted(self.owned) for t in tablet_topics(tablet_id)]
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.link.run(topics), name="hub.mqtt.tablets")
            while True:
                ids = await self._subscribe_more.get()
                try:
                    await self.link.subscribe_more([t for i in ids for t in tablet_topics(i)])
                except MqttWireError as exc:  # the topics are kept: the next session has them
                    self.metrics.loop_errors["hub.mqtt.tablet-session"] += 1
                    log.warning("subscribing %d new tablets failed: %s", len(ids), exc)

    async def ready(self) -> None:
        """Until the store listener, the tablet session and the alert session are up."""
        await self.started.wait()
        await self._publishing.wait()
        await self.link.connected.wait()

    # A QoS 1 message is acknowledged to the broker only after its effects are committed:
    # received (a sequence number) -> through the actors -> committed -> PUBACK, in order.

    def _on_received(self, seq: int) -> None:
        # One mark per read of the socket, not per message: posted once the read's callback
        # is done, so it follows everything _on_publish queued for the messages up to seq.
        self._received_upto = seq
        if not self._mark_posted:
            self._mark_posted = True
            asyncio.get_running_loop().call_soon(self._post_mark)

    def _post_mark(self) -> None:
        assert self.pump is not None
        self._mark_posted = False
        self.pump.mark(self._received_upto)

    def _on_actors_done(self, seq: int) -> None:
        assert self.writer is not None
        self.writer.mark(seq)  # behind the effects _on_effects just added

    def _inbox_backlog(self) -> int:
        return self.pump.backlog() if self.pump is not None else 0

    def _on_publish(self, packet: Publish) -> None:
        """Runs in the tablet session's protocol callback: validate, then queue for the actors.

        Whatever goes wrong costs only this message (counted in ``handler_errors``, logged
        rate-limited with its topic), never the session or the hub."""
        assert self.pump is not None
        self.metrics.received += 1
        try:
            _, item = translate(
                packet.topic,
                packet.payload,
                packet.retain,
                datetime.now(UTC),
                self.settings.max_payload_bytes,
            )
            if isinstance(item, PlaysIn):
                self.plays.put(item)
            else:
                self.pump.put(item)
        except PayloadError as exc:
            self.metrics.reject(exc.category)
            self._log_limited(
                exc.category, "rejected %s on %s: %s", exc.category, packet.topic, exc.reason
            )
        except Exception:
            self.metrics.handler_errors += 1
            self._limited.log(
                logging.ERROR,
                "handler.publish",
                "handling a message on %s failed; dropped",
                packet.topic,
                exc_info=True,
            )

    def _to_actors(self, item: object) -> None:
        assert self.pump is not None
        self.pump.put(item)

    def _publish_to_tablet(self, msg: PublishEffect) -> None:
        self.link.publish(msg)

    # --- effects ---------------------------------------------------------------

    def _on_effects(self, effects: list[Effect]) -> None:
        """Runs on the event loop: route the actors' effects to the writer and publisher."""
        assert self.writer is not None
        store: list[Effect] = []
        for effect in effects:
            if isinstance(effect, PublishEffect):
                self.link.publish(effect)  # playlists: tablet traffic
            elif isinstance(effect, LEAD_EFFECTS):
                self.leads.perform(effect)
            elif isinstance(effect, LookupTablet):
                self._lookups.put_nowait(effect.tablet_id)
            elif isinstance(effect, HandlerFailed):
                self.metrics.handler_errors += 1
                self._limited.log(
                    logging.ERROR,
                    f"handler.{effect.actor}",
                    "%s actor failed on %s for %s (state rolled back): %s",
                    effect.actor,
                    effect.message,
                    effect.key,
                    effect.error,
                )
            elif isinstance(effect, Rejected):
                category = "unknown_tablet" if effect.reason == "unknown tablet" else "handler"
                self.metrics.reject(category)
                self._log_limited(
                    category, "rejected message of tablet %s: %s", effect.tablet_id, effect.reason
                )
            else:
                if isinstance(effect, IncidentEvent):
                    topic = f"fleets/{effect.fleet_id}/alerts"
                    self.publisher.put(PublishEffect(topic, alert_payload(effect), 1, False))
                store.append(effect)
        if store:
            self.writer.add(store)

    def _log_limited(self, key: str, fmt: str, *args: object) -> None:
        self._limited.log(logging.WARNING, key, fmt, *args)

    # --- housekeeping ----------------------------------------------------------

    async def _store_metrics(self, shard: str, started_at: datetime) -> None:
        counters = {
            **self.metrics.as_dict(),
            "inbox": self._inbox_backlog(),
            "publish_backlog": self.link.backlog() + self.publisher.backlog(),
            "plays_backlog": self.plays.backlog(),
        }
        try:
            async with self.pool.connection(timeout=5) as conn:
                await store_counters(conn, shard, started_at, counters)
        except (psycopg.Error, PoolTimeout) as exc:
            log.warning("hub metrics not stored: %s", exc)

    def _gauges(self) -> list[Gauge]:
        """Current depths, read when Prometheus scrapes (hub/prometheus.py)."""
        return [
            Gauge("inbox_backlog", "messages waiting for the actors", self._inbox_backlog),
            Gauge(
                "store_backlog",
                "rows buffered for the store writer",
                lambda: self.writer.backlog() if self.writer is not None else 0,
            ),
            Gauge(
                "publish_backlog",
                "messages waiting to be published",
                lambda: self.link.backlog() + self.publisher.backlog(),
            ),
            Gauge(
                "plays_backlog",
                "proof-of-play batches waiting for the store",
                lambda: self.plays.backlog(),
            ),
            Gauge(
                "tablets_owned",
                "registered tablets this hub process routes",
                lambda: len(self.owned),
            ),
            Gauge(
                "topics_subscribed",
                "topic filters the tablet MQTT session has subscribed (per tablet with shards)",
                lambda: self.link.subscribed,
            ),
            Gauge(
                "tablet_session_up",
                "1 while the tablet MQTT session is connected",
                lambda: float(self.link.connected.is_set()),
            ),
            Gauge(
                "publish_session_up",
                "1 while the alert MQTT session is connected",
                lambda: float(self._publishing.is_set()),
            ),
        ]

    async def _retention_loop(self) -> None:
        while True:
            try:
                async with self.pool.connection() as conn:
                    await apply_retention(conn, self.settings)
                if self.settings.shard_index == 0:  # one collector for the whole store
                    await collect_media(self.pool, self.settings)
                    await collect_screenshots(self.pool, self.settings)
            except STORE_ERRORS as exc:
                self.metrics.loop_errors["hub.store.retention"] += 1
                log.warning("retention skipped: %s", exc)
            await asyncio.sleep(3600)

    async def _log_loop(self) -> None:
        assert self.pump is not None
        assert self.writer is not None
        started_at = datetime.now(UTC)
        s = self.settings
        shard = f"{s.shard_index}/{s.shard_count} {s.hub_client_id}"
        while True:
            await asyncio.sleep(self.settings.metrics_interval_s)
            await self._store_metrics(shard, started_at)
            m = self.metrics
            log.info(
                "received=%d committed_heartbeats=%d published=%d rejected=%d dropped=%d "
                "inbox=%d store_backlog=%d publish_backlog=%d",
                m.received,
                m.heartbeats_committed,
                m.published,
                sum(m.rejected.values()),
                sum(m.dropped.values()),
                self.pump.backlog(),
                self.writer.backlog(),
                self.link.backlog() + self.publisher.backlog(),
            )


def _consume_disconnect(client: aiomqtt.Client) -> None:
    """Read the error of a lost aiomqtt session: its ``__aexit__`` (2.5) leaves it unread, and
    asyncio then logs "Future exception was never retrieved" (a broker crash did it)."""
    disconnected = client._disconnected  # no public accessor
    if disconnected.done() and not disconnected.cancelled():
        disconnected.exception()
