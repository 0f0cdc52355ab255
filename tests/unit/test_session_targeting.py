"""A tablet session's campaigns: it publishes a new manifest exactly when its eligible set
changes (a fix entering or leaving a zone, a new book, an edge, a stale fix), never for a
car along a border, and an emergency is published as it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from actors.effects import Outcome, Publish
from actors.messages import (
    Arm,
    CampaignBook,
    DesiredPlaylist,
    Expired,
    HeartbeatIn,
    TabletConfig,
    TabletSnapshot,
)
from actors.rules.geo import ZoneIndex, parse_zone
from actors.rules.hours import parse_hours
from actors.rules.tablet_session import TabletSession
from actors.rules.targeting import Book, CampaignRule, Creative, Hysteresis
from contract.manifest import Manifest
from contract.media import Downloads

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
CBD = parse_zone(
    json.dumps(
        {
            "type": "Polygon",
            "coordinates": [
                [[103.84, 1.27], [103.86, 1.27], [103.86, 1.29], [103.84, 1.29], [103.84, 1.27]]
            ],
        }
    )
)
INSIDE, OUTSIDE = (1.28, 103.85), (1.35, 103.95)
HYST = Hysteresis(leave_fixes=3, leave_after_s=600, stale_after_s=120)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def creative(name: str) -> Creative:
    return Creative(
        {
            "ad_id": name,
            "campaign_id": "cbd-promo",
            "url": f"http://panel.invalid/media/{name[0] * 64}",
            "sha256": name[0] * 64,
            "duration_ms": 5000,
            "media_id": "m-" + "a" * 16,
            "media_version": 1,
        },
        1234,
    )


def book(*rules: CampaignRule, version: int = 1) -> Book:
    index = ZoneIndex.of([("z-cbd", CBD.geometry)])
    return Book.of({"f1": rules}, index, HYST, version)


ZONED = CampaignRule(
    "t", "cbd-promo", at(-3600), at(86_400), (creative("cbd"),), zones=frozenset({"z-cbd"})
)
EVERYWHERE = CampaignRule("t", "everywhere", at(-3600), at(86_400), (creative("eve"),))
BASE = Manifest(
    "pl-base",
    1,
    "normal",
    T0,
    None,
    300,
    (
        {
            "ad_id": "b",
            "campaign_id": "house",
            "url": "https://x.invalid/b",
            "sha256": "b" * 64,
            "duration_ms": 10_000,
            "position": 0,
        },
    ),
)
LINKS = Downloads(at(86_400), {}, "http://panel.invalid/media/", "tablet=t1&sig=x")


def session() -> TabletSession:
    cfg = TabletConfig("t1", "f1", None, 10, 60, 300, 6, parse_hours("", "Asia/Singapore"))
    return TabletSession(TabletSnapshot(config=cfg))


def desired(manifest: Manifest = BASE, seconds: float = 0) -> DesiredPlaylist:
    return DesiredPlaylist(
        "t1", manifest.etag, manifest.to_json(), at(seconds), base=manifest, downloads=LINKS
    )


def fix(seconds: float, where: tuple[float, float], seq: int) -> HeartbeatIn:
    lat, lon = where
    return HeartbeatIn(
        "t1",
        at(seconds),
        None,
        seq,
        "boot",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        lat,
        lon,
        None,
    )


def published(out: Outcome) -> list[dict[str, object]]:
    return [json.loads(e.payload) for e in out.effects if isinstance(e, Publish)]


def ads(manifest: dict[str, object]) -> list[str]:
    items = manifest["items"]
    assert isinstance(items, list)
    return [str(i["ad_id"]) for i in sorted(items, key=lambda i: i["position"])]


def test_entering_a_zone_publishes_its_campaign_once_and_leaving_removes_it() -> None:
    s = session()
    s.on_book(CampaignBook(book(ZONED), at(0)))
    first = published(s.on_desired(desired()))
    assert [ads(m) for m in first] == [["b"]]  # no position yet: the zone campaign waits
    entered = published(s.on_heartbeat(fix(10, INSIDE, 1)))
    assert [ads(m) for m in entered] == [["b", "cbd"]]
    items = entered[0]["items"]
    assert isinstance(items, list)
    item = next(i for i in items if i["ad_id"] == "cbd")
    assert item["download_url"].endswith("?tablet=t1&sig=x")
    assert item["bytes"] == 1234
    assert published(s.on_heartbeat(fix(20, INSIDE, 2))) == []  # still inside: nothing new
    assert published(s.on_heartbeat(fix(30, OUTSIDE, 3))) == []  # 1 fix outside
    assert published(s.on_heartbeat(fix(40, OUTSIDE, 4))) == []  # 2
    left = published(s.on_heartbeat(fix(50, OUTSIDE, 5)))  # 3: left
    assert [ads(m) for m in left] == [["b"]]
    assert left[0]["etag"] == BASE.etag


def test_driving_along_the_border_publishes_nothing_after_entering() -> None:
    s = session()
    s.on_book(CampaignBook(book(ZONED), at(0)))
    s.on_desired(desired())
    assert len(published(s.on_heartbeat(fix(10, INSIDE, 1)))) == 1
    for n in range(2, 30):
        where = INSIDE if n % 2 else OUTSIDE
        assert published(s.on_heartbeat(fix(10 * n, where, n))) == [], n


def test_a_stale_fix_falls_back_to_the_campaigns_without_zones() -> None:
    s = session()
    s.on_book(CampaignBook(book(ZONED, EVERYWHERE), at(0)))
    s.on_desired(desired())
    out = s.on_heartbeat(fix(10, INSIDE, 1))
    assert [ads(m) for m in published(out)] == [["b", "cbd", "eve"]]
    timers = [t for t in out.timers if t.kind == "place"]
    assert timers == [Arm("t1", "place", at(130))]
    early = s.on_expired(Expired("t1", "place", at(130), at(100)))  # a stale timer: re-armed
    assert published(early) == []
    stale = s.on_expired(Expired("t1", "place", at(130), at(130)))
    assert [ads(m) for m in published(stale)] == [["b", "eve"]]


def test_a_new_book_and_an_emergency() -> None:
    s = session()
    s.on_book(CampaignBook(book(), at(0)))
    assert [ads(m) for m in published(s.on_desired(desired()))] == [["b"]]
    added = published(s.on_book(CampaignBook(book(EVERYWHERE, version=2), at(5))))
    assert [ads(m) for m in added] == [["b", "eve"]]
    assert published(s.on_book(CampaignBook(book(EVERYWHERE, version=3), at(6)))) == []
    emergency = Manifest("pl-sos", 1, "emergency", at(7), at(3600), 300, BASE.items)
    sos = published(s.on_desired(desired(emergency, 7)))
    assert [ads(m) for m in sos] == [["b"]]
    assert sos[0]["etag"] == emergency.etag  # as it is: nothing added to an emergency
    assert published(s.on_heartbeat(fix(20, INSIDE, 1))) == []


def test_without_a_base_the_hubs_manifest_is_published_as_it_is() -> None:
    s = session()
    s.on_book(CampaignBook(book(EVERYWHERE), at(0)))
    plain = DesiredPlaylist("t1", BASE.etag, BASE.to_json(), at(1))
    assert [m["etag"] for m in published(s.on_desired(plain))] == [BASE.etag]
