"""Operating hours: parsing, is_open, next_open_at and incident_due_at, in real time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from actors.rules.hours import OperatingHours, Window, parse_hours
from actors.rules.incidents import incident_due_at
from config.errors import ConfigError

SGT = ZoneInfo("Asia/Singapore")
BERLIN = ZoneInfo("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# 2024-05-06 is a Monday.
MON, TUE, WED, THU, FRI, SAT, SUN = (utc(2024, 5, 6 + n) for n in range(7))
NEXT_MON = MON + timedelta(days=7)


@pytest.mark.parametrize("text", [None, "", "   ", "always", "ALWAYS", "24/7"])
def test_empty_text_is_always_open(text: str | None) -> None:
    hours = parse_hours(text)
    assert hours.always_open
    assert hours.is_open(SUN + timedelta(hours=3))
    assert hours.next_open_at(SUN) == SUN


def test_parse_day_ranges_and_lists() -> None:
    hours = parse_hours("Mon-Fri 07:00-22:00, sat 09:00-18:00")
    assert hours.text == "mon-fri 07:00-22:00, sat 09:00-18:00"
    assert hours.timezone == "UTC"
    assert hours.windows == (
        *(Window(d, 7 * 60, 15 * 60) for d in range(5)),
        Window(5, 9 * 60, 9 * 60),
    )


def test_day_range_wraps_around_the_week() -> None:
    hours = parse_hours("fri-mon 10:00-12:00")
    assert [w.weekday for w in hours.windows] == [4, 5, 6, 0]


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("mon 00:00-24:00", 24 * 60),
        ("mon 22:00-24:00", 120),
        ("fri 20:00-02:00", 6 * 60),  # across midnight
        ("mon 23:59-00:00", 1),
    ],
)
def test_window_lengths(text: str, length: int) -> None:
    [window] = parse_hours(text).windows
    assert window.length_min == length


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mon-fri 7:00-22:00", "invalid hours rule 'mon-fri 7:00-22:00': write it like"),
        ("weekdays 07:00-22:00", "invalid hours rule"),
        ("mon-fri 07:00-22:00,", "invalid hours rule ''"),
        ("mon-fir 07:00-22:00", "invalid day in 'mon-fir 07:00-22:00': use mon, tue, wed"),
        ("xyz 07:00-22:00", "invalid day in 'xyz 07:00-22:00'"),
        ("mon 25:00-26:00", "invalid time range in 'mon 25:00-26:00'"),
        ("mon 24:00-02:00", "invalid time range"),
        ("mon 10:00-24:30", "invalid time range"),
        ("mon 10:60-11:00", "invalid time range"),
        ("mon 10:00-11:75", "invalid time range"),
        ("mon 10:00-10:00", "invalid time range"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_hours(text)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "utc "])
def test_unknown_time_zone_is_a_config_error(zone: str) -> None:
    with pytest.raises(ConfigError, match=r"unknown time zone .* \(e\.g\. Asia/Singapore\)"):
        parse_hours("mon 09:00-17:00", zone)


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (MON + timedelta(hours=6, minutes=59), False),
        (MON + timedelta(hours=7), True),  # start is inside
        (MON + timedelta(hours=21, minutes=59, seconds=59), True),
        (MON + timedelta(hours=22), False),  # end is outside
        (SAT + timedelta(hours=12), False),
        (SUN + timedelta(hours=12), False),
    ],
)
def test_is_open_utc(at: datetime, open_: bool) -> None:
    assert parse_hours("mon-fri 07:00-22:00").is_open(at) is open_


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (FRI + timedelta(hours=19, minutes=59), False),
        (FRI + timedelta(hours=20), True),
        (SAT + timedelta(hours=1, minutes=59), True),  # Friday's window, after midnight
        (SAT + timedelta(hours=2), False),
        (SAT + timedelta(hours=21), False),
        (SUN + timedelta(hours=1), False),  # no Saturday window
        (MON + timedelta(hours=1), True),  # Sunday's window
    ],
)
def test_windows_crossing_midnight(at: datetime, open_: bool) -> None:
    hours = parse_hours("fri 20:00-02:00,sun 22:00-03:00")
    assert hours.is_open(at) is open_


def test_singapore_hours_are_local() -> None:
    hours = parse_hours("mon-fri 09:00-18:00", "Asia/Singapore")  # UTC+8, no DST
    assert not hours.is_open(MON - timedelta(hours=1))  # Monday 07:00 in Singapore
    assert hours.is_open(MON + timedelta(hours=1))  # Monday 09:00 in Singapore
    assert hours.is_open(MON + timedelta(hours=9, minutes=59))
    assert not hours.is_open(MON + timedelta(hours=10))  # 18:00 in Singapore
    opening = hours.next_open_at(SUN + timedelta(hours=12))
    assert opening == NEXT_MON + timedelta(hours=1)
    assert opening.tzinfo == UTC
    assert opening.astimezone(SGT).hour == 9


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (utc(2024, 7, 3, 5, 30), True),  # summer, CEST: 07:30 local
        (utc(2024, 7, 3, 4, 59), False),  # 06:59 local
        (utc(2024, 1, 10, 5, 30), False),  # winter, CET: 06:30 local
        (utc(2024, 1, 10, 6, 0), True),  # 07:00 local
        (utc(2024, 1, 10, 20, 59), True),  # 21:59 local
        (utc(2024, 1, 10, 21, 0), False),  # 22:00 local
    ],
)
def test_berlin_hours_follow_dst(at: datetime, open_: bool) -> None:
    assert parse_hours("mon-sun 07:00-22:00", "Europe/Berlin").is_open(at) is open_


@pytest.mark.parametrize(
    ("saturday_night", "sunday_opening"),
    [
        (utc(2024, 3, 30, 23, 0), utc(2024, 3, 31, 5, 0)),  # clocks go forward that night
        (utc(2024, 10, 26, 23, 0), utc(2024, 10, 27, 6, 0)),  # clocks go back that night
    ],
)
def test_next_open_at_across_a_dst_change(
    saturday_night: datetime, sunday_opening: datetime
) -> None:
    hours = parse_hours("sun 07:00-22:00", "Europe/Berlin")
    opening = hours.next_open_at(saturday_night)
    assert opening == sunday_opening
    assert opening.astimezone(BERLIN).hour == 7


def test_next_open_at_returns_the_instant_itself_when_open() -> None:
    hours = parse_hours("mon-fri 07:00-22:00")
    now = TUE + timedelta(hours=12, seconds=1)
    assert hours.next_open_at(now) == now


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (FRI + timedelta(hours=22), NEXT_MON + timedelta(hours=7)),  # over the weekend
        (MON + timedelta(hours=3), MON + timedelta(hours=7)),  # later the same day
        (TUE + timedelta(hours=22), WED + timedelta(hours=7)),  # at the closing instant
    ],
)
def test_next_open_at_finds_the_next_window(at: datetime, expected: datetime) -> None:
    assert parse_hours("mon-fri 07:00-22:00").next_open_at(at) == expected


def test_next_open_at_a_week_ahead() -> None:
    hours = parse_hours("wed 09:00-10:00")
    assert hours.next_open_at(WED + timedelta(hours=10)) == WED + timedelta(days=7, hours=9)


@pytest.mark.parametrize(
    ("offline_at", "alert_after_s", "expected"),
    [
        # inside hours: just the delay
        (TUE + timedelta(hours=12), 300, TUE + timedelta(hours=12, minutes=5)),
        # delay ends exactly at closing time: next opening
        (TUE + timedelta(hours=21, minutes=55), 300, WED + timedelta(hours=7)),
        # delay ends one second before closing: still today
        (
            TUE + timedelta(hours=21, minutes=54, seconds=59),
            300,
            TUE + timedelta(hours=21, minutes=59, seconds=59),
        ),
        # outage starts out of hours: due at opening time
        (SAT + timedelta(hours=3), 300, NEXT_MON + timedelta(hours=7)),
        # outage starts before opening, delay ends after: the delay wins
        (MON + timedelta(hours=6, minutes=58), 300, MON + timedelta(hours=7, minutes=3)),
    ],
)
def test_incident_due_at(offline_at: datetime, alert_after_s: int, expected: datetime) -> None:
    hours = parse_hours("mon-fri 07:00-22:00")
    due = incident_due_at(hours, offline_at, alert_after_s)
    assert due == expected
    assert hours.is_open(due)
    assert due >= offline_at + timedelta(seconds=alert_after_s)


def test_incident_due_at_is_the_first_open_instant_after_the_delay() -> None:
    hours = parse_hours("mon-fri 07:00-22:00,sat 10:00-12:00", "Asia/Singapore")
    start = FRI
    for minutes in range(0, 4 * 24 * 60, 37):
        offline_at = start + timedelta(minutes=minutes)
        due = incident_due_at(hours, offline_at, 600)
        earliest = offline_at + timedelta(seconds=600)
        assert due >= earliest
        assert hours.is_open(due)
        # nothing open between the earliest instant and the due time (windows are whole hours)
        probe = earliest
        while probe < due:
            assert not hours.is_open(probe)
            probe += timedelta(minutes=5)


def test_next_open_at_agrees_with_is_open_in_a_dst_gap() -> None:
    # 02:30 does not exist that night; the window opens at the real instant 02:30 CET
    # would have been (03:30 CEST), and both functions must agree on it.
    hours = parse_hours("sun 02:30-04:00", "Europe/Berlin")
    before = utc(2024, 3, 31, 0, 45)  # 01:45 CET
    opens = hours.next_open_at(before)
    assert hours.is_open(opens)
    assert not hours.is_open(opens - timedelta(seconds=1))
    probe = before
    while probe < opens:
        assert not hours.is_open(probe)
        probe += timedelta(minutes=5)
    assert opens == utc(2024, 3, 31, 1, 30)


def test_operating_hours_default_is_always_open() -> None:
    assert OperatingHours().is_open(SUN)
