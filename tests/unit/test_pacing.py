"""Pacing math: even delivery over the day's active time, no over-delivery past the margin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from actors.rules.pacing import daily_target, elapsed_share, pace

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def test_on_pace_keeps_the_weight() -> None:
    p = pace(1000, 500, 0.5, 0.0, 60, 0.05, 4.0)
    assert (p.multiplier, p.status, p.expected) == (1.0, "on track", 500)


def test_behind_boosts_ahead_slows() -> None:
    behind = pace(1000, 250, 0.5, 0.0, 60, 0.05, 4.0)
    assert (behind.multiplier, behind.status) == (1.5, "behind")  # 750 left in half a day
    ahead = pace(1000, 750, 0.5, 0.0, 60, 0.05, 4.0)
    assert (ahead.multiplier, ahead.status) == (0.5, "ahead")
    late = pace(1000, 0, 0.9, 0.0, 60, 0.05, 4.0)
    assert late.multiplier == 4.0  # at most max_boost


def test_the_goal_met_or_about_to_be_overshot_stops_the_campaign() -> None:
    assert pace(1000, 1000, 0.6, 0.0, 60, 0.05, 4.0).status == "goal met"
    assert pace(1000, 1000, 0.6, 0.0, 60, 0.05, 4.0).multiplier == 0
    # 990 delivered, 2 plays/s for the next 60 s: 1110 > 1050 (5 % margin).
    holding = pace(1000, 990, 0.6, 2.0, 60, 0.05, 4.0)
    assert (holding.multiplier, holding.status) == (0.0, "holding")
    # 0.5 plays/s: 1020 stays within the margin, so it keeps playing.
    assert pace(1000, 990, 0.98, 0.5, 60, 0.05, 4.0).multiplier == 0.5


def test_no_goal_plays_at_its_priority() -> None:
    assert pace(None, 123, 0.5, 1.0, 60, 0.05, 4.0).multiplier == 1.0


@pytest.mark.parametrize(
    ("daily", "total", "before", "days", "want"),
    [
        (100, None, 0, 5, 100),
        (100, 1000, 950, 5, 50),  # what is left of the total caps the day
        (None, 1000, 400, 3, 200),  # the total spread over the days left
        (None, 1000, 999, 3, 1),
        (None, None, 0, 3, None),
    ],
)
def test_todays_target(
    daily: int | None, total: int | None, before: int, days: int, want: int | None
) -> None:
    assert daily_target(daily, total, before, days) == want


def test_elapsed_counts_only_the_active_time() -> None:
    evening = lambda t: 18 <= t.hour < 22  # noqa: E731 - a predicate for the test
    end = DAY + timedelta(days=1)
    assert elapsed_share(evening, DAY, end, DAY + timedelta(hours=12)) == 0.0
    assert elapsed_share(evening, DAY, end, DAY + timedelta(hours=20)) == 0.5
    assert elapsed_share(evening, DAY, end, DAY + timedelta(hours=23)) == 1.0
    assert elapsed_share(lambda t: False, DAY, end, DAY) == 1.0
