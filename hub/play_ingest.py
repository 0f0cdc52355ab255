"""Proof-of-play batches → the store, many tablets per transaction, acknowledged after commit.

The tablet session hands each ``tablets/{id}/plays`` payload to :meth:`PlayIngest.put`
(a queue bounded by ``play_queue_max`` batches and ``play_queue_max_bytes`` of payload:
full, the oldest batch is dropped and counted in ``dropped["plays_queue_overflow"]`` — it
was never acknowledged, so its tablet sends it again). One task takes whatever is queued,
validates it, commits every valid event of the round in one transaction and only
then publishes ``tablets/{id}/plays/ack`` for each batch. Through a store outage
the round stays queued and is retried with backoff; nothing is acknowledged
before it is committed, and a retried or resent batch is deduplicated by event id.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from actors.effects import Publish
from config.errors import PayloadError
from config.retry import until_done
from config.settings import Settings
from hub.log_limit import LogLimiter
from hub.metrics import HubMetrics
from hub.supervise import STORE_DOWN
from store.fleets import tablet_fleets
from store.plays import (
    PlayBatch,
    PlayResult,
    Verdict,
    batch_ids,
    distinct_rows,
    judge_all,
    parse_batch,
    settle,
    store,
)

log = logging.getLogger(__name__)
limited = LogLimiter(log)  # rejects are logged rate-limited; the counters stay exact

ROUND_MAX = 200  # batches per transaction (≤ 100,000 events)
# A tablet sends an unacknowledged batch again after ~30 s (docs/mqtt-contract.md), so an
# ack that waited this long at the broker for an offline tablet is of no use to it.
ACK_EXPIRY_S = 600


@dataclass(frozen=True, slots=True)
class PlaysIn:
    """One ``tablets/{id}/plays`` payload as received (parsed by the ingest task)."""

    tablet_id: str
    payload: bytes
    received_at: datetime


@dataclass
class _Judged:
    item: PlaysIn
    batch: PlayBatch
    verdicts: list[Verdict]


class PlayIngest:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        metrics: HubMetrics,
        settings: Settings,
        publish: Callable[[Publish], None],
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._limit = settings.play_max_payload_bytes
        self._skew = timedelta(seconds=settings.play_clock_skew_s)
        self._retention = timedelta(days=settings.play_retention_days)
        self._bound = settings.play_queue_max
        self._max_bytes = settings.play_queue_max_bytes
        self._bytes = 0  # payload bytes queued
        self._publish = publish
        self._queue: deque[PlaysIn] = deque()
        self._ready = asyncio.Event()
        self._fleets: dict[str, str] = {}  # tablet_id → fleet_id
        self.outage = False

    def remember(self, tablet_id: str, fleet_id: str) -> None:
        """The hub tells the fleet of each tablet it (re)loads."""
        self._fleets[tablet_id] = fleet_id

    def put(self, item: PlaysIn) -> None:
        while self._queue and (
            len(self._queue) >= self._bound or self._bytes + len(item.payload) > self._max_bytes
        ):
            self._bytes -= len(self._queue.popleft().payload)
            self._metrics.dropped["plays_queue_overflow"] += 1
        self._queue.append(item)
        self._bytes += len(item.payload)
        self._ready.set()

    def backlog(self) -> int:
        return len(self._queue)

    async def run(self) -> None:
        while True:
            while not self._queue:
                self._ready.clear()
                await self._ready.wait()
            await until_done(self._next_round, on=STORE_DOWN, wait_initial=0.2, wait_max=5.0)

    async def _next_round(self) -> None:
        """Commit the queue's first batches, then drop them and publish their acks; while
        the store is down they stay queued and this raises (the caller retries)."""
        items = [self._queue[n] for n in range(min(ROUND_MAX, len(self._queue)))]
        try:
            acks = await self._round(items)
        except STORE_DOWN as exc:
            if not self.outage:
                self._metrics.db_outages += 1
                log.error("store unavailable, keeping %d play batches: %s", len(items), exc)
            self.outage = True
            raise
        if self.outage:
            log.warning("store is back; queued play batches written")
        self.outage = False
        done = {id(i) for i in items}  # still a prefix of the queue (overflow pops left)
        while self._queue and id(self._queue[0]) in done:
            self._bytes -= len(self._queue.popleft().payload)
        for ack in acks:
            self._publish(ack)

    async def _round(self, items: list[PlaysIn]) -> list[Publish]:
        """Validate, commit, and return the acks to publish (raises on a store outage,
        before anything is counted, so the retried round counts once)."""
        await self._lookup_fleets({i.tablet_id for i in items} - self._fleets.keys())
        rejects: list[tuple[PlaysIn, str, str]] = []
        judged: list[_Judged] = []
        for item in items:
            try:
                batch = parse_batch(item.payload, self._limit)
            except PayloadError as exc:
                rejects.append((item, exc.category, exc.reason))
                continue
            except Exception:  # a parser bug costs this batch only (never acknowledged)
                self._handler_failed(item)
                continue
            fleet_id = self._fleets.get(item.tablet_id)
            if fleet_id is None:
                rejects.append((item, "unknown_tablet", "unknown tablet"))
                continue
            try:
                verdicts = judge_all(
                    batch.events,
                    item.tablet_id,
                    fleet_id,
                    item.received_at,
                    self._skew,
                    self._retention,
                )
            except Exception:
                self._handler_failed(item)
                continue
            judged.append(_Judged(item, batch, verdicts))
        try:
            results = await self._commit(judged)
        except (psycopg.OperationalError, PoolTimeout):
            raise
        except Exception as exc:  # a row the store refuses (or that cannot be sent)
            limited.log(
                logging.WARNING,
                "round",
                "store rejected a round of plays (%s: %s); writing batch by batch",
                type(exc).__name__,
                exc,
            )
            results = await self._commit_isolated(judged)
        acks = [self._reject(item, category, reason) for item, category, reason in rejects]
        for j, result in results:
            self._count(result)
            acks.append(self._ack(j.item, j.batch, result))
        return acks

    async def _commit(self, judged: list[_Judged]) -> list[tuple[_Judged, PlayResult]]:
        rows = distinct_rows(v for j in judged for v in j.verdicts)
        async with self._pool.connection(timeout=5) as conn, conn.transaction():
            new = await store(conn, rows)
        stored = {id(r) for r in rows}
        return [(j, settle(j.verdicts, new, stored)) for j in judged]

    async def _commit_isolated(self, judged: list[_Judged]) -> list[tuple[_Judged, PlayResult]]:
        """After a data error: one transaction per batch; a batch the store refuses is
        dropped (counted, never acknowledged), the others are committed."""
        results: list[tuple[_Judged, PlayResult]] = []
        for j in judged:
            try:
                results += await self._commit([j])
            except (psycopg.OperationalError, PoolTimeout):
                raise  # committed batches are deduplicated when the round is retried
            except Exception as exc:
                self._metrics.write_errors += 1
                self._metrics.dropped["plays_rejected_by_store"] += len(j.verdicts)
                limited.log(
                    logging.ERROR,
                    "store",
                    "store rejected the plays of %s (%s: %s)",
                    j.item.tablet_id,
                    type(exc).__name__,
                    exc,
                )
        return results

    async def _lookup_fleets(self, tablet_ids: set[str]) -> None:
        if not tablet_ids:
            return
        async with self._pool.connection(timeout=5) as conn:
            self._fleets.update(await tablet_fleets(conn, tablet_ids))

    def _count(self, result: PlayResult) -> None:
        m = self._metrics
        m.plays_received += result.accepted + result.duplicate + result.rejected
        m.plays_committed += result.accepted
        m.plays_duplicate += result.duplicate
        m.plays_rejected += result.rejected

    def _reject(self, item: PlaysIn, category: str, reason: str) -> Publish:
        self._metrics.reject(category)
        limited.log(
            logging.WARNING,
            category,
            "rejected %s on tablets/%s/plays: %s",
            category,
            item.tablet_id,
            reason,
        )
        batch_id, first_event_id = batch_ids(item.payload)
        body: dict[str, object] = {
            "accepted": 0,
            "duplicate": 0,
            "rejected": 0,
            "batch_id": batch_id,
            "first_event_id": first_event_id,
            "events": [],
            "error": category,
            "detail": reason,
        }
        return _publish(item.tablet_id, body)

    def _handler_failed(self, item: PlaysIn) -> None:
        self._metrics.handler_errors += 1
        limited.log(
            logging.ERROR,
            "handler",
            "handling a batch on tablets/%s/plays failed; dropped",
            item.tablet_id,
            exc_info=True,
        )

    @staticmethod
    def _ack(item: PlaysIn, batch: PlayBatch, result: PlayResult) -> Publish:
        return _publish(item.tablet_id, result.ack(batch))


def _publish(tablet_id: str, body: Mapping[str, object]) -> Publish:
    payload = json.dumps(body, separators=(",", ":")).encode()
    return Publish(f"tablets/{tablet_id}/plays/ack", payload, 1, False, ACK_EXPIRY_S)
