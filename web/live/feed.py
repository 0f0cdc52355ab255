"""The panel's change feed: one reader per web process, many SSE subscribers.

One connection (:func:`store.listen.listen`, reconnected with backoff) ``LISTEN``s for
the hub's ``fleethub_state`` (transitions) and ``fleethub_alerts`` (incidents); one loop
reads the tablets whose state row changed since its watermark, every ``interval_s`` or at
once when woken (by a notification, or by the listener after each (re)connect). Each
subscriber gets only what its user may see, through a bounded queue: a
subscriber that falls behind is marked overflowed and told to resync rather
than silently losing changes.
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
from web.grid.tiles import changed_since
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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            since = watermark - OVERLAP
            tiles = await until_done(
                functools.partial(self._changed, since),
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
            if fresh:
                self._dispatch(fresh)

    async def _changed(self, since: datetime) -> list[Tile]:
        try:
            return await changed_since(self._pool, since)
        except psycopg.Error as exc:
            log.warning("change feed: store unavailable (%s); retrying", exc)
            raise

    def _dispatch(self, tiles: list[Tile]) -> None:
        for sub in self._subscribers:
            mine = tuple(t for t in tiles if sees_fleet(sub.user, t.tenant_id, t.fleet_id))
            if mine:
                sub.offer(TilesChanged(mine))

    async def _listen(self) -> None:
        await listen(
            self._url,
            ["fleethub_state", "fleethub_alerts"],
            self._on_notify,
            name="web.live.feed.listen",
            on_connected=self._on_listening,
        )

    async def _on_listening(self) -> None:
        self._wake.set()  # read at once: a transition may have gone unheard meanwhile

    async def _on_notify(self, channel: str, payload: str) -> None:
        if channel == "fleethub_state":
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
