"""Proof of play: the batch envelope and per-event validation (no store)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.errors import PayloadError
from store.plays import MAX_EVENTS, Verdict, distinct_rows, judge, parse_batch, settle

NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
LIMIT = 160 * 1024
SKEW = timedelta(seconds=300)
RETENTION = timedelta(days=90)


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "ad_id": "ad-1",
        "campaign_id": "c-1",
        "playlist_id": "pl-1",
        "playlist_etag": "e" * 32,
        "started_at": "2024-05-01T17:59:00+08:00",
        "duration_ms": 15_000,
        "result": "completed",
        "lat": 1.3,
        "lon": 103.8,
    }
    base.update(fields)
    return base


def verdict(raw: Any) -> Verdict:
    return judge(raw, "t1", "f1", NOW, SKEW, RETENTION)


def test_a_valid_event_becomes_a_row() -> None:
    raw = event()
    v = verdict(raw)
    assert v.reason is None
    assert v.row is not None
    assert v.event_id == raw["event_id"]
    assert v.row.event.started_at == datetime(2024, 5, 1, 9, 59, tzinfo=UTC)
    assert (v.row.tablet_id, v.row.fleet_id, v.row.received_at) == ("t1", "f1", NOW)


def test_lat_lon_may_be_null_or_absent() -> None:
    assert verdict(event(lat=None, lon=None)).row is not None
    raw = event()
    del raw["lat"], raw["lon"]
    assert verdict(raw).row is not None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"duration_ms": -1}, "negative_duration"),
        ({"duration_ms": 3_600_001}, "duration_over_1h"),
        ({"duration_ms": 1.5}, "invalid_duration_ms"),
        ({"duration_ms": "100"}, "invalid_duration_ms"),
        ({"result": "played"}, "invalid_result"),
        ({"event_id": "not-a-uuid"}, "invalid_event_id"),
        ({"event_id": 7}, "invalid_event_id"),
        ({"lat": 90.5}, "invalid_lat"),
        ({"lon": -180.5}, "invalid_lon"),
        ({"started_at": "2024-05-01T10:00:00"}, "invalid_started_at"),  # no offset
        ({"started_at": "2024-05-01T10:05:01+00:00"}, "started_in_future"),
        ({"started_at": "2024-01-31T09:59:59+00:00"}, "older_than_retention"),
        ({"ad_id": ""}, "invalid_ad_id"),
    ],
)
def test_rejections_have_a_reason(fields: dict[str, Any], reason: str) -> None:
    v = verdict(event(**fields))
    assert v.row is None
    assert v.reason == reason


def test_bounds_are_inclusive() -> None:
    assert verdict(event(duration_ms=0)).row is not None
    assert verdict(event(duration_ms=3_600_000)).row is not None
    assert verdict(event(started_at="2024-05-01T10:05:00+00:00")).row is not None
    assert verdict(event(started_at="2024-02-01T10:00:00+00:00")).row is not None


def test_a_rejected_event_echoes_its_id_when_it_is_a_string() -> None:
    assert verdict(event(event_id="x", result="?")).event_id == "x"
    assert verdict(event(event_id=5)).event_id is None
    v = verdict("not an object")
    assert (v.event_id, v.reason) == (None, "invalid_event")


def test_a_batch_parses_with_its_optional_id() -> None:
    batch = parse_batch(json.dumps({"events": [event()], "batch_id": "b-1"}).encode(), LIMIT)
    assert batch.batch_id == "b-1"
    assert len(batch.events) == 1


@pytest.mark.parametrize(
    ("raw", "category"),
    [
        (b"{not json", "invalid_json"),
        (b"[]", "invalid_payload"),
        (b"{}", "invalid_payload"),
        (b'{"events": {}}', "invalid_payload"),
        (b'{"events": []}', "invalid_payload"),
        (json.dumps({"events": [{}] * (MAX_EVENTS + 1)}).encode(), "invalid_payload"),
    ],
)
def test_malformed_batches_are_rejected_whole(raw: bytes, category: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_batch(raw, LIMIT)
    assert caught.value.category == category


def test_a_batch_over_the_size_limit_is_rejected() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_batch(json.dumps({"events": [event(ad_id="a" * 100)]}).encode(), 100)
    assert caught.value.category == "too_large"


def test_max_events_fit_in_the_payload_limit() -> None:
    """500 realistic events stay within the default limit the broker lets through."""
    raw = json.dumps({"events": [event() for _ in range(MAX_EVENTS)]}).encode()
    assert len(parse_batch(raw, LIMIT).events) == MAX_EVENTS


def test_settle_counts_new_repeated_and_rejected_events() -> None:
    same = event()
    verdicts = [verdict(same), verdict(same), verdict(event()), verdict(event(result="?"))]
    rows = distinct_rows(verdicts)
    assert len(rows) == 2  # the repeat inside the batch is not stored twice
    new = {rows[0].event.event_id}  # the store already had the other one
    result = settle(verdicts, new, {id(r) for r in rows})
    assert (result.accepted, result.duplicate, result.rejected) == (1, 2, 1)
    assert [e["status"] for e in result.events] == [
        "accepted",
        "duplicate",
        "duplicate",
        "rejected",
    ]
    assert result.events[3]["reason"] == "invalid_result"
