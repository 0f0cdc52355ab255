"""The one store writer: buffers effects and commits them in batches.

Heartbeats and transitions go in with ``COPY``; current state, uptime and
deliveries and content readiness are upserted from arrays in one statement each; everything of one
flush commits in one transaction. A database outage keeps the buffer (bounded:
overflow drops the oldest heartbeats, logged and counted) and retries with
backoff; nothing acknowledged by the writer is lost. The statements are the store's
(store/heartbeats.py, store/presence.py, store/incidents.py, store/deliveries.py); this
module batches, commits and retries.

Marks (:meth:`StoreWriter.mark`) follow the effects added before them; once those
are committed, ``on_commit`` gets the mark: the hub acknowledges the messages up
to it to the broker only then.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from psycopg_pool import AsyncConnectionPool

from actors.effects import (
    CommandEvent,
    DeliveryRow,
    Effect,
    HeartbeatRow,
    IncidentEvent,
    MediaStateRow,
    TabletStateRow,
    TransitionRow,
    UptimeSpan,
)
from config.retry import until_done
from hub.log_limit import LogLimiter
from hub.metrics import HubMetrics
from hub.supervise import STORE_DOWN
from store.commands import write_events
from store.deliveries import upsert_deliveries
from store.heartbeats import copy_heartbeats
from store.incidents import write_incident
from store.media_state import upsert_media_states
from store.presence import add_uptime, copy_transitions, upsert_states

log = logging.getLogger(__name__)
limited = LogLimiter(log)
GROUPS = (
    "heartbeats",
    "transitions",
    "states",
    "uptime",
    "incidents",
    "deliveries",
    "media",
    "commands",
)

HOUR = timedelta(hours=1)


def split_by_hour(start: datetime, end: datetime) -> list[tuple[datetime, float]]:
    """``[(hour_start, seconds), …]`` covering ``start``–``end``."""
    out = []
    cursor = start
    while cursor < end:
        hour = cursor.replace(minute=0, second=0, microsecond=0)
        upto = min(end, hour + HOUR)
        out.append((hour, (upto - cursor).total_seconds()))
        cursor = upto
    return out


class Batch:
    """Effects of one flush, grouped by table."""

    def __init__(self) -> None:
        self.heartbeats: deque[HeartbeatRow] = deque()
        self.transitions: list[TransitionRow] = []
        self.states: dict[str, TabletStateRow] = {}
        self.uptime: dict[tuple[str, datetime], float] = {}
        self.incidents: list[IncidentEvent] = []
        self.deliveries: list[DeliveryRow] = []
        self.media: dict[str, MediaStateRow] = {}  # content readiness, newest per tablet
        self.commands: list[CommandEvent] = []  # remote commands' progress (store/commands.py)

    def __len__(self) -> int:
        return (
            len(self.heartbeats)
            + len(self.transitions)
            + len(self.states)
            + len(self.uptime)
            + len(self.incidents)
            + len(self.deliveries)
            + len(self.media)
            + len(self.commands)
        )

    def add(self, effect: Effect) -> None:
        if isinstance(effect, HeartbeatRow):
            self.heartbeats.append(effect)
        elif isinstance(effect, TabletStateRow):
            self.states[effect.tablet_id] = effect
        elif isinstance(effect, UptimeSpan):
            for hour, seconds in split_by_hour(effect.start, effect.end):
                key = (effect.tablet_id, hour)
                self.uptime[key] = self.uptime.get(key, 0.0) + seconds
        elif isinstance(effect, TransitionRow):
            self.transitions.append(effect)
        elif isinstance(effect, IncidentEvent):
            self.incidents.append(effect)
        elif isinstance(effect, DeliveryRow):
            self.deliveries.append(effect)
        elif isinstance(effect, MediaStateRow):
            self.media[effect.tablet_id] = effect
        elif isinstance(effect, CommandEvent):
            self.commands.append(effect)

    def parts(self) -> list[tuple[str, Batch]]:
        """One batch per table group, for writing them apart."""
        out: list[tuple[str, Batch]] = []
        for name in GROUPS:
            if getattr(self, name):
                part = Batch()
                setattr(part, name, getattr(self, name))
                out.append((name, part))
        return out

    def halves(self) -> tuple[Batch, Batch]:
        """Each table group's rows cut in two, in order (bisecting a refused batch)."""
        first, second = Batch(), Batch()
        for name in GROUPS:
            rows = getattr(self, name)
            if isinstance(rows, dict):
                items = list(rows.items())
                cut = len(items) // 2
                setattr(first, name, dict(items[:cut]))
                setattr(second, name, dict(items[cut:]))
            else:
                cut = len(rows) // 2
                setattr(first, name, type(rows)(list(rows)[:cut]))
                setattr(second, name, type(rows)(list(rows)[cut:]))
        return first, second

    def keep_only(self, committed: Batch) -> None:
        """Hold only ``committed``'s rows (what an isolated write got into the store)."""
        for name in GROUPS:
            setattr(self, name, getattr(committed, name))

    def merge_back(self, newer: Batch) -> None:
        """Put a failed batch back in front of what arrived meanwhile."""
        self.heartbeats.extend(newer.heartbeats)
        self.transitions.extend(newer.transitions)
        self.states.update(newer.states)
        for key, seconds in newer.uptime.items():
            self.uptime[key] = self.uptime.get(key, 0.0) + seconds
        self.incidents.extend(newer.incidents)
        self.deliveries.extend(newer.deliveries)
        self.media.update(newer.media)
        self.commands.extend(newer.commands)


class StoreWriter:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        metrics: HubMetrics,
        flush_interval_s: float = 0.05,
        buffer_max: int = 200_000,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._pool = pool
        self._on_commit = on_commit
        self._mark: int | None = None  # of the effects in _pending
        self._metrics = metrics
        self._interval = flush_interval_s
        self._buffer_max = buffer_max
        self._pending = Batch()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._writing = Batch()
        self._idle.set()
        self.outage = False

    def add(self, effects: list[Effect]) -> None:
        pending = self._pending
        for effect in effects:
            pending.add(effect)
        self._idle.clear()
        overflow = len(pending.heartbeats) - self._buffer_max
        if overflow > 0:
            for _ in range(overflow):
                pending.heartbeats.popleft()
            self._metrics.dropped["heartbeats_buffer_overflow"] += overflow
            log.warning("store buffer full: dropped %d oldest heartbeats", overflow)
        self._wake.set()

    def mark(self, seq: int) -> None:
        """``on_commit(seq)`` once everything added before this is committed."""
        self._mark = seq  # marks only grow
        self._idle.clear()
        self._wake.set()

    def _keep_mark(self, mark: int | None) -> None:
        """A batch went back to pending: so does its mark (unless a later one is there)."""
        if self._mark is None:
            self._mark = mark

    def _committed(self, mark: int | None) -> None:
        if mark is not None and self._on_commit is not None:
            self._on_commit(mark)

    def backlog(self) -> int:
        """Rows not yet committed, including a batch being written."""
        return len(self._pending) + len(self._writing)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            await until_done(self._round, on=STORE_DOWN, wait_initial=0.2, wait_max=5.0)

    async def _round(self) -> None:
        """Gather a batch and commit it; while the store is down the batch goes back in
        front of the pending rows and this raises (the caller retries with backoff)."""
        self._wake.clear()
        await asyncio.sleep(self._interval)  # gather a batch
        batch, self._pending = self._pending, Batch()
        mark, self._mark = self._mark, None
        if not len(batch):
            self._committed(mark)  # nothing before it is left to write
            self._idle.set()
            return
        self._writing = batch
        try:
            await self._write(batch)
        except STORE_DOWN as exc:
            if not self.outage:
                self._metrics.db_outages += 1
                log.error("store unavailable, buffering %d rows: %s", len(batch), exc)
            self.outage = True
            self._writing = Batch()
            batch.merge_back(self._pending)
            self._pending = batch
            self._keep_mark(mark)
            raise
        except Exception as exc:  # a row the store refuses (or cannot be sent) at all
            limited.log(
                logging.WARNING,
                "batch",
                "store rejected a batch of %d rows (%s: %s); isolating the refused rows",
                len(batch),
                type(exc).__name__,
                exc,
            )
            await self._write_isolated(batch)
            # What went back to pending (the store left meanwhile) holds the mark back;
            # else it is released by the next round, pending being empty.
            self._keep_mark(mark)
            self._wake.set()
            mark = None
        except asyncio.CancelledError:
            batch.merge_back(self._pending)  # not committed: keep it for the final flush
            self._pending = batch
            self._keep_mark(mark)
            raise
        finally:
            self._writing = Batch()
        if self.outage:
            log.warning("store is back; buffered rows written")
        self.outage = False
        self._metrics.heartbeats_committed += len(batch.heartbeats)
        self._metrics.rows_committed += len(batch)
        self._committed(mark)
        if not len(self._pending):
            self._idle.set()

    async def _write_isolated(self, batch: Batch) -> None:
        """After a data error: each table group in its own transaction, a refused group cut
        in halves until the refused rows stand alone; only those are dropped (counted by
        group in ``dropped``, logged rate-limited), every other row is committed. On return
        ``batch`` holds the committed rows; if the store goes away meanwhile (or the writer
        is cancelled), what is not written goes back in front of the pending rows."""
        committed = Batch()
        todo = [part for _, part in reversed(batch.parts())]  # a stack: next part last
        try:
            while todo:
                part = todo[-1]  # popped once written or dropped, so a cancel keeps it
                try:
                    await self._write(part)
                except STORE_DOWN:
                    break
                except Exception as exc:
                    todo.pop()
                    if len(part) > 1:
                        first, second = part.halves()
                        todo += [second, first]
                    else:
                        self._drop(part, exc)
                    continue
                todo.pop()
                committed.merge_back(part)
        finally:
            if todo:  # the store went away, or cancelled: keep what is left
                rest = Batch()
                for unwritten in reversed(todo):
                    rest.merge_back(unwritten)
                rest.merge_back(self._pending)
                self._pending = rest
                self._wake.set()
            batch.keep_only(committed)

    def _drop(self, row: Batch, exc: Exception) -> None:
        """One row the store refuses on its own: counted and logged (rate-limited)."""
        name, one = row.parts()[0]
        rows = getattr(one, name)
        if isinstance(rows, dict):  # states by tablet id, uptime by (tablet id, hour)
            key = next(iter(rows))
            tablet_id = key[0] if isinstance(key, tuple) else key
        else:
            tablet_id = next(iter(rows)).tablet_id
        self._metrics.write_errors += 1
        self._metrics.dropped[f"{name}_rejected_by_store"] += 1
        limited.log(
            logging.ERROR,
            f"drop.{name}",
            "store refused a %s row of tablet %s (%s: %s); dropped",
            name,
            tablet_id,
            type(exc).__name__,
            exc,
        )

    async def flush_now(self, timeout: float = 10.0) -> None:
        """Wait until everything added so far is committed (tests, shutdown)."""
        if len(self._pending):
            self._idle.clear()
            self._wake.set()
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def _write(self, batch: Batch) -> None:
        async with self._pool.connection(timeout=5) as conn, conn.transaction():
            cur = conn.cursor()
            if batch.heartbeats:
                await copy_heartbeats(conn, batch.heartbeats)
            if batch.transitions:
                await copy_transitions(cur, batch.transitions)
            if batch.states:
                await upsert_states(cur, list(batch.states.values()))
            if batch.uptime:
                await add_uptime(cur, batch.uptime)
            for ev in batch.incidents:
                await write_incident(cur, ev)
            if batch.deliveries:
                await upsert_deliveries(cur, batch.deliveries)
            if batch.media:
                await upsert_media_states(cur, list(batch.media.values()))
            if batch.commands:
                await write_events(cur, batch.commands)
