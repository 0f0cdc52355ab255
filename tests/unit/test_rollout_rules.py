"""The pure rules of staged app rollouts (actors/rules/rollouts.py) and how a halted rollout
reads in an alert (hub/notify/render.py)."""

from __future__ import annotations

import pytest

from actors.rules.rollouts import Rates, check_waves, verdict, wave_target
from config.errors import ConfigError
from hub.notify import render
from store.alert_outbox import Event


def test_waves_rise_to_the_whole_fleet() -> None:
    assert check_waves([1, 10, 50, 100]) == [1, 10, 50, 100]
    assert check_waves([100]) == [100]
    for bad in ([], [10, 50], [50, 10, 100], [10, 10, 100], [0, 100], [50, 101], [1] * 11):
        with pytest.raises(ConfigError, match="Waves"):
            check_waves(bad)


def test_a_wave_takes_its_share_and_at_least_one_tablet() -> None:
    assert wave_target(1, 20_000) == 200
    assert wave_target(1, 10) == 1  # 0.1 rounds up: a first wave is never empty
    assert wave_target(10, 10) == 1
    assert wave_target(50, 9) == 5
    assert wave_target(100, 9) == 9
    assert wave_target(10, 0) == 0


def test_a_wave_halts_only_above_the_rest_by_more_than_the_threshold() -> None:
    assert verdict(Rates(10, 0, 0), Rates(90, 0, 0), 5, 10) is None
    assert verdict(Rates(10, 1, 0), Rates(90, 9, 0), 5, 10) is None  # 10 % against 10 %
    crash = verdict(Rates(10, 2, 0), Rates(90, 9, 0), 5, 10)
    assert crash is not None
    assert crash.startswith("crash loops: 2 of 10 tablets of the wave (20 %) against 10 %")
    assert verdict(Rates(10, 0, 2), Rates(90, 0, 9), 5, 10) is None  # offline: 10 points allowed
    offline = verdict(Rates(10, 0, 3), Rates(90, 0, 9), 5, 10)
    assert offline is not None
    assert offline.startswith("offline: 3 of 10")
    assert verdict(Rates(4, 1, 0), Rates(0, 0, 0), 30, 10) is None  # the last wave: no rest
    assert verdict(Rates(4, 2, 0), Rates(0, 0, 0), 30, 10) is not None


def test_a_halted_rollout_reads_as_the_fleets_with_its_page() -> None:
    event = Event(
        1,
        {
            "event": "opened",
            "kind": "rollout_halted",
            "tablet_id": None,
            "rollout_id": 7,
            "app_version": "3.2.0",
            "detail": "wave 2 (50 %): crash loops: …",
            "at": "2026-12-07T08:00:00+00:00",
        },
        "Grab SG",
        None,
        "Asia/Singapore",
    )
    assert render.subject([event]) == "[fleethub] app rollout halted: 3.2.0 in fleet Grab SG"
    text = render.text([event], "https://panel.example")
    assert "fleet Grab SG" in text
    assert "wave 2 (50 %): crash loops" in text
    assert text.endswith("https://panel.example/rollouts/7")
