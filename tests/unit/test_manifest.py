"""Manifests and their etags, item content addresses, and assignment targets."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from config.errors import ConfigError
from contract.manifest import EMPTY_PLAYLIST_ID, Manifest, canonical, items_id, normalise
from contract.payloads import PlaylistItem
from store.playlists import Target, empty_manifest

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SHA_A, SHA_B = "a" * 64, "b" * 64


def item(ad: str, sha: str = SHA_A, position: int | None = None, ms: int = 15_000) -> PlaylistItem:
    return PlaylistItem(
        ad_id=ad,
        campaign_id="c1",
        url=f"https://cdn.example/{ad}.mp4",
        sha256=sha,
        duration_ms=ms,
        position=position,
    )


def manifest(**changes: Any) -> Manifest:
    base = Manifest(
        playlist_id="pl-1",
        version=1,
        priority="normal",
        issued_at=T0,
        valid_until=None,
        refresh_interval_s=300,
        items=tuple(i.model_dump() for i in normalise([item("ad-1"), item("ad-2", SHA_B)])),
    )
    return replace(base, **changes)


def test_etag_ignores_issued_at() -> None:
    assert manifest().etag == manifest(issued_at=T0 + timedelta(days=3)).etag


def test_etag_ignores_dict_key_order_and_item_order() -> None:
    m = manifest()
    shuffled = tuple(dict(reversed(list(i.items()))) for i in reversed(m.items))
    assert list(shuffled[0]) != list(m.items[0])
    assert manifest(items=shuffled).etag == m.etag


@pytest.mark.parametrize(
    "changes",
    [
        {"priority": "emergency"},
        {"valid_until": T0 + timedelta(hours=1)},
        {"playlist_id": "pl-2"},
        {"version": 2},
        {"refresh_interval_s": 60},
    ],
)
def test_etag_changes_with_the_body(changes: dict[str, Any]) -> None:
    assert manifest(**changes).etag != manifest().etag


def test_etag_changes_with_valid_until_value() -> None:
    one = manifest(valid_until=T0 + timedelta(hours=1))
    two = manifest(valid_until=T0 + timedelta(hours=2))
    assert one.etag != two.etag


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ad_id", "ad-9"),
        ("campaign_id", "c9"),
        ("url", "https://cdn.example/other.mp4"),
        ("sha256", "c" * 64),
        ("duration_ms", 16_000),
        ("position", 7),
    ],
)
def test_etag_changes_when_any_item_field_changes(field: str, value: object) -> None:
    m = manifest()
    changed = ({**m.items[0], field: value}, *m.items[1:])
    assert manifest(items=changed).etag != m.etag


def test_etag_changes_when_an_item_is_added_or_removed() -> None:
    m = manifest()
    assert manifest(items=m.items[:1]).etag != m.etag
    extra = {**m.items[0], "position": 2, "ad_id": "ad-3"}
    assert manifest(items=(*m.items, extra)).etag != m.etag


def test_etag_shape() -> None:
    etag = manifest().etag
    assert len(etag) == 32
    assert int(etag, 16) >= 0


def test_to_json_is_canonical_and_carries_etag_and_issued_at() -> None:
    m = manifest(valid_until=T0 + timedelta(hours=1))
    text = m.to_json()
    assert text == canonical({**m.body(), "etag": m.etag, "issued_at": T0.isoformat()})
    assert " " not in text
    assert '"valid_until":"2024-05-01T11:00:00+00:00"' in text
    assert [i["position"] for i in m.body()["items"]] == [0, 1]


def test_canonical_keeps_non_ascii() -> None:
    assert canonical({"b": "é", "a": 1}) == '{"a":1,"b":"é"}'


def test_normalise_fills_positions_in_given_order() -> None:
    out = normalise([item("ad-1"), item("ad-2"), item("ad-3")])
    assert [(i.ad_id, i.position) for i in out] == [("ad-1", 0), ("ad-2", 1), ("ad-3", 2)]


def test_normalise_keeps_explicit_positions() -> None:
    given = [item("ad-1", position=5), item("ad-2")]
    out = normalise(given)
    assert [i.position for i in out] == [5, 1]
    assert given[1].position is None  # the input is not mutated


def test_items_id_is_a_content_address() -> None:
    items = [item("ad-1"), item("ad-2", SHA_B)]
    first = items_id(items)
    assert first.startswith("pl-")
    assert len(first) == 3 + 16
    assert items_id([item("ad-1"), item("ad-2", SHA_B)]) == first
    # explicit positions equal to the implicit ones: the same content
    assert items_id([item("ad-1", position=0), item("ad-2", SHA_B, position=1)]) == first


@pytest.mark.parametrize(
    "other",
    [
        [item("ad-1")],
        [item("ad-2", SHA_B), item("ad-1")],  # order is part of a playlist
        [item("ad-1"), item("ad-2", SHA_A)],
        [item("ad-1"), item("ad-2", SHA_B, ms=1)],
        [item("ad-1", position=3), item("ad-2", SHA_B, position=4)],
    ],
)
def test_items_id_changes_with_content(other: list[PlaylistItem]) -> None:
    assert items_id(other) != items_id([item("ad-1"), item("ad-2", SHA_B)])


def test_items_id_ignores_listing_order_of_positioned_items() -> None:
    a, b = item("ad-1", position=0), item("ad-2", SHA_B, position=1)
    assert items_id([b, a]) == items_id([a, b])


def test_empty_manifest_is_stable() -> None:
    m = empty_manifest(300)
    assert m.playlist_id == EMPTY_PLAYLIST_ID
    assert m.items == ()
    assert m.etag == empty_manifest(300).etag
    assert m.etag != empty_manifest(60).etag


@pytest.mark.parametrize(
    ("text", "kind", "ident"),
    [
        ("all", "all", None),
        ("tablet:t-1", "tablet", "t-1"),
        ("car:SGX1234A", "car", "SGX1234A"),
        ("fleet:f1", "fleet", "f1"),
        ("tablet:a:b", "tablet", "a:b"),
    ],
)
def test_target_parse(text: str, kind: str, ident: str | None) -> None:
    target = Target.parse(text)
    assert (target.kind, target.id) == (kind, ident)
    assert str(target) == text


@pytest.mark.parametrize("text", ["", "ALL", "tablet", "tablet:", ":t1", "bus:1", "all:x"])
def test_target_parse_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="use tablet:ID, car:ID, fleet:ID or all"):
        Target.parse(text)
