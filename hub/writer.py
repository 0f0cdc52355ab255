"""The one store writer: buffers effects and commits them in batches.

Heartbeats and transitions go in with ``COPY``; current state, uptime and
deliveries are upserted from arrays in one statement each; everything of one
flush commits in one transaction. A database outage keeps the buffer (bounded:
overflow drops the oldest heartbeats, logged and counted) and retries with
backoff; nothing acknowledged by the writer is lost.

Marks (:meth:`StoreWriter.mark`) follow the effects added before them; once those
are committed, ``on_commit`` gets the mark: the hub acknowledges the messages up
to it to the broker only then.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from operator import attrgetter

import psycopg
from psycopg import sql
from psycopg.types.json import set_json_dumps
from psycopg_pool import AsyncConnectionPool

from actors.effects import (
    DeliveryRow,
    Effect,
    HeartbeatRow,
    IncidentEvent,
    TabletStateRow,
    TransitionRow,
    UptimeSpan,
)
from actors.rules.incidents import alert_payload
from config.retry import until_done
from contract.heartbeat import COLUMNS as HEARTBEAT_COLUMNS
from hub.log_limit import LogLimiter
from hub.metrics import HubMetrics
from hub.supervise import STORE_DOWN

log = logging.getLogger(__name__)
limited = LogLimiter(log)
GROUPS = ("heartbeats", "transitions", "states", "uptime", "incidents", "deliveries")

HOUR = timedelta(hours=1)

# The heartbeat's columns are those its declaration names (contract/heartbeat.py).
COPY_HEARTBEATS = sql.SQL("COPY heartbeats ({}) FROM STDIN (FORMAT BINARY)").format(
    sql.SQL(", ").join(sql.Identifier(c.name) for c in HEARTBEAT_COLUMNS)
)
HEARTBEAT_TYPES = [c.pg for c in HEARTBEAT_COLUMNS]
HEARTBEAT_ROW = attrgetter(*(c.attr for c in HEARTBEAT_COLUMNS))  # a heartbeat → its row
COPY_TRANSITIONS = (
    "COPY presence_transitions (time, tablet_id, from_state, to_state, reason) FROM STDIN"
)
UPSERT_STATE = """
INSERT INTO tablet_state (tablet_id, state, state_since, last_heartbeat_at, boot_id, last_seq,
    desired_etag, applied_etag, uptime_until, open_incident_id, battery, app_version, ad_id,
    campaign_id, updated_at)
SELECT *, now() FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[],
    %b::text[], %b::bigint[], %b::text[], %b::text[], %b::timestamptz[], %b::uuid[],
    %b::smallint[], %b::text[], %b::text[], %b::text[])
ON CONFLICT (tablet_id) DO UPDATE SET
    state = excluded.state, state_since = excluded.state_since,
    last_heartbeat_at = excluded.last_heartbeat_at, boot_id = excluded.boot_id,
    last_seq = excluded.last_seq, desired_etag = excluded.desired_etag,
    applied_etag = excluded.applied_etag, uptime_until = excluded.uptime_until,
    open_incident_id = excluded.open_incident_id, battery = excluded.battery,
    app_version = excluded.app_version, ad_id = excluded.ad_id,
    campaign_id = excluded.campaign_id, updated_at = now()
"""
UPSERT_UPTIME = """
INSERT INTO uptime_hourly (tablet_id, hour, online_seconds)
SELECT * FROM unnest(%b::text[], %b::timestamptz[], %b::float8[])
ON CONFLICT (tablet_id, hour) DO UPDATE
SET online_seconds = least(3600, uptime_hourly.online_seconds + excluded.online_seconds)
"""
UPSERT_DELIVERY = """
INSERT INTO deliveries (tablet_id, etag, status, published_at, acked_at, detail)
SELECT DISTINCT ON (tablet_id, etag) tablet_id, etag, status,
       coalesce(min(at) FILTER (WHERE status = 'published') OVER w, at),
       CASE WHEN status = 'published' THEN NULL ELSE at END, detail
FROM unnest(%b::text[], %b::text[], %b::text[], %b::timestamptz[], %b::text[], %b::int8[])
     AS d(tablet_id, etag, status, at, detail, n)
WINDOW w AS (PARTITION BY tablet_id, etag)
ORDER BY tablet_id, etag, n DESC
ON CONFLICT (tablet_id, etag) DO UPDATE SET
    status = excluded.status,
    -- a batch holding only an ack keeps the stored publish time
    published_at = CASE WHEN excluded.acked_at IS DISTINCT FROM excluded.published_at
                        THEN excluded.published_at ELSE deliveries.published_at END,
    acked_at = excluded.acked_at,
    detail = excluded.detail
"""
OPEN_INCIDENT = """
INSERT INTO incidents (incident_id, tablet_id, fleet_id, kind, opened_at, offline_since)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (incident_id) DO NOTHING
"""
RESOLVE_INCIDENT = """
UPDATE incidents SET resolved_at = %s WHERE incident_id = %s AND resolved_at IS NULL
"""
NOTIFY = """
INSERT INTO notifications (fleet_id, tablet_id, kind, payload, dedupe_key)
VALUES (%s, %s, %s, %s, %s) ON CONFLICT (dedupe_key) DO NOTHING
"""


NOTIFY_LIMIT = 7000  # PostgreSQL refuses NOTIFY payloads of 8000 bytes or more


def notify_chunks(ids: list[str]) -> list[str]:
    """JSON arrays of ids, each small enough for one ``NOTIFY``."""
    chunks: list[str] = []
    current: list[str] = []
    size = 2
    for tablet_id in ids:
        cost = len(json.dumps(tablet_id)) + 1
        if current and size + cost > NOTIFY_LIMIT:
            chunks.append(json.dumps(current, separators=(",", ":")))
            current, size = [], 2
        current.append(tablet_id)
        size += cost
    if current:
        chunks.append(json.dumps(current, separators=(",", ":")))
    return chunks


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

    def __len__(self) -> int:
        return (
            len(self.heartbeats)
            + len(self.transitions)
            + len(self.states)
            + len(self.uptime)
            + len(self.incidents)
            + len(self.deliveries)
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
            limited.log(logging.WARNING, "batch", "store rejected a batch of %d rows"
                        " (%s: %s); isolating the refused rows",
                        len(batch), type(exc).__name__, exc)  # fmt: skip
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
        limited.log(logging.ERROR, f"drop.{name}", "store refused a %s row of tablet %s (%s: %s);"
                    " dropped", name, tablet_id, type(exc).__name__, exc)  # fmt: skip

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
                hb_cur = conn.cursor()
                set_json_dumps(_identity, hb_cur)  # the jsonb column gets JSON text as it is
                async with hb_cur.copy(COPY_HEARTBEATS) as copy:
                    copy.set_types(HEARTBEAT_TYPES)
                    for h in batch.heartbeats:
                        await copy.write_row(HEARTBEAT_ROW(h))
            if batch.transitions:
                async with cur.copy(COPY_TRANSITIONS) as copy:
                    for t in batch.transitions:
                        await copy.write_row(
                            (t.time, t.tablet_id, t.from_state, t.to_state, t.reason)
                        )
                for chunk in notify_chunks(sorted({t.tablet_id for t in batch.transitions})):
                    await cur.execute("SELECT pg_notify('fleethub_state', %s)", (chunk,))
            if batch.states:
                rows = list(batch.states.values())
                await cur.execute(UPSERT_STATE, _columns(rows))
            if batch.uptime:
                keys = list(batch.uptime)
                await cur.execute(
                    UPSERT_UPTIME,
                    ([k[0] for k in keys], [k[1] for k in keys], list(batch.uptime.values())),
                )
            for ev in batch.incidents:
                await self._write_incident(cur, ev)
            if batch.deliveries:
                ds = batch.deliveries  # the newest row per (tablet, etag) wins
                await cur.execute(UPSERT_DELIVERY, (
                    [d.tablet_id for d in ds], [d.etag for d in ds], [d.status for d in ds],
                    [d.at for d in ds], [d.detail for d in ds], list(range(len(ds)))))  # fmt: skip

    @staticmethod
    async def _write_incident(
        cur: psycopg.AsyncCursor[tuple[object, ...]], ev: IncidentEvent
    ) -> None:
        if ev.event == "opened":
            row = (ev.incident_id, ev.tablet_id, ev.fleet_id, ev.kind, ev.opened_at,
                   ev.offline_since)  # fmt: skip
            await cur.execute(OPEN_INCIDENT, row)
        else:
            await cur.execute(RESOLVE_INCIDENT, (ev.at, ev.incident_id))
        payload = alert_payload(ev).decode()
        await cur.execute(
            NOTIFY,
            (ev.fleet_id, ev.tablet_id, f"incident.{ev.event}", payload,
             f"{ev.incident_id}:{ev.event}"),
        )  # fmt: skip
        await cur.execute("SELECT pg_notify('fleethub_alerts', %s)", (payload,))


def _identity(text: str) -> str:
    """A heartbeat's ``extra_json`` is JSON already: sent without parsing it again."""
    return text


def _columns(rows: list[TabletStateRow]) -> tuple[list[object], ...]:
    return (
        [r.tablet_id for r in rows],
        [r.state for r in rows],
        [r.state_since for r in rows],
        [r.last_heartbeat_at for r in rows],
        [r.boot_id for r in rows],
        [r.last_seq for r in rows],
        [r.desired_etag for r in rows],
        [r.applied_etag for r in rows],
        [r.uptime_until for r in rows],
        [r.open_incident_id for r in rows],
        [r.battery for r in rows],
        [r.app_version for r in rows],
        [r.ad_id for r in rows],
        [r.campaign_id for r in rows],
    )
