"""What a simulated tablet sends, and which manifests it accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools.simulator.payloads import ManifestRejected, heartbeat, playlist_ack, read_manifest


def manifest(**changes: Any) -> bytes:
    document: dict[str, Any] = {
        "v": 1,
        "etag": "e-1",
        "playlist_id": "pl-1",
        "version": 3,
        "priority": "normal",
        "issued_at": "2025-01-01T10:00:00Z",
        "valid_until": None,
        "refresh_interval_s": 300,
        "items": [
            {
                "ad_id": "ad-b",
                "campaign_id": "c-1",
                "url": "https://cdn/b.mp4",
                "sha256": "0" * 64,
                "duration_ms": 15_000,
                "position": 1,
            },
            {
                "ad_id": "ad-a",
                "campaign_id": "c-2",
                "url": "https://cdn/a.mp4",
                "sha256": "1" * 64,
                "duration_ms": 10_000,
                "position": 0,
            },
        ],
    }
    document.update(changes)
    return json.dumps({key: value for key, value in document.items() if value != ...}).encode()


def test_valid_manifest_plays_in_position_order() -> None:
    parsed = read_manifest(manifest(extra_field="ignored"))
    assert parsed.etag == "e-1"
    assert parsed.rotation() == (("ad-a", "c-2"), ("ad-b", "c-1"))


@pytest.mark.parametrize(
    ("raw", "etag", "reason"),
    [
        (b"not json", None, "not JSON"),
        (b"[1, 2]", None, "no etag"),
        (manifest(etag=""), None, "no etag"),
        (manifest(etag=...), None, "no etag"),
        (manifest(items=...), "e-1", "items"),
        (manifest(priority="urgent"), "e-1", "priority"),
        (manifest(issued_at="yesterday"), "e-1", "issued_at"),
        (manifest(items=[{"ad_id": "x"}]), "e-1", "items.0"),
    ],
)
def test_rejected_manifests_say_why(raw: bytes, etag: str | None, reason: str) -> None:
    with pytest.raises(ManifestRejected) as caught:
        read_manifest(raw)
    assert caught.value.etag == etag
    assert reason in caught.value.reason


def test_heartbeat_follows_the_contract() -> None:
    raw = heartbeat(
        seq=7,
        boot_id="b" * 32,
        playlist_etag=None,
        now_playing=("ad-a", "c-2"),
        battery=55,
        charging=False,
        disk_free_mb=1_234,
        app_version="sim-1",
        lat=52.5,
        lon=13.4,
    )
    document = json.loads(raw)
    assert document.pop("ts").endswith("+00:00")
    assert document == {
        "v": 1,
        "seq": 7,
        "boot_id": "b" * 32,
        "playlist_etag": None,
        "now_playing": {"ad_id": "ad-a", "campaign_id": "c-2"},
        "battery": 55,
        "charging": False,
        "disk_free_mb": 1_234,
        "app_version": "sim-1",
        "lat": 52.5,
        "lon": 13.4,
    }


def test_ack_follows_the_contract() -> None:
    assert json.loads(playlist_ack("e-1", "failed", "bad")) == {
        "etag": "e-1",
        "status": "failed",
        "detail": "bad",
    }
