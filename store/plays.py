"""Proof of play: batch parsing, per-event validation and idempotent storage.

A batch (``tablets/{id}/plays``) that is not JSON, has no ``events`` list or holds
more than 500 events is rejected whole (:class:`PayloadError`). Otherwise every
event is judged on its own and gets a status (``accepted``, ``duplicate``,
``rejected``) and, when rejected, a short reason. Storage is one statement in one
transaction: new event ids into ``play_event_ids`` (``ON CONFLICT DO NOTHING``),
only those into ``plays``, and their aggregates added to ``plays_daily`` per local day
of the play's start in its fleet's time zone, and for the plays of a campaign (their zone,
``out_of_target`` and H3 cell: store/campaign_plays.py) to ``campaign_delivery`` and
``campaign_cells`` — a duplicate or a retried batch is never counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import psycopg
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.errors import PayloadError
from contract.fields import DeviceTime, Id, Lat, Lon, ShortText
from store.campaign_plays import marks as campaign_marks
from store.campaign_plays import rollup_arrays

MAX_EVENTS = 500
MAX_DURATION_MS = 3_600_000
Status = Literal["accepted", "duplicate", "rejected"]
Conn = psycopg.AsyncConnection[Any]


class PlayEvent(BaseModel):
    """One ad played by a tablet."""

    model_config = ConfigDict(strict=True, extra="ignore")
    event_id: UUID
    ad_id: Id
    campaign_id: Id
    playlist_id: Id
    playlist_etag: ShortText
    started_at: DeviceTime
    duration_ms: int  # judged below: 0..MAX_DURATION_MS (the column is integer)
    result: Literal["completed", "skipped", "error", "interrupted"]
    lat: Lat | None = None
    lon: Lon | None = None


class PlayBatch(BaseModel):
    """The envelope; events stay raw so one bad event rejects only itself."""

    model_config = ConfigDict(strict=True, extra="ignore")
    events: Annotated[list[Any], Field(min_length=1, max_length=MAX_EVENTS)]
    batch_id: ShortText | None = None


@dataclass(frozen=True, slots=True)
class PlayRow:
    event: PlayEvent
    tablet_id: str
    fleet_id: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Verdict:
    """The fate of one event: a valid row (status decided at commit) or a rejection."""

    event_id: str | None
    row: PlayRow | None = None
    reason: str | None = None


@dataclass
class PlayResult:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    events: list[dict[str, str | None]] = field(default_factory=list)

    def add(self, event_id: str | None, status: Status, reason: str | None = None) -> None:
        setattr(self, status, getattr(self, status) + 1)
        self.events.append({"event_id": event_id, "status": status, "reason": reason})

    def ack(self, batch: PlayBatch) -> dict[str, object]:
        """The answer to a batch: ``plays/ack`` over MQTT, the body over HTTP."""
        first = batch.events[0]
        first_id = first.get("event_id") if isinstance(first, dict) else None
        return {
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "batch_id": batch.batch_id,
            "first_event_id": first_id if isinstance(first_id, str) else None,
            "events": self.events,
        }


ECHO_MAX_BYTES = 1024 * 1024  # beyond the broker's packet limit: not read for its ids
ECHO_MAX_CHARS = 256


def batch_ids(raw: bytes) -> tuple[str | None, str | None]:
    """``(batch_id, first_event_id)`` of a batch rejected whole, as far as it is JSON that
    names them (each a string of at most 256 characters without U+0000), for its ack."""
    if len(raw) > ECHO_MAX_BYTES:
        return None, None
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    events = body.get("events")
    first = events[0] if isinstance(events, list) and events else None
    return _echo(body.get("batch_id")), _echo(
        first.get("event_id") if isinstance(first, dict) else None
    )


def _echo(value: object) -> str | None:
    if isinstance(value, str) and len(value) <= ECHO_MAX_CHARS and "\x00" not in value:
        return value
    return None


def parse_batch(raw: bytes, limit: int) -> PlayBatch:
    """The batch envelope; raise :class:`PayloadError` to reject it whole."""
    if len(raw) > limit:
        raise PayloadError(f"payload of {len(raw)} bytes exceeds {limit}", "too_large")
    try:
        return PlayBatch.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] in ("json_invalid", "json_type"):
            raise PayloadError(f"invalid JSON: {first['msg']}", "invalid_json") from None
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise PayloadError(f"{where}: {first['msg']}") from None


def judge(
    raw: Any,
    tablet_id: str,
    fleet_id: str,
    received_at: datetime,
    skew: timedelta,
    retention: timedelta,
) -> Verdict:
    """Validate one raw event against the contract and the clock (``received_at``)."""
    raw_id = raw.get("event_id") if isinstance(raw, dict) else None
    event_id = raw_id if isinstance(raw_id, str) else None
    try:
        # Strict JSON-mode validation: uuid and datetime from strings, nothing coerced.
        event = PlayEvent.model_validate_json(json.dumps(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else "event"
        return Verdict(event_id, reason=f"invalid_{where}")
    event_id = str(event.event_id)
    if event.duration_ms < 0:
        return Verdict(event_id, reason="negative_duration")
    if event.duration_ms > MAX_DURATION_MS:
        return Verdict(event_id, reason="duration_over_1h")
    if event.started_at > received_at + skew:
        return Verdict(event_id, reason="started_in_future")
    if event.started_at < received_at - retention:
        return Verdict(event_id, reason="older_than_retention")
    return Verdict(event_id, row=PlayRow(event, tablet_id, fleet_id, received_at))


def judge_all(
    events: Iterable[Any],
    tablet_id: str,
    fleet_id: str,
    received_at: datetime,
    skew: timedelta,
    retention: timedelta,
) -> list[Verdict]:
    return [judge(e, tablet_id, fleet_id, received_at, skew, retention) for e in events]


STORE = """
WITH input AS (
    SELECT * FROM unnest(%b::uuid[], %b::timestamptz[], %b::text[], %b::text[], %b::text[],
        %b::text[], %b::text[], %b::text[], %b::int[], %b::text[], %b::float8[], %b::float8[],
        %b::timestamptz[], %b::text[], %b::text[], %b::bool[], %b::text[], %b::timestamptz[],
        %b::date[])
    AS i(event_id, started_at, tablet_id, fleet_id, ad_id, campaign_id, playlist_id,
         playlist_etag, duration_ms, result, lat, lon, received_at, c_tenant, zone_id,
         out_of_target, h3_cell, c_hour, c_day)
), new AS (
    INSERT INTO play_event_ids (event_id, started_at)
    SELECT event_id, started_at FROM input
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
), stored AS (
    INSERT INTO plays (started_at, event_id, tablet_id, fleet_id, ad_id, campaign_id,
        playlist_id, playlist_etag, duration_ms, result, lat, lon, received_at, zone_id,
        out_of_target, h3_cell)
    SELECT i.started_at, i.event_id, i.tablet_id, i.fleet_id, i.ad_id, i.campaign_id,
        i.playlist_id, i.playlist_etag, i.duration_ms, i.result, i.lat, i.lon, i.received_at,
        i.zone_id, i.out_of_target, i.h3_cell
    FROM input AS i JOIN new USING (event_id)
    RETURNING event_id, started_at, campaign_id, tablet_id, fleet_id, duration_ms, result
), daily AS (
    INSERT INTO plays_daily AS d (day, campaign_id, tablet_id, fleet_id, plays, completed,
        duration_ms)
    SELECT (s.started_at AT TIME ZONE coalesce(f.timezone, 'UTC'))::date, s.campaign_id,
        s.tablet_id, max(s.fleet_id), count(*), count(*) FILTER (WHERE s.result = 'completed'),
        sum(s.duration_ms)
    FROM stored AS s LEFT JOIN fleets AS f ON f.fleet_id = s.fleet_id
    GROUP BY 1, 2, 3
    ON CONFLICT (day, campaign_id, tablet_id) DO UPDATE SET
        fleet_id = excluded.fleet_id,
        plays = d.plays + excluded.plays,
        completed = d.completed + excluded.completed,
        duration_ms = d.duration_ms + excluded.duration_ms
), campaign AS (  -- the plays of campaigns (store/campaign_plays.py), for their rollups
    SELECT s.*, i.c_tenant, i.c_hour, i.c_day, i.h3_cell, i.out_of_target
    FROM stored AS s JOIN input AS i USING (event_id)
    WHERE i.c_tenant IS NOT NULL
), delivery AS (
    INSERT INTO campaign_delivery AS d (tenant_id, campaign_id, hour, tablet_id, plays,
        completed, in_target, in_target_ms, out_of_target)
    SELECT c_tenant, campaign_id, c_hour, tablet_id, count(*),
        count(*) FILTER (WHERE result = 'completed'),
        count(*) FILTER (WHERE result = 'completed' AND NOT out_of_target),
        coalesce(sum(duration_ms) FILTER (WHERE NOT out_of_target), 0),
        count(*) FILTER (WHERE out_of_target)
    FROM campaign GROUP BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, campaign_id, hour, tablet_id) DO UPDATE SET
        plays = d.plays + excluded.plays,
        completed = d.completed + excluded.completed,
        in_target = d.in_target + excluded.in_target,
        in_target_ms = d.in_target_ms + excluded.in_target_ms,
        out_of_target = d.out_of_target + excluded.out_of_target
), cells AS (
    INSERT INTO campaign_cells AS d (tenant_id, campaign_id, day, cell, plays, in_target)
    SELECT c_tenant, campaign_id, c_day, h3_cell, count(*),
        count(*) FILTER (WHERE NOT out_of_target)
    FROM campaign WHERE h3_cell IS NOT NULL GROUP BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, campaign_id, day, cell) DO UPDATE SET
        plays = d.plays + excluded.plays,
        in_target = d.in_target + excluded.in_target
)
SELECT event_id FROM new
"""


async def store(conn: Conn, rows: Sequence[PlayRow]) -> set[UUID]:
    """Store rows (distinct event ids) in the caller's transaction; return the new ids.

    The arrays go in binary (``%b``): about 5× cheaper to dump than text arrays, whose
    every element is checked for quoting (docs/performance.md, proof of play)."""
    if not rows:
        return set()
    es = [r.event for r in rows]
    cur = await conn.execute(
        STORE,
        (
            [e.event_id for e in es],
            [e.started_at for e in es],
            [r.tablet_id for r in rows],
            [r.fleet_id for r in rows],
            [e.ad_id for e in es],
            [e.campaign_id for e in es],
            [e.playlist_id for e in es],
            [e.playlist_etag for e in es],
            [e.duration_ms for e in es],
            [e.result for e in es],
            [e.lat for e in es],
            [e.lon for e in es],
            [r.received_at for r in rows],
            *rollup_arrays(await campaign_marks(conn, rows)),
        ),
    )
    return {row[0] for row in await cur.fetchall()}


def distinct_rows(verdicts: Iterable[Verdict]) -> list[PlayRow]:
    """Valid rows, the first of each event id (a repeat inside a round is a duplicate)."""
    seen: dict[UUID, PlayRow] = {}
    for v in verdicts:
        if v.row is not None:
            seen.setdefault(v.row.event.event_id, v.row)
    return list(seen.values())


def settle(verdicts: Iterable[Verdict], new: set[UUID], stored: set[int]) -> PlayResult:
    """Statuses after commit: ``new`` ids were stored by the rows whose ``id()`` is in
    ``stored``; every other valid event is a duplicate."""
    result = PlayResult()
    for v in verdicts:
        if v.row is None:
            result.add(v.event_id, "rejected", v.reason)
        elif v.row.event.event_id in new and id(v.row) in stored:
            result.add(v.event_id, "accepted")
        else:
            result.add(v.event_id, "duplicate")
    return result


async def ingest(
    pool_or_conn: AsyncConnectionPool | Conn,
    tablet_id: str,
    fleet_id: str,
    events: Sequence[Any],
    received_at: datetime,
    skew: timedelta = timedelta(seconds=300),
    retention: timedelta = timedelta(days=90),
) -> PlayResult:
    """Validate and store one tablet's batch in one transaction."""
    verdicts = judge_all(events, tablet_id, fleet_id, received_at, skew, retention)
    rows = distinct_rows(verdicts)
    if isinstance(pool_or_conn, AsyncConnectionPool):
        async with pool_or_conn.connection(timeout=5) as conn, conn.transaction():
            new = await store(conn, rows)
    else:
        async with pool_or_conn.transaction():
            new = await store(pool_or_conn, rows)
    return settle(verdicts, new, {id(r) for r in rows})
