"""A fleet's weekly operating hours in its own time zone.

Written ``"mon-fri 07:00-22:00,sat 09:00-18:00"``; an empty text means
always open. Windows may cross midnight (``fri 20:00-02:00``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from config.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(r"^([a-z]{3})(?:-([a-z]{3}))?\s+(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class Window:
    """Open from ``start_min`` for ``length_min`` minutes on ``weekday`` (0 = Monday)."""

    weekday: int
    start_min: int
    length_min: int


@dataclass(frozen=True, slots=True)
class OperatingHours:
    timezone: str = "UTC"
    windows: tuple[Window, ...] = ()  # empty: always open
    text: str = ""

    @property
    def always_open(self) -> bool:
        return not self.windows

    def is_open(self, at: datetime) -> bool:
        if self.always_open:
            return True
        local = at.astimezone(ZoneInfo(self.timezone))
        return any(start <= local < end for start, end in self._windows_around(local))

    def next_open_at(self, at: datetime) -> datetime:
        """``at`` itself when open, else the start of the next window (UTC)."""
        if self.is_open(at):
            return at
        local = at.astimezone(ZoneInfo(self.timezone))
        starts = [s for s, _ in self._windows_around(local, days_ahead=8) if s > local]
        return min(starts).astimezone(UTC)

    def _windows_around(
        self, local: datetime, days_ahead: int = 1
    ) -> list[tuple[datetime, datetime]]:
        tz = ZoneInfo(self.timezone)
        out = []
        for day_offset in range(-1, days_ahead + 1):
            day = (local + timedelta(days=day_offset)).date()
            for w in self.windows:
                if w.weekday != day.weekday():
                    continue
                wall = datetime.combine(day, time(w.start_min // 60, w.start_min % 60), tz)
                # Through UTC: a wall time inside a DST gap becomes the real instant after it.
                start = wall.astimezone(UTC).astimezone(tz)
                end = (wall + timedelta(minutes=w.length_min)).astimezone(UTC).astimezone(tz)
                out.append((start, end))
        return out


def parse_hours(text: str | None, timezone: str = "UTC") -> OperatingHours:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {timezone!r} (e.g. Asia/Singapore)") from exc
    cleaned = (text or "").strip().lower()
    if cleaned in ("", "always", "24/7"):
        return OperatingHours(timezone=timezone)
    windows: list[Window] = []
    for rule in cleaned.split(","):
        match = _RULE.match(rule.strip())
        if not match:
            raise ConfigError(
                f"invalid hours rule {rule.strip()!r}: write it like 'mon-fri 07:00-22:00'"
            )
        first, last, h1, m1, h2, m2 = match.groups()
        if first not in DAYS or (last is not None and last not in DAYS):
            raise ConfigError(f"invalid day in {rule.strip()!r}: use {', '.join(DAYS)}")
        start, end = int(h1) * 60 + int(m1), int(h2) * 60 + int(m2)
        if start >= 24 * 60 or end > 24 * 60 or int(m1) > 59 or int(m2) > 59 or start == end:
            raise ConfigError(f"invalid time range in {rule.strip()!r}")
        length = end - start if end > start else end + 24 * 60 - start
        i, j = DAYS.index(first), DAYS.index(last or first)
        days = range(i, j + 1) if j >= i else [*range(i, 7), *range(j + 1)]
        windows.extend(Window(d, start, length) for d in days)
    return OperatingHours(timezone=timezone, windows=tuple(windows), text=cleaned)
