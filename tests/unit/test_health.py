"""Health incidents (actors/rules/health.py): each kind opens once and resolves once."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from actors.effects import IncidentEvent, Outcome
from actors.messages import DesiredPlaylist, HeartbeatIn, TabletConfig, TabletSnapshot
from actors.rules.hours import parse_hours
from actors.rules.tablet_session import TabletSession
from config.health import HealthPolicy, PolicyError, version_key

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # a Wednesday, 10:00 UTC
POLICY = HealthPolicy(clear_s=120, not_charging_s=600, min_app_version="2.0")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def config(policy: HealthPolicy = POLICY, hours: str = "") -> TabletConfig:
    return TabletConfig("t1", "f1", None, 30, 90, 300, 6, parse_hours(hours), policy)


class Tablet:
    """A session fed heartbeats every 30 s, each with these fields unless told otherwise."""

    def __init__(self, cfg: TabletConfig | None = None, **fields: Any) -> None:
        self.session = TabletSession(TabletSnapshot(config=cfg or config()))
        self.seq = 0
        self.fields: dict[str, Any] = {
            "boot_id": "boot-a",
            "ad_id": None,
            "battery": 80,
            "charging": True,
            "disk_free_mb": 2048,
            "app_version": "2.1.0",
        }
        self.fields.update(fields)
        self.events: list[IncidentEvent] = []

    def beat(self, t: float, **fields: Any) -> Outcome:
        values = {**self.fields, **fields}
        skew = values.pop("skew_s", 0)
        hb = HeartbeatIn(
            tablet_id="t1",
            received_at=at(t),
            device_ts=at(t + skew),
            seq=self.seq,
            playlist_etag=None,
            campaign_id=None,
            lat=None,
            lon=None,
            extra_json=None,
            **values,
        )
        self.seq += 1
        out = self.session.on_heartbeat(hb)
        self.events += [e for e in out.effects if isinstance(e, IncidentEvent)]
        return out

    def seen(self) -> list[tuple[str, str]]:
        return [(e.kind, e.event) for e in self.events]


def test_low_storage_opens_once_and_resolves_after_clear_time() -> None:
    tablet = Tablet()
    tablet.beat(0)
    for t in (30, 60, 90):
        tablet.beat(t, disk_free_mb=120)
    assert tablet.seen() == [("low_storage", "opened")]
    assert tablet.events[0].detail == "120 MB free (limit 500 MB)"
    assert tablet.events[0].opened_at == at(30)
    tablet.beat(120, disk_free_mb=900)  # clear, but not yet for clear_s
    tablet.beat(180, disk_free_mb=400)  # hovering: folded into the open incident
    tablet.beat(210, disk_free_mb=900)
    tablet.beat(300, disk_free_mb=900)
    assert tablet.seen() == [("low_storage", "opened")]
    tablet.beat(330, disk_free_mb=900)  # clear for 120 s
    assert tablet.seen() == [("low_storage", "opened"), ("low_storage", "resolved")]
    assert tablet.events[1].incident_id == tablet.events[0].incident_id
    tablet.beat(360, disk_free_mb=900)
    assert len(tablet.events) == 2


def test_crash_loop_counts_new_boots_within_an_hour() -> None:
    tablet = Tablet()
    tablet.beat(0, boot_id="b1")
    tablet.beat(600, boot_id="b2")
    tablet.beat(630, boot_id="b2")
    assert tablet.seen() == []
    tablet.beat(1200, boot_id="b3")
    assert tablet.seen() == [("crash_loop", "opened")]
    assert tablet.events[0].detail == "3 boots within an hour (limit 3)"
    tablet.beat(3000, boot_id="b3")
    assert tablet.seen() == [("crash_loop", "opened")]  # b1 is still within the hour
    tablet.beat(3700, boot_id="b3")  # b1 left the hour: clear from here
    tablet.beat(3820, boot_id="b3")
    assert tablet.seen() == [("crash_loop", "opened"), ("crash_loop", "resolved")]


def test_playback_stuck_measures_the_item_duration_times_the_factor() -> None:
    tablet = Tablet(ad_id="ad-1")
    items = [{"ad_id": "ad-1", "duration_ms": 20_000}, {"ad_id": "ad-2", "duration_ms": 15_000}]
    manifest = {"items": items}
    tablet.session.on_desired(DesiredPlaylist("t1", "e1", json.dumps(manifest), at(0)))
    tablet.beat(0)
    tablet.beat(30, ad_id="ad-2")
    tablet.beat(60, ad_id="ad-1")
    tablet.beat(90, ad_id="ad-1")
    assert tablet.seen() == []  # 30 s of a 20 s ad: below 3 × 20 s
    tablet.beat(130, ad_id="ad-1")
    assert tablet.seen() == [("playback_stuck", "opened")]
    tablet.beat(150, ad_id="ad-2")
    tablet.beat(270, ad_id="ad-1")
    assert tablet.seen() == [("playback_stuck", "opened"), ("playback_stuck", "resolved")]


def test_one_ad_playlists_are_never_stuck() -> None:
    tablet = Tablet(ad_id="ad-1")
    manifest = {"items": [{"ad_id": "ad-1", "duration_ms": 10_000}]}
    tablet.session.on_desired(DesiredPlaylist("t1", "e1", json.dumps(manifest), at(0)))
    for t in range(0, 3600, 30):
        tablet.beat(t)
    assert tablet.seen() == []


def test_not_charging_needs_a_falling_battery_for_the_period() -> None:
    tablet = Tablet()
    tablet.beat(0, charging=False, battery=90)
    tablet.beat(300, charging=False, battery=90)
    tablet.beat(700, charging=False, battery=90)  # not charging, but not falling either
    assert tablet.seen() == []
    tablet.beat(730, charging=False, battery=85)
    assert tablet.seen() == [("not_charging", "opened")]
    tablet.beat(760, charging=True, battery=85)
    tablet.beat(900, charging=True, battery=86)
    assert tablet.seen() == [("not_charging", "opened"), ("not_charging", "resolved")]


def test_clock_skew_needs_two_skewed_heartbeats_running() -> None:
    tablet = Tablet()
    tablet.beat(0, skew_s=-900)  # one late heartbeat: a delay
    tablet.beat(30)
    tablet.beat(60, skew_s=400)
    assert tablet.seen() == []
    tablet.beat(90, skew_s=400)
    assert tablet.seen() == [("clock_skew", "opened")]
    assert "ahead of" in (tablet.events[0].detail or "")
    tablet.beat(120)
    tablet.beat(240)
    assert tablet.seen() == [("clock_skew", "opened"), ("clock_skew", "resolved")]


def test_clock_skew_is_not_judged_while_a_restarted_hub_catches_up() -> None:
    tablet = Tablet()
    tablet.session.resume(at(0))  # heartbeats the broker held arrive late for offline_after
    for t in (1, 2, 3):
        tablet.beat(t, skew_s=-600)
    assert tablet.seen() == []


def test_app_outdated_against_the_fleets_minimum() -> None:
    tablet = Tablet(app_version="1.9.9")
    tablet.beat(0)
    assert tablet.seen() == [("app_outdated", "opened")]
    tablet.beat(30, app_version="2.0")
    tablet.beat(150, app_version="2.0.1")
    assert tablet.seen() == [("app_outdated", "opened"), ("app_outdated", "resolved")]
    no_minimum = Tablet(config(replace(POLICY, min_app_version=None)), app_version="0.1")
    no_minimum.beat(0)
    assert no_minimum.seen() == []


def test_kinds_are_independent_and_open_beside_an_offline_incident() -> None:
    tablet = Tablet(app_version="1.0")
    tablet.beat(0, disk_free_mb=10)
    assert sorted(tablet.seen()) == [("app_outdated", "opened"), ("low_storage", "opened")]
    snap = tablet.session.snapshot()
    assert sorted(r.kind for r in snap.open_health) == ["app_outdated", "low_storage"]


def test_out_of_hours_nothing_opens_and_it_opens_when_the_fleet_opens() -> None:
    tablet = Tablet(config(hours="mon-fri 11:00-17:00"))  # T0 is 10:00
    tablet.beat(0, disk_free_mb=10)
    tablet.beat(1800, disk_free_mb=10)
    assert tablet.seen() == []
    tablet.beat(3600, disk_free_mb=10)  # 11:00
    assert tablet.seen() == [("low_storage", "opened")]


def test_a_rebuilt_session_keeps_its_open_incidents_without_duplicates() -> None:
    tablet = Tablet()
    tablet.beat(0, disk_free_mb=10)
    snap = tablet.session.snapshot()
    rebuilt = Tablet()
    rebuilt.session = TabletSession(snap)
    rebuilt.session.resume(at(60))
    rebuilt.seq = tablet.seq
    rebuilt.beat(200, disk_free_mb=10)
    assert rebuilt.seen() == []  # still open: not a second one
    rebuilt.beat(230)
    rebuilt.beat(400)
    assert rebuilt.seen() == [("low_storage", "resolved")]
    assert rebuilt.events[0].incident_id == tablet.events[0].incident_id


def test_a_rebuilt_session_does_not_resolve_a_crash_loop_it_cannot_judge() -> None:
    tablet = Tablet()
    for n, t in enumerate((0, 60, 120)):
        tablet.beat(t, boot_id=f"b{n}")
    assert tablet.seen() == [("crash_loop", "opened")]
    rebuilt = Tablet()
    rebuilt.session = TabletSession(tablet.session.snapshot())
    rebuilt.session.resume(at(200))  # the boot times are not in the snapshot
    rebuilt.seq = tablet.seq
    rebuilt.beat(400, boot_id="b2")
    rebuilt.beat(3000, boot_id="b2")
    assert rebuilt.seen() == []
    rebuilt.beat(3900, boot_id="b2")
    rebuilt.beat(4100, boot_id="b2")
    assert rebuilt.seen() == [("crash_loop", "resolved")]


def test_a_redelivered_heartbeat_is_not_judged_again() -> None:
    tablet = Tablet()
    tablet.beat(0, boot_id="b0")
    tablet.beat(10, boot_id="b1")
    tablet.seq -= 1
    tablet.beat(11, boot_id="b1")  # the same (boot, seq) again: not a new boot
    tablet.beat(12, boot_id="b1")
    assert tablet.seen() == []


def test_policy_overrides_are_validated() -> None:
    base = HealthPolicy()
    assert base.merged({"low_storage_mb": 100}).low_storage_mb == 100
    with pytest.raises(PolicyError, match="low_storage_mb"):
        base.merged({"low_storage_mb": -1})
    with pytest.raises(PolicyError, match="unknown"):
        base.merged({"disk": 1})
    assert base.merged({"clear_s": 5}).overrides_from(base) == {"clear_s": 5}


def test_version_key_compares_numbers() -> None:
    assert version_key("1.10.2") > version_key("1.9")
    assert version_key("1.4") == version_key("1.4.0")
    assert version_key("2024.05.01-build7") > version_key("2024.05.01")
    assert version_key("beta") < version_key("0.1")
