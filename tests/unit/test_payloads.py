"""MQTT contract v1: payload models, size and JSON errors, and topic translation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from actors.messages import AckIn, HeartbeatIn, StatusIn
from config.errors import PayloadError
from contract.heartbeat import Heartbeat
from contract.payloads import PlaylistItem, parse_payload
from hub.inbound import SUBSCRIPTIONS, tablet_topics, translate

LIMIT = 16 * 1024
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
HB_TOPIC = "tablets/t1/heartbeat"

FULL_HEARTBEAT: dict[str, Any] = {
    "v": 1,
    "ts": "2024-05-01T09:59:59.500+08:00",
    "seq": 42,
    "boot_id": "boot-1",
    "playlist_etag": "e" * 32,
    "now_playing": {"ad_id": "ad-1", "campaign_id": "camp-1"},
    "battery": 77,
    "charging": False,
    "disk_free_mb": 1024,
    "app_version": "2.0.1",
    "lat": 1.3521,
    "lon": 103.8198,
}


def raw(obj: object) -> bytes:
    return json.dumps(obj).encode()


def translate_hb(payload: dict[str, Any]) -> HeartbeatIn:
    tablet_id, msg = translate(HB_TOPIC, raw(payload), False, NOW, LIMIT)
    assert tablet_id == "t1"
    assert isinstance(msg, HeartbeatIn)
    return msg


def rejection(topic: str, payload: bytes, limit: int = LIMIT) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        translate(topic, payload, False, NOW, limit)
    return info.value


def test_full_heartbeat_translates_every_field() -> None:
    msg = translate_hb(FULL_HEARTBEAT)
    assert msg == HeartbeatIn(
        tablet_id="t1",
        received_at=NOW,
        device_ts=datetime(2024, 5, 1, 1, 59, 59, 500_000, tzinfo=UTC),
        seq=42,
        boot_id="boot-1",
        playlist_etag="e" * 32,
        ad_id="ad-1",
        campaign_id="camp-1",
        battery=77,
        charging=False,
        disk_free_mb=1024,
        app_version="2.0.1",
        lat=1.3521,
        lon=103.8198,
        extra_json=None,
    )
    assert msg.device_ts is not None
    assert msg.device_ts.utcoffset() == timedelta(hours=8)


def test_minimal_heartbeat() -> None:
    msg = translate_hb({"v": 1, "seq": 0, "boot_id": "b"})
    assert (msg.device_ts, msg.ad_id, msg.campaign_id, msg.battery) == (None, None, None, None)
    assert msg.extra_json is None


def test_unknown_heartbeat_fields_are_kept_as_json() -> None:
    payload = {**FULL_HEARTBEAT, "temp_c": 41.5, "wifi": {"rssi": -60}, "note": "é"}
    msg = translate_hb(payload)
    assert msg.extra_json is not None
    assert json.loads(msg.extra_json) == {"temp_c": 41.5, "wifi": {"rssi": -60}, "note": "é"}
    assert " " not in msg.extra_json


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", 2),
        ("v", "1"),
        ("seq", "3"),
        ("seq", -1),
        ("seq", 1.5),
        ("seq", True),
        ("seq", None),
        ("boot_id", ""),
        ("boot_id", "x" * 129),
        ("boot_id", 7),
        ("ts", 1_714_557_600),
        ("ts", "yesterday"),
        ("playlist_etag", "x" * 257),
        ("playlist_etag", 5),
        ("now_playing", {"ad_id": "a"}),
        ("now_playing", {"ad_id": 1, "campaign_id": "c"}),
        ("now_playing", "ad-1"),
        ("battery", 101),
        ("battery", -1),
        ("battery", "50"),
        ("battery", 50.0),
        ("charging", "yes"),
        ("charging", 1),
        ("disk_free_mb", -5),
        ("disk_free_mb", "10"),
        ("app_version", 2),
        ("app_version", "v" * 257),
        ("lat", 90.5),
        ("lat", "1.3"),
        ("lon", -180.01),
        ("lon", True),
    ],
)
def test_heartbeat_field_types_are_strict(field: str, value: object) -> None:
    err = rejection(HB_TOPIC, raw({**FULL_HEARTBEAT, field: value}))
    assert err.category == "invalid_payload"
    assert err.reason.startswith(field)


@pytest.mark.parametrize("field", ["v", "seq", "boot_id"])
def test_heartbeat_required_fields(field: str) -> None:
    payload = {k: v for k, v in FULL_HEARTBEAT.items() if k != field}
    err = rejection(HB_TOPIC, raw(payload))
    assert err.category == "invalid_payload"
    assert err.reason == f"{field}: Field required"


@pytest.mark.parametrize(
    ("field", "value"),
    [("battery", 0), ("battery", 100), ("lat", -90), ("lon", 180), ("seq", 2**40), ("lat", 1)],
)
def test_heartbeat_boundaries_are_accepted(field: str, value: object) -> None:
    msg = translate_hb({**FULL_HEARTBEAT, field: value})
    assert getattr(msg, field) == value


def test_rejection_names_the_nested_field() -> None:
    err = rejection(HB_TOPIC, raw({**FULL_HEARTBEAT, "now_playing": {"ad_id": "a"}}))
    assert err.reason == "now_playing.campaign_id: Field required"


@pytest.mark.parametrize("payload", [b"", b"{", b"{'v': 1}", b"\xff\xfe", b"nul"])
def test_invalid_json(payload: bytes) -> None:
    err = rejection(HB_TOPIC, payload)
    assert err.category == "invalid_json"
    assert err.reason.startswith("invalid JSON: ")


@pytest.mark.parametrize("payload", [b"[]", b'"online"', b"1", b"null"])
def test_json_that_is_not_an_object(payload: bytes) -> None:
    err = rejection(HB_TOPIC, payload)
    assert err.category == "invalid_payload"
    assert err.reason == "payload: Input should be an object"


def test_size_limit() -> None:
    base = raw({**FULL_HEARTBEAT, "pad": ""})
    exactly = raw({**FULL_HEARTBEAT, "pad": "x" * (LIMIT - len(base))})
    assert len(exactly) == LIMIT
    translate(HB_TOPIC, exactly, False, NOW, LIMIT)

    over = raw({**FULL_HEARTBEAT, "pad": "x" * (LIMIT - len(base) + 1)})
    err = rejection(HB_TOPIC, over)
    assert err.category == "too_large"
    assert err.reason == f"payload of {LIMIT + 1} bytes exceeds {LIMIT}"


def test_size_is_checked_before_parsing() -> None:
    err = rejection("tablets/t1/status", b"\xff" * (LIMIT + 1))
    assert err.category == "too_large"


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("tablets/t1", "unexpected topic"),
        ("tablets//heartbeat", "unexpected topic"),
        ("fleets/f1/alerts", "unexpected topic"),
        ("tablets", "unexpected topic"),
        ("tablets/t1/playlist", "unexpected topic kind 'playlist'"),
        ("tablets/t1/heartbeat/x", "unexpected topic kind 'heartbeat/x'"),
        ("tablets/t1/Heartbeat", "unexpected topic kind 'Heartbeat'"),
    ],
)
def test_bad_topics(topic: str, reason: str) -> None:
    err = rejection(topic, raw({"state": "online"}))
    assert err.category == "bad_topic"
    assert err.reason == reason


@pytest.mark.parametrize("retained", [True, False])
def test_status_without_ts_is_a_will(retained: bool) -> None:
    tablet_id, msg = translate("tablets/t9/status", b'{"state":"offline"}', retained, NOW, LIMIT)
    assert tablet_id == "t9"
    assert msg == StatusIn("t9", "offline", NOW, None, retained)


def test_status_with_ts_and_unknown_fields() -> None:
    payload = raw({"state": "online", "ts": "2024-05-01T09:59:00Z", "ip": "10.0.0.1"})
    _, msg = translate("tablets/t1/status", payload, True, NOW, LIMIT)
    assert msg == StatusIn("t1", "online", NOW, datetime(2024, 5, 1, 9, 59, tzinfo=UTC), True)


@pytest.mark.parametrize(
    "payload",
    [{"state": "gone"}, {"state": "ONLINE"}, {"state": 1}, {}, {"state": "online", "ts": 5}],
)
def test_status_rejections(payload: dict[str, Any]) -> None:
    assert rejection("tablets/t1/status", raw(payload)).category == "invalid_payload"


@pytest.mark.parametrize("topic", ["tablets/t1/status", HB_TOPIC])
def test_timestamps_without_offset_are_rejected(topic: str) -> None:
    payload = {**FULL_HEARTBEAT, "state": "offline"} if topic == HB_TOPIC else {"state": "offline"}
    payload["ts"] = "2024-05-01T09:59:00"
    err = rejection(topic, raw(payload))
    assert err.reason.startswith("ts")


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"etag": "e1", "status": "applied"}, AckIn("t1", "e1", "applied", None, NOW)),
        (
            {"etag": "e1", "status": "failed", "detail": "sha256 mismatch"},
            AckIn("t1", "e1", "failed", "sha256 mismatch", NOW),
        ),
        (  # unknown fields are ignored, as in every device payload
            {"etag": "e1", "status": "applied", "took_ms": 3},
            AckIn("t1", "e1", "applied", None, NOW),
        ),
    ],
)
def test_playlist_ack(payload: dict[str, Any], expected: AckIn) -> None:
    assert translate("tablets/t1/playlist/ack", raw(payload), False, NOW, LIMIT) == ("t1", expected)


@pytest.mark.parametrize(
    "payload",
    [
        {"etag": "e1", "status": "done"},
        {"etag": "e1"},
        {"status": "applied"},
        {"etag": "e1", "status": "failed", "detail": "x" * 1025},
        {"etag": 1, "status": "applied"},
    ],
)
def test_playlist_ack_rejections(payload: dict[str, Any]) -> None:
    err = rejection("tablets/t1/playlist/ack", raw(payload))
    assert err.category == "invalid_payload"


def test_tablet_topics_replace_the_wildcard() -> None:
    assert tablet_topics("t7") == (
        "tablets/t7/status",
        "tablets/t7/heartbeat",
        "tablets/t7/playlist/ack",
        "tablets/t7/plays",
        "tablets/t7/media/status",
        "tablets/t7/commands/result",
    )
    assert all("+" in f for f in SUBSCRIPTIONS)


VALID_ITEM: dict[str, Any] = {
    "ad_id": "ad-1",
    "campaign_id": "c1",
    "url": "https://cdn.example/a.mp4",
    "sha256": "0" * 64,
    "duration_ms": 15_000,
}


def test_playlist_item_valid() -> None:
    parsed = parse_payload(PlaylistItem, raw(VALID_ITEM), LIMIT)
    assert parsed.position is None
    assert parse_payload(PlaylistItem, raw({**VALID_ITEM, "position": 0}), LIMIT).position == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "ftp://cdn.example/a.mp4"),
        ("url", ""),
        ("sha256", "A" * 64),
        ("sha256", "0" * 63),
        ("duration_ms", 0),
        ("duration_ms", 3_600_001),
        ("duration_ms", "15000"),
        ("position", -1),
        ("extra", 1),
    ],
)
def test_playlist_item_rejections(field: str, value: object) -> None:
    with pytest.raises(PayloadError, match=f"^{field}"):
        parse_payload(PlaylistItem, raw({**VALID_ITEM, field: value}), LIMIT)


def test_parse_payload_returns_the_model() -> None:
    hb = parse_payload(Heartbeat, raw(FULL_HEARTBEAT), LIMIT)
    ts = hb.model_dump()["ts"]
    assert ts == datetime(2024, 5, 1, 9, 59, 59, 500_000, tzinfo=timezone(timedelta(hours=8)))
