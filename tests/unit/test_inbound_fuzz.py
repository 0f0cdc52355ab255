"""Property-based fuzzing of the inbound decoders (issue #18, item 1).

Any bytes and any JSON value on any tablet topic give either a valid message or a
:class:`PayloadError`, never another exception; every accepted value fits its store column.
The store itself takes the accepted values in tests/hub/test_inbound_fuzz_store.py.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actors.messages import AckIn, HeartbeatIn, StatusIn
from config.errors import PayloadError
from contract.fields import INT4_MAX, INT8_MAX
from hub.inbound import translate
from hub.play_ingest import PlaysIn
from store.plays import MAX_DURATION_MS, judge_all, parse_batch
from tests.payload_strategies import (
    acks,
    encode,
    heartbeats,
    json_values,
    play_batches,
    statuses,
)

KINDS = ["heartbeat", "status", "playlist/ack", "plays", "playlist", "x/y"]
LIMIT = 16 * 1024
FUZZ = settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def decode(kind: str, payload: bytes) -> Any:
    try:
        _, item = translate(f"tablets/t-1/{kind}", payload, False, datetime.now(UTC), LIMIT)
    except PayloadError as exc:
        category = exc.category
    else:
        return item
    assert category in ("invalid_json", "invalid_payload", "too_large", "bad_topic")
    return None


def fits_text(value: str | None, max_len: int = 1024) -> bool:
    return value is None or ("\x00" not in value and len(value) <= max_len)


def fits_jsonb(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, list):
        return all(fits_jsonb(v) for v in value)
    if isinstance(value, dict):
        return all("\x00" not in k and fits_jsonb(v) for k, v in value.items())
    return True


def check_heartbeat(hb: HeartbeatIn) -> None:
    assert 0 <= hb.seq <= INT8_MAX
    assert hb.disk_free_mb is None or 0 <= hb.disk_free_mb <= INT4_MAX
    assert hb.battery is None or 0 <= hb.battery <= 100
    for text in (hb.boot_id, hb.playlist_etag, hb.ad_id, hb.campaign_id, hb.app_version):
        assert fits_text(text, 256)
    for coord in (hb.lat, hb.lon):
        assert coord is None or math.isfinite(coord)
    if hb.device_ts is not None:
        hb.device_ts.astimezone(UTC)
    if hb.extra_json is not None:  # strict JSON (no NaN) that jsonb holds
        extra = json.loads(hb.extra_json, parse_constant=lambda c: math.nan)
        assert fits_jsonb(extra)


@FUZZ
@given(st.sampled_from(KINDS), st.binary(max_size=200))
def test_any_bytes_decode_or_are_rejected(kind: str, payload: bytes) -> None:
    decode(kind, payload)


@FUZZ
@given(st.sampled_from(KINDS), json_values)
def test_any_json_value_decodes_or_is_rejected(kind: str, value: Any) -> None:
    item = decode(kind, encode(value))
    if isinstance(item, HeartbeatIn):
        check_heartbeat(item)


@FUZZ
@given(heartbeats())
def test_accepted_heartbeats_fit_the_store(body: dict[str, Any]) -> None:
    item = decode("heartbeat", encode(body))
    if item is not None:
        assert isinstance(item, HeartbeatIn)
        check_heartbeat(item)


@FUZZ
@given(acks())
def test_accepted_acks_fit_the_store(body: Any) -> None:
    item = decode("playlist/ack", encode(body))
    if item is not None:
        assert isinstance(item, AckIn)
        assert fits_text(item.etag, 256)
        assert fits_text(item.detail)


@FUZZ
@given(statuses())
def test_accepted_statuses_are_valid_instants(body: Any) -> None:
    item = decode("status", encode(body))
    if item is not None:
        assert isinstance(item, StatusIn)
        if item.device_ts is not None:
            item.device_ts.astimezone(UTC)


@FUZZ
@given(st.one_of(play_batches(), json_values.map(lambda v: {"events": [v]})))
def test_plays_batches_parse_and_judge_or_reject(body: Any) -> None:
    now = datetime.now(UTC)
    item = decode("plays", encode(body))
    assert isinstance(item, PlaysIn)  # parsed by the play ingest, not the tablet session
    try:
        batch = parse_batch(item.payload, 160 * 1024)
    except PayloadError:
        return
    verdicts = judge_all(
        batch.events, "t-1", "f-1", now, timedelta(seconds=300), timedelta(days=90)
    )
    assert len(verdicts) == len(batch.events)
    for v in verdicts:
        if v.row is None:
            assert v.reason
            continue
        e = v.row.event
        assert 0 <= e.duration_ms <= MAX_DURATION_MS
        for text in (e.ad_id, e.campaign_id, e.playlist_id, e.playlist_etag):
            assert fits_text(text, 256)
        for coord in (e.lat, e.lon):
            assert coord is None or math.isfinite(coord)
