"""Eligibility (flight, dayparts, fleets, zones), hysteresis and the composed loop."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from actors.rules.dayparts import Daypart
from actors.rules.targeting import (
    Book,
    CampaignRule,
    Creative,
    Hysteresis,
    Place,
    compose,
    daypart_active,
    eligible,
    loop_pods,
    next_edge,
)
from contract.manifest import Manifest

SG = "Asia/Singapore"
BERLIN = "Europe/Berlin"
T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # Monday 12:00 in Singapore


def creative(name: str, ms: int = 10_000) -> Creative:
    item = {
        "ad_id": name,
        "campaign_id": "c",
        "url": f"https://x.invalid/{name}",
        "sha256": name[0] * 64,
        "duration_ms": ms,
        "media_id": "m-" + "0" * 16,
        "media_version": 1,
    }
    return Creative(item, 100)


def rule(campaign_id: str = "c1", **kw: object) -> CampaignRule:
    args: dict[str, object] = {
        "tenant_id": "t",
        "campaign_id": campaign_id,
        "flight_start": T0 - timedelta(days=1),
        "flight_end": T0 + timedelta(days=1),
        "creatives": (creative("a"),),
    }
    args.update(kw)
    return CampaignRule(**args)  # type: ignore[arg-type]


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def test_a_flight_is_half_open_in_instants_entered_in_local_time() -> None:
    start, end = local(SG, 2026, 3, 1, 0, 0), local(SG, 2026, 3, 8, 0, 0)
    r = rule(flight_start=start, flight_end=end)
    assert not r.eligible(start - timedelta(seconds=1), "f", SG, None)
    assert r.eligible(start, "f", SG, None)
    assert r.eligible(end - timedelta(seconds=1), "f", SG, None)
    assert not r.eligible(end, "f", SG, None)


def test_a_flight_ending_at_local_midnight_across_dst_ends_then() -> None:
    # Berlin's clocks go forward on 2026-03-29: local midnight of the 30th is 22:00 UTC.
    end = local(BERLIN, 2026, 3, 30, 0, 0)
    assert end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)
    r = rule(flight_start=end - timedelta(days=3), flight_end=end)
    assert r.eligible(end - timedelta(minutes=1), "f", BERLIN, None)
    assert not r.eligible(end, "f", BERLIN, None)


def test_dayparts_are_read_in_the_fleets_zone() -> None:
    evening = Daypart.parse("1-5", "19:00-22:00")
    at = local(SG, 2026, 3, 2, 20, 0)  # Monday 20:00 in Singapore, 13:00 in Berlin
    assert daypart_active(evening, at, SG)
    assert not daypart_active(evening, at, BERLIN)
    assert not daypart_active(evening, local(SG, 2026, 3, 2, 22, 0), SG)  # half open
    assert not daypart_active(evening, local(SG, 2026, 3, 7, 20, 0), SG)  # Saturday


def test_a_daypart_across_midnight_belongs_to_the_day_it_starts() -> None:
    friday_night = Daypart.parse("5", "22:00-02:00")
    assert daypart_active(friday_night, local(SG, 2026, 3, 6, 23, 0), SG)  # Friday 23:00
    assert daypart_active(friday_night, local(SG, 2026, 3, 7, 1, 59), SG)  # Saturday 01:59
    assert not daypart_active(friday_night, local(SG, 2026, 3, 7, 2, 0), SG)
    assert not daypart_active(friday_night, local(SG, 2026, 3, 7, 23, 0), SG)  # Saturday
    assert not daypart_active(friday_night, local(SG, 2026, 3, 6, 1, 0), SG)  # Fri morning


def test_a_daypart_keeps_the_wall_clock_across_dst() -> None:
    morning = Daypart.parse(None, "07:00-10:00")
    before = local(BERLIN, 2026, 3, 28, 7, 30)  # CET
    after = local(BERLIN, 2026, 3, 30, 7, 30)  # CEST: an hour earlier in UTC
    assert before.hour == 6
    assert after.hour == 5
    assert daypart_active(morning, before, BERLIN)
    assert daypart_active(morning, after, BERLIN)
    assert not daypart_active(morning, after - timedelta(hours=1), BERLIN)


def test_fleets_and_zones_narrow_where_a_campaign_plays() -> None:
    r = rule(fleets=frozenset({"f1"}), zones=frozenset({"z-cbd"}))
    assert r.eligible(T0, "f1", SG, frozenset({"z-cbd", "z-other"}))
    assert not r.eligible(T0, "f2", SG, frozenset({"z-cbd"}))
    assert not r.eligible(T0, "f1", SG, frozenset({"z-other"}))
    assert not r.eligible(T0, "f1", SG, None)  # stale or unknown position
    anywhere = rule()
    assert anywhere.eligible(T0, "f2", SG, None)  # no zones: plays without a position
    assert not rule(multiplier=0.0).eligible(T0, "f1", SG, None)  # paced out


def test_eligible_campaigns_come_highest_priority_first() -> None:
    book = Book.of(
        {"f": (rule("low", priority=1), rule("high", priority=5))}, None, Hysteresis(), 1
    )
    assert [r.campaign_id for r in eligible(book, "f", SG, T0, None)] == ["high", "low"]


HYST = Hysteresis(leave_fixes=3, leave_after_s=60, stale_after_s=300)


def test_a_zone_is_entered_on_one_fix_and_left_after_three_outside() -> None:
    place = Place().moved(frozenset({"z"}), T0, HYST)
    assert place.inside == {"z"}
    for n in (1, 2):
        place = place.moved(frozenset(), T0 + timedelta(seconds=10 * n), HYST)
        assert place.inside == {"z"}, n
    place = place.moved(frozenset(), T0 + timedelta(seconds=30), HYST)
    assert place.inside == frozenset()


def test_a_car_along_the_border_does_not_flap() -> None:
    place = Place().moved(frozenset({"z"}), T0, HYST)
    for n in range(1, 40):  # in, out, in, out every 10 s
        hits = frozenset({"z"}) if n % 2 == 0 else frozenset()
        place = place.moved(hits, T0 + timedelta(seconds=10 * n), HYST)
        assert place.inside == {"z"}, n


def test_a_zone_is_left_once_the_first_fix_outside_is_old_enough() -> None:
    slow = Hysteresis(leave_fixes=10, leave_after_s=60, stale_after_s=300)
    place = Place().moved(frozenset({"z"}), T0, slow)
    place = place.moved(frozenset(), T0 + timedelta(seconds=10), slow)
    place = place.moved(frozenset(), T0 + timedelta(seconds=69), slow)
    assert place.inside == {"z"}
    place = place.moved(frozenset(), T0 + timedelta(seconds=70), slow)
    assert place.inside == frozenset()


def test_a_stale_fix_is_no_position_and_an_older_fix_changes_nothing() -> None:
    place = Place().moved(frozenset({"z"}), T0, HYST)
    assert place.zones(T0 + timedelta(seconds=299), HYST) == frozenset({"z"})
    assert place.zones(T0 + timedelta(seconds=300), HYST) is None
    assert place.moved(frozenset(), T0 - timedelta(seconds=5), HYST) is place
    later = place.moved(frozenset(), T0 + timedelta(seconds=400), HYST)  # after stale
    assert later.inside == frozenset()


BASE = Manifest(
    "pl-base",
    1,
    "normal",
    T0,
    None,
    300,
    tuple(
        {
            "ad_id": f"b{n}",
            "campaign_id": "house",
            "url": "https://x.invalid/b",
            "sha256": "b" * 64,
            "duration_ms": 10_000,
            "position": n,
        }
        for n in range(4)
    ),
)


def test_pods_follow_priority_pacing_and_share_of_voice() -> None:
    assert loop_pods(40_000, [rule("p3", priority=3)]) == (("p3", 3),)
    assert loop_pods(40_000, [rule("half", priority=4, multiplier=0.5)]) == (("half", 2),)
    assert loop_pods(40_000, [rule("min", priority=1, multiplier=0.25)]) == (("min", 1),)
    assert loop_pods(40_000, [rule("off", multiplier=0.0)]) == ()
    # 20 % of the loop's time with 40 s of base: 10 s, one pod of a 10 s creative.
    assert loop_pods(40_000, [rule("sov", share_of_voice=20)]) == (("sov", 1),)
    # 50 %: as long as the rest (40 s) — four pods.
    assert loop_pods(40_000, [rule("sov", share_of_voice=50)]) == (("sov", 4),)


def test_the_loop_spreads_each_campaign_evenly_and_keeps_the_base_order() -> None:
    book = Book.of(
        {"f": (rule("c1", creatives=(creative("x"), creative("y"))),)}, None, Hysteresis(), 1
    )
    manifest, sizes = compose(BASE, book, "f", (("c1", 2),))
    ads = [i["ad_id"] for i in sorted(manifest.items, key=lambda i: i["position"])]
    assert ads == ["b0", "x", "b1", "y", "b2", "x", "b3", "y"]
    assert [i["position"] for i in manifest.items] == list(range(8))
    assert sizes == {"x" * 64: 100, "y" * 64: 100}
    again, _ = compose(BASE, book, "f", (("c1", 2),))
    assert again.etag == manifest.etag != BASE.etag
    assert compose(BASE, book, "f", ())[0] is BASE


def test_the_next_edge_is_a_flight_or_daypart_boundary() -> None:
    evening = Daypart.parse(None, "19:00-22:00")
    r = rule(dayparts=(evening,), flight_end=T0 + timedelta(days=3))
    assert next_edge([r], [SG], T0) == local(SG, 2026, 3, 2, 19, 0)
    assert next_edge([r], [SG], local(SG, 2026, 3, 2, 19, 0)) == local(SG, 2026, 3, 2, 22, 0)
    plain = rule(flight_start=T0 + timedelta(hours=1))
    assert next_edge([plain], [SG], T0) == T0 + timedelta(hours=1)
    assert next_edge([rule()], [SG], T0 + timedelta(days=2)) is None
    assert time(19) == evening.start
