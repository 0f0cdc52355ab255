"""Every heartbeat, ack, status and play field is bounded to what its store column holds
(issue #18, item 1; docs/mqtt-contract.md)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actors.messages import HeartbeatIn
from config.errors import PayloadError
from contract.fields import EXTRA_DEPTH
from hub.inbound import translate
from store.plays import judge

NUL = "\x00"


def heartbeat(**fields: Any) -> bytes:
    body: dict[str, Any] = {"v": 1, "seq": 1, "boot_id": "b", **fields}
    return json.dumps(body, allow_nan=True).encode()


def decode(kind: str, payload: bytes) -> Any:
    return translate(f"tablets/t-1/{kind}", payload, False, datetime.now(UTC), 16 * 1024)[1]


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "fields",
    [
        {"seq": 2**63 - 1},
        {"disk_free_mb": 2**31 - 1},
        {"battery": 100},
        {"lat": -90.0},
        {"ts": "9999-12-31T23:59:59+00:00"},
        {"ts": "0001-01-01T00:00:00-05:00"},
        {"extra": nested(EXTRA_DEPTH - 1)},
        {"extra": {"k": [1, "é", None, 1e308]}},
        {"boot_id": "b" * 128},
        {"app_version": "a" * 256},
    ],
)
def test_values_at_the_bounds_are_accepted(fields: dict[str, Any]) -> None:
    assert isinstance(decode("heartbeat", heartbeat(**fields)), HeartbeatIn)


@pytest.mark.parametrize(
    "fields",
    [
        {"seq": 2**63},
        {"seq": -1},
        {"disk_free_mb": 2**31},
        {"battery": 101},
        {"lat": math.nan},
        {"lon": math.inf},
        {"ts": "9999-12-31T23:59:59-05:00"},
        {"ts": "0001-01-01T00:00:00+05:00"},
        {"boot_id": NUL},
        {"boot_id": "b" * 129},
        {"app_version": f"1{NUL}"},
        {"playlist_etag": f"e{NUL}"},
        {"now_playing": {"ad_id": NUL, "campaign_id": "c"}},
        {"now_playing": {"ad_id": "a", "campaign_id": f"c{NUL}"}},
        {"extra": math.nan},
        {"extra": [math.inf]},
        {"extra": {"k": -math.inf}},
        {f"x{NUL}": 1},
        {"extra": {f"k{NUL}": 1}},
        {"extra": [f"v{NUL}"]},
        {"extra": nested(EXTRA_DEPTH)},
    ],
)
def test_values_past_the_bounds_reject_the_heartbeat(fields: dict[str, Any]) -> None:
    with pytest.raises(PayloadError) as caught:
        decode("heartbeat", heartbeat(**fields))
    assert caught.value.category == "invalid_payload"


def test_a_number_past_float_range_in_extras_is_rejected() -> None:
    with pytest.raises(PayloadError):
        decode("heartbeat", b'{"v":1,"seq":1,"boot_id":"b","x":1e400}')


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("playlist/ack", {"etag": NUL, "status": "applied"}),
        ("playlist/ack", {"etag": "e", "status": "failed", "detail": NUL}),
        ("playlist/ack", {"etag": "e" * 257, "status": "applied"}),
        ("status", {"state": "online", "ts": "0001-01-01T00:00:00+05:00"}),
    ],
)
def test_acks_and_statuses_are_bounded(kind: str, body: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        decode(kind, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("ad_id", NUL, "invalid_ad_id"),
        ("campaign_id", f"c{NUL}", "invalid_campaign_id"),
        ("playlist_id", "p" * 129, "invalid_playlist_id"),
        ("playlist_etag", f"e{NUL}", "invalid_playlist_etag"),
        ("lat", math.nan, "invalid_lat"),
        ("duration_ms", 2**63, "duration_over_1h"),
    ],
)
def test_play_events_are_bounded(field: str, value: Any, reason: str) -> None:
    now = datetime.now(UTC)
    raw = {
        "event_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        "ad_id": "a",
        "campaign_id": "c",
        "playlist_id": "p",
        "playlist_etag": "e",
        "started_at": now.isoformat(),
        "duration_ms": 1,
        "result": "completed",
        field: value,
    }
    verdict = judge(raw, "t-1", "f-1", now, timedelta(seconds=300), timedelta(days=90))
    assert (verdict.row, verdict.reason) == (None, reason)
