"""A simulated tablet's content: its media cache, downloads, the loop it plays, and proof
of play (docs/mqtt-contract.md, "Media" and "Proof of play").

On a manifest with library files the tablet downloads what it does not hold (one file at
a time, resumed with ``Range`` after an interruption, retried with backoff, verified
against its SHA-256), reports its cache on ``tablets/{id}/media/status`` as it goes (at
most once a second, and every ``report_every_s``), and acknowledges the manifest
``applied`` once it holds every file; then it plays the loop on the items' durations.
Each finished play becomes an event; every ``batch_every_s`` the events go out as one
``tablets/{id}/plays`` batch, kept until its ``plays/ack`` arrives and sent again after
``resend_after_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from broker.mqttwire.connection import TIMER_CONTEXT
from devtools.simulator import payloads
from devtools.simulator.downloads import DownloadFailed, MediaClient, Partial
from devtools.simulator.payloads import Manifest, ManifestItem, NowPlaying
from devtools.simulator.stats import FleetStats

log = logging.getLogger(__name__)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
Publish = Callable[[str, bytes], bool]  # QoS 1; False when it could not be sent now
Ack = Callable[[str, payloads.AckStatus, str | None], None]
MAX_BATCH = 200


@dataclass(frozen=True, slots=True)
class ContentConfig:
    """How simulated tablets treat their content (shared by a fleet)."""

    play: bool = True  # play the loop and send proof of play
    report_every_s: float = 30.0
    batch_every_s: float = 10.0
    resend_after_s: float = 30.0
    retry_backoff_s: tuple[float, float] = (1.0, 30.0)
    speed: float = 1.0  # >1 plays faster than real time (tests)


class TabletContent:
    """The content side of one :class:`~devtools.simulator.tablet.SimTablet`."""

    def __init__(
        self,
        tablet_id: str,
        config: ContentConfig,
        client: MediaClient,
        spawn: Spawn,
        stats: FleetStats,
        rng: random.Random,
    ) -> None:
        self.tablet_id = tablet_id
        self.config = config
        self.client = client
        self.spawn = spawn
        self.stats = stats
        self.rng = rng
        self.publish: Publish | None = None  # set by the tablet while it is connected
        self.cached: set[str] = set()
        self.partial: dict[str, Partial] = {}
        self.failed: dict[str, tuple[int, str]] = {}  # sha -> (attempts, last error)
        self.wanted: Manifest | None = None  # the newest manifest, being made ready
        self.playing: Manifest | None = None
        self.now_playing: NowPlaying | None = None
        self.position: Callable[[], tuple[float, float]] = lambda: (0.0, 0.0)
        self.interrupt_after: int | None = None  # break each first attempt after N bytes (tests)
        self._ack: Ack | None = None
        self._fetching = False
        self._cursor = 0
        self._play_timer: asyncio.TimerHandle | None = None
        self._batch_timer: asyncio.TimerHandle | None = None
        self._report_timer: asyncio.TimerHandle | None = None
        self._last_report = 0.0
        self._events: list[dict[str, object]] = []
        self._unacked: dict[str, tuple[bytes, float]] = {}  # batch id -> (payload, sent at)

    # -- the tablet's side ------------------------------------------------------

    def on_connected(self, publish: Publish) -> None:
        self.publish = publish
        self._report()
        self._arm_timers()

    def on_disconnected(self) -> None:
        self.publish = None

    def stop(self) -> None:
        for timer in (self._play_timer, self._batch_timer, self._report_timer):
            if timer is not None:
                timer.cancel()
        self._play_timer = self._batch_timer = self._report_timer = None

    def apply(self, manifest: Manifest, ack: Ack) -> bool:
        """Make ``manifest`` ready; False when it needs no download (the caller acks it)."""
        self.wanted = manifest
        self._ack = ack
        if all(item.sha256 in self.cached for item in manifest.downloads()):
            self.play(manifest)
            self._report()
            return False
        if not self._fetching:
            self._fetching = True
            self.spawn(self._fetch_wanted(), f"sim.media.{self.tablet_id}")
        self._report()
        return True

    def play(self, manifest: Manifest) -> None:
        """Play this manifest's loop from its first item."""
        if self.playing is not None and self.playing.etag == manifest.etag:
            return
        self.playing = manifest
        self._cursor = 0
        if self.config.play and self._play_timer is None:
            self._next_play()

    def on_plays_ack(self, raw: bytes) -> None:
        try:
            ack = json.loads(raw)
        except ValueError:
            return
        batch_id = ack.get("batch_id") if isinstance(ack, dict) else None
        if isinstance(batch_id, str) and self._unacked.pop(batch_id, None) is not None:
            self.stats.play_batches_acked += 1

    # -- downloads --------------------------------------------------------------

    async def _fetch_wanted(self) -> None:
        """Fetch the newest manifest's missing files, one at a time, until all are held."""
        try:
            while True:
                manifest = self.wanted
                if manifest is None:
                    return
                missing = [i for i in manifest.downloads() if i.sha256 not in self.cached]
                if not missing:
                    self._ready(manifest)
                    return
                await self._fetch(missing[0])
        finally:
            self._fetching = False

    async def _fetch(self, item: ManifestItem) -> None:
        sha, url = item.sha256, item.download_url
        assert url is not None
        partial = self.partial.setdefault(sha, Partial(total=item.bytes or 0))
        stop_after = self.interrupt_after if sha not in self.failed else None
        try:
            resumed = await self.client.fetch(url, sha, partial, self._progress, stop_after)
        except DownloadFailed as exc:
            attempts = self.failed.get(sha, (0, ""))[0] + 1
            self.failed[sha] = (attempts, exc.reason)
            self.stats.downloads_failed += 1
            if not exc.resumable:
                self.partial.pop(sha, None)
            self._report(force=True)
            low, high = self.config.retry_backoff_s
            await asyncio.sleep(
                min(high, low * 2 ** min(attempts - 1, 10)) * self.rng.uniform(0.5, 1)
            )
            return
        self.partial.pop(sha, None)
        self.failed.pop(sha, None)
        self.cached.add(sha)
        self.stats.downloads_verified += 1
        self.stats.downloads_resumed += resumed
        self.stats.bytes_downloaded += partial.done
        self._report(force=True)

    def _progress(self, partial: Partial) -> None:
        self._report()

    def _ready(self, manifest: Manifest) -> None:
        if self.wanted is not manifest:
            return
        self.play(manifest)
        if self._ack is not None:
            self._ack(manifest.etag, "applied", None)

    # -- reports ----------------------------------------------------------------

    def _report(self, force: bool = False) -> None:
        loop = asyncio.get_running_loop()
        if not force and loop.time() - self._last_report < 1.0:
            return
        if self.publish is None:
            return
        wanted = {i.sha256 for i in self.wanted.downloads()} if self.wanted else set()
        downloading = [
            (sha, p.done, max(p.total, p.done))
            for sha, p in self.partial.items()
            if sha in wanted and sha not in self.failed
        ]
        failed = [(sha, n, error[:256]) for sha, (n, error) in self.failed.items() if sha in wanted]
        body = payloads.media_status(sorted(self.cached)[:1000], downloading[:100], failed[:100])
        if self.publish(payloads.media_status_topic(self.tablet_id), body):
            self._last_report = loop.time()
            self.stats.media_reports_sent += 1

    # -- playing and proof of play ----------------------------------------------

    def _arm_timers(self) -> None:
        loop = asyncio.get_running_loop()
        if self._batch_timer is None and self.config.play:
            self._batch_timer = loop.call_later(
                self.config.batch_every_s, self._batch_due, context=TIMER_CONTEXT
            )
        if self._report_timer is None:
            self._report_timer = loop.call_later(
                self.config.report_every_s, self._report_due, context=TIMER_CONTEXT
            )

    def _report_due(self) -> None:
        self._report_timer = None
        self._report(force=True)
        self._arm_timers()

    def _next_play(self) -> None:
        self._play_timer = None
        manifest = self.playing
        if manifest is None or not manifest.items:
            self.now_playing = None
            return
        items = manifest.ordered()
        item = items[self._cursor % len(items)]
        self._cursor += 1
        self.now_playing = (item.ad_id, item.campaign_id)
        started = datetime.now(UTC)
        seconds = item.duration_ms / 1000 / self.config.speed
        self._play_timer = asyncio.get_running_loop().call_later(
            seconds, self._played, manifest, item, started, context=TIMER_CONTEXT
        )

    def _played(self, manifest: Manifest, item: ManifestItem, started: datetime) -> None:
        lat, lon = self.position()
        self._events.append(
            {
                "event_id": str(uuid.uuid4()),
                "ad_id": item.ad_id,
                "campaign_id": item.campaign_id,
                "playlist_id": manifest.playlist_id,
                "playlist_etag": manifest.etag,
                "started_at": started.isoformat(timespec="milliseconds"),
                "duration_ms": item.duration_ms,
                "result": "completed",
                "lat": round(lat, 6),
                "lon": round(lon, 6),
            }
        )
        self.stats.plays += 1
        self._next_play()

    def _batch_due(self) -> None:
        self._batch_timer = None
        self.flush_plays()
        self._arm_timers()

    def flush_plays(self) -> None:
        """Send the finished plays as a batch, and again what waits too long for its ack."""
        loop = asyncio.get_running_loop()
        if self.publish is None:
            return
        now = loop.time()
        for batch_id, (body, sent) in list(self._unacked.items()):
            if now - sent >= self.config.resend_after_s and self.publish(
                payloads.plays_topic(self.tablet_id), body
            ):
                self._unacked[batch_id] = (body, now)
        while self._events:
            events, self._events = self._events[:MAX_BATCH], self._events[MAX_BATCH:]
            batch_id = f"b-{uuid.uuid4().hex[:16]}"
            body = payloads.plays_batch(batch_id, events)
            if not self.publish(payloads.plays_topic(self.tablet_id), body):
                self._events = events + self._events
                return
            self._unacked[batch_id] = (body, now)
            self.stats.play_batches_sent += 1
