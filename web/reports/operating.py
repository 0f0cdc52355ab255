"""A fleet's operating windows as UTC intervals, for the uptime report.

:mod:`actors.rules.hours` answers "is it open now?"; the report needs the opposite
view: every stretch of time within a period during which the fleet was
open, so it can count operating seconds and online seconds inside them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from actors.rules.hours import OperatingHours

Interval = tuple[datetime, datetime]


def local_midnight(day: date, timezone: str) -> datetime:
    """The instant (UTC) at which ``day`` starts in ``timezone``."""
    return _instant(datetime.combine(day, time(0), ZoneInfo(timezone)))


def operating_windows(hours: OperatingHours, start: datetime, end: datetime) -> list[Interval]:
    """The fleet's open stretches within ``[start, end)``, in UTC, sorted and merged.

    Always-open fleets (no hours configured) are open for the whole period.
    A wall time inside a DST gap means the real instant after it, as in
    :mod:`actors.rules.hours`.
    """
    if start >= end:
        return []
    if hours.always_open:
        return [(start, end)]
    tz = ZoneInfo(hours.timezone)
    first, last = start.astimezone(tz).date(), end.astimezone(tz).date()
    found: list[Interval] = []
    day = first - timedelta(days=1)  # a window of the day before may run past midnight
    while day <= last:
        for w in hours.windows:
            if w.weekday != day.weekday():
                continue
            wall = datetime.combine(day, time(w.start_min // 60, w.start_min % 60), tz)
            lo = _instant(wall)
            hi = _instant(wall + timedelta(minutes=w.length_min))
            lo, hi = max(lo, start), min(hi, end)
            if lo < hi:
                found.append((lo, hi))
        day += timedelta(days=1)
    return _merge(found)


def operating_seconds(hours: OperatingHours, start: datetime, end: datetime) -> float:
    """Seconds within ``[start, end)`` during which the fleet is open."""
    return sum((hi - lo).total_seconds() for lo, hi in operating_windows(hours, start, end))


def _instant(wall: datetime) -> datetime:
    return wall.astimezone(UTC)


def _merge(intervals: list[Interval]) -> list[Interval]:
    """Overlapping or touching rules (``mon-fri 08:00-12:00,mon 11:00-14:00``) count once."""
    merged: list[Interval] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged
