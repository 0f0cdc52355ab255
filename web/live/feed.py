"""The panel's change feed: one reader per web process, many SSE subscribers.

One connection (:func:`store.listen.listen`, reconnected with backoff) ``LISTEN``s for
the hub's ``fleethub_state`` (transitions) and ``fleethub_alerts`` (incidents), and for
``fleethub_tablets`` (a tablet registered, moved or revoked, a fleet renamed); one loop
reads the tablets whose state row changed since its watermark, every ``interval_s`` or at
once when woken (by a notification, or by the listener after each (re)connect), and the
tablets and fleets ``fleethub_tablets`` named. Each subscriber gets only what its user
may see, through a bounded queue: a subscriber that falls behind is marked overflowed
and told to resync rather than silently losing changes. A tablet that leaves a
subscriber's view (revoked, moved to a fleet it does not see) is sent as gone.

The feed also knows every registered tablet's fleet and state, so that a live grid's
header counts the whole fleet (:meth:`ChangeFeed.counts`) whatever the page filters.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from config.retry import until_done
from store import db, fleets
from store.listen import listen
from store.tiles import Tile
from store.users import User
from web.grid.tiles import STATES, changed_since, named, states
from web.scope import sees_fleet

log = logging.getLogger(__name__)

# Rows committed late can carry an updated_at older than the newest one seen:
# re-read this far back and skip the tiles whose updated_at was already sent.
OVERLAP = timedelta(seconds=5)
# A read the store refused is retried with jittered backoff, capped low: the grid catches
# up at most this long after the store is back.
READ_RETRY_MAX_S = 2.0


@dataclass(frozen=True, slots=True)
class TilesChanged:
    tiles: tuple[Tile, ...]
    gone: tuple[str, ...] = ()  # tablets that left the subscriber's view


Known = tuple[str, str, str]  # a tablet's (tenant, fleet, state)


@dataclass(frozen=True, slots=True)
class AlertRaised:
    alert: dict[str, Any]


Event = TilesChanged | AlertRaised
E = TypeVar("E")


@dataclass(eq=False)
class Subscription(Generic[E]):
    """One SSE stream's bounded queue; a full queue marks it overflowed (it must resync)."""

    user: User
    queue: asyncio.Queue[E]
    overflowed: bool = False

    def offer(self, event: E) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


class Subscribers(Generic[E]):
    """The subscriptions of one feed (this one and :class:`web.agents.inbox_feed.LeadFeed`)."""

    def __init__(self, maxsize: int) -> None:
        self._maxsize = maxsize
        self._subscriptions: set[Subscription[E]] = set()
        self.overflows = 0  # subscriptions that ended overflowed

    @contextlib.contextmanager
    def subscribe(self, user: User) -> Iterator[Subscription[E]]:
        sub = Subscription[E](user, asyncio.Queue(maxsize=self._maxsize))
        self._subscriptions.add(sub)
        try:
            yield sub
        finally:
            self._subscriptions.discard(sub)
            if sub.overflowed:
                self.overflows += 1

    def __iter__(self) -> Iterator[Subscription[E]]:
        """A snapshot: subscriptions may come and go while it is walked."""
        return iter(list(self._subscriptions))

    def __bool__(self) -> bool:
        return bool(self._subscriptions)

    def __len__(self) -> int:
        return len(self._subscriptions)


class ChangeFeed:
    def __init__(self, pool: AsyncConnectionPool, database_url: str, interval_s: float = 0.5):
        self._pool, self._url, self.interval_s = pool, database_url, interval_s
        self._subscribers = Subscribers[Event](maxsize=256)
        self._wake = asyncio.Event()
        self._sent: dict[str, datetime] = {}
        self._fleet_tenants: dict[str, str] = {}
        self._known: dict[str, Known] = {}
        self._counts: dict[str, dict[str, int]] = {}  # per fleet: tablets per state
        self._named: tuple[set[str], set[str]] = (set(), set())  # tablets, fleets to re-read
        self._reload = True  # (re)read every tablet's state: at start, after a reconnect
        self.loaded = False

    def counts(self, user: User, fleet: str | None = None) -> dict[str, int] | None:
        """Tablets per state in the user's scope (and ``fleet``); None before the first read."""
        if not self.loaded:
            return None
        total = dict.fromkeys(STATES, 0)
        for fleet_id, per_state in self._counts.items():
            if fleet is not None and fleet_id != fleet:
                continue
            if sees_fleet(user, self._fleet_tenants.get(fleet_id, ""), fleet_id):
                for state, n in per_state.items():
                    total[state] = total.get(state, 0) + n
        return total

    def _set(self, tablet_id: str, known: Known | None) -> Known | None:
        """Record a tablet's tenant, fleet and state (None: gone); the one it had."""
        old = self._known.pop(tablet_id, None)
        if old is not None:
            self._counts[old[1]][old[2]] -= 1
        if known is not None:
            self._known[tablet_id] = known
            self._fleet_tenants[known[1]] = known[0]
            per_state = self._counts.setdefault(known[1], dict.fromkeys(STATES, 0))
            per_state[known[2]] = per_state.get(known[2], 0) + 1
        return old

    async def _load(self) -> None:
        found = await states(self._pool)
        self._known.clear()
        self._counts.clear()
        for tablet_id, tenant, fleet_id, state in found:
            self._set(tablet_id, (tenant, fleet_id, state))
        self.loaded = True

    @property
    def overflows(self) -> int:
        return self._subscribers.overflows

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, user: User) -> contextlib.AbstractContextManager[Subscription[Event]]:
        return self._subscribers.subscribe(user)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._listen(), name="web.live.feed.listen")
            tg.create_task(self._poll(), name="web.live.feed.poll")

    async def _poll(self) -> None:
        async with self._pool.connection() as conn:
            watermark = await db.server_now(conn)
        while True:
            with contextlib.suppress(TimeoutError):  # not wait_for: 3.11's may eat a cancel
                async with asyncio.timeout(self.interval_s):
                    await self._wake.wait()
            self._wake.clear()
            since = watermark - OVERLAP
            if self._reload:
                self._reload = False
                await until_done(
                    self._load, on=(psycopg.Error,), wait_initial=0.5, wait_max=READ_RETRY_MAX_S
                )
            tablets, fleet_ids = self._named
            self._named = (set(), set())
            tiles, renamed = await until_done(
                functools.partial(self._changed, since, sorted(tablets), sorted(fleet_ids)),
                on=(psycopg.Error,),
                wait_initial=0.5,
                wait_max=READ_RETRY_MAX_S,
            )
            fresh = [
                t for t in tiles if t.updated_at and self._sent.get(t.tablet_id) != t.updated_at
            ]
            for t in fresh:
                assert t.updated_at is not None
                self._sent[t.tablet_id] = t.updated_at
                watermark = max(watermark, t.updated_at)
            seen = {t.tablet_id for t in renamed}
            changed = {t.tablet_id: t for t in (*fresh, *renamed)}
            gone = [tid for tid in tablets if tid not in seen and tid in self._known]
            if changed or gone:
                self._dispatch(list(changed.values()), gone)

    async def _changed(
        self, since: datetime, tablets: list[str], fleet_ids: list[str]
    ) -> tuple[list[Tile], list[Tile]]:
        """The tiles whose state changed since ``since``, and those of the tablets and
        fleets a ``fleethub_tablets`` notification named."""
        try:
            renamed = await named(self._pool, tablets, fleet_ids) if tablets or fleet_ids else []
            return await changed_since(self._pool, since), renamed
        except psycopg.Error as exc:
            log.warning("change feed: store unavailable (%s); retrying", exc)
            raise

    def _dispatch(self, tiles: list[Tile], gone: list[str]) -> None:
        before: dict[str, Known | None] = {}
        for t in tiles:
            before[t.tablet_id] = self._set(t.tablet_id, (t.tenant_id, t.fleet_id, t.state))
        for tablet_id in gone:
            before[tablet_id] = self._set(tablet_id, None)
        for sub in self._subscribers:
            mine = tuple(t for t in tiles if sees_fleet(sub.user, t.tenant_id, t.fleet_id))
            mine_ids = {t.tablet_id for t in mine}
            left = tuple(
                tablet_id
                for tablet_id, old in before.items()
                if old is not None
                and tablet_id not in mine_ids
                and sees_fleet(sub.user, old[0], old[1])
            )
            if mine or left:
                sub.offer(TilesChanged(mine, left))

    async def _listen(self) -> None:
        await listen(
            self._url,
            ["fleethub_state", "fleethub_alerts", "fleethub_tablets"],
            self._on_notify,
            name="web.live.feed.listen",
            on_connected=self._on_listening,
        )

    async def _on_listening(self) -> None:
        self._reload = True  # a registration or revocation may have gone unheard meanwhile
        self._wake.set()  # read at once: a transition may have gone unheard meanwhile

    async def _on_notify(self, channel: str, payload: str) -> None:
        if channel == "fleethub_state":
            self._wake.set()
        elif channel == "fleethub_tablets":
            kind, _, ident = payload.partition(":")
            if kind in ("tablet", "fleet") and ident:
                self._named[0 if kind == "tablet" else 1].add(ident[:128])
                self._wake.set()
        else:
            await self._alert(payload)

    async def _alert(self, payload: str) -> None:
        alert = json.loads(payload)
        fleet_id = str(alert.get("fleet_id"))
        tenant = self._fleet_tenants.get(fleet_id)
        if tenant is None:
            async with self._pool.connection() as conn:
                found = await fleets.tenant_of(conn, fleet_id)
            if found is None:
                return
            tenant = self._fleet_tenants[fleet_id] = found
        self._wake.set()  # the tile's incident badge changed too
        for sub in self._subscribers:
            if sees_fleet(sub.user, tenant, fleet_id):
                sub.offer(AlertRaised(alert))
