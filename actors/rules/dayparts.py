"""Dayparts: on which weekdays and between which local times an assignment competes.

A daypart is read in the timezone of the tablet's fleet. ``days`` are ISO weekdays
(1 = Monday … 7 = Sunday; ``None``: every day); ``start``/``end`` are local times (both
``None``: all day). A window whose end is before its start runs overnight and belongs to
the day it starts: ``Fri 22:00–02:00`` plays into Saturday morning. Windows are half-open,
``[start, end)``. Only normal-priority assignments are dayparted: an emergency plays around
the clock until it expires. The store evaluates dayparts itself
(``fleethub_daypart_active`` and ``fleethub_daypart_edges``, migration 0008).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from typing import Any

from config.errors import ConfigError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_RANGE = re.compile(r"^([1-7])(?:-([1-7]))?$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
EMERGENCY = "An emergency assignment cannot have a daypart: it plays around the clock."


@dataclass(frozen=True, slots=True)
class Daypart:
    days: tuple[int, ...] | None = None
    start: time | None = None
    end: time | None = None

    def __post_init__(self) -> None:
        if self.days is not None:
            if not self.days:
                raise ConfigError("Choose at least one day (or none of them for every day).")
            if any(d not in range(1, 8) for d in self.days):
                raise ConfigError("Days are ISO weekdays: 1 (Monday) to 7 (Sunday).")
        if (self.start is None) != (self.end is None):
            raise ConfigError("Give both a start and an end time, or neither for all day.")
        if self.start is not None and self.start == self.end:
            raise ConfigError("The end time equals the start time: for all day leave both empty.")

    @classmethod
    def of(cls, days: Iterable[int] | None, start: time | None, end: time | None) -> Daypart:
        """Normalised: days sorted and unique (all seven: every day), times to the second."""
        wanted = None if days is None else tuple(sorted(set(days)))
        if wanted == tuple(range(1, 8)):
            wanted = None
        return cls(wanted, _second(start), _second(end))

    @classmethod
    def parse(cls, days: str | None, between: str | None) -> Daypart:
        """From text: days like ``1-5`` or ``1,3,6-7``; between like ``06:00-10:00``."""
        picked: list[int] | None = None
        if days:
            picked = []
            for part in days.replace(" ", "").split(","):
                match = _DAY_RANGE.match(part)
                if not match:
                    raise ConfigError(
                        f"invalid days {days!r}: ISO weekdays like 1-5 or 1,3,6-7 (1 = Monday)"
                    )
                first, last = int(match.group(1)), int(match.group(2) or match.group(1))
                picked.extend(
                    range(first, last + 1)
                    if last >= first
                    else [*range(first, 8), *range(1, last + 1)]
                )
        start = end = None
        if between:
            first_text, sep, last_text = between.strip().partition("-")
            if not sep:
                raise ConfigError(f"invalid time window {between!r}: write it like 06:00-10:00")
            start, end = parse_time(first_text, "start"), parse_time(last_text, "end")
        return cls.of(picked, start, end)

    @property
    def always(self) -> bool:
        """No daypart: the assignment competes around the clock."""
        return self.days is None and self.start is None

    @property
    def day_list(self) -> list[int] | None:
        """The days as the store keeps them (``smallint[]``; None: every day)."""
        return None if self.days is None else list(self.days)

    @property
    def overnight(self) -> bool:
        return self.start is not None and self.end is not None and self.end < self.start

    def label(self) -> str:
        """``Mon–Fri 06:00–10:00`` (empty when there is no daypart)."""
        if self.always:
            return ""
        days = "every day" if self.days is None else day_names(self.days)
        if self.start is None or self.end is None:
            return f"{days}, all day"
        return f"{days} {clock(self.start)}–{clock(self.end)}" + (
            " (overnight)" if self.overnight else ""
        )

    def details(self) -> dict[str, Any] | None:
        """For audit details and JSON (None: no daypart)."""
        if self.always:
            return None
        return {
            "days": list(self.days) if self.days is not None else None,
            "start": clock(self.start) if self.start else None,
            "end": clock(self.end) if self.end else None,
            "label": self.label(),
        }

    def check_priority(self, priority: str) -> None:
        if priority == "emergency" and not self.always:
            raise ConfigError(EMERGENCY)


def _second(at: time | None) -> time | None:
    return None if at is None else at.replace(microsecond=0, tzinfo=None)


def parse_time(text: str, label: str) -> time:
    match = _TIME.match(text.strip())
    if not match:
        raise ConfigError(f"The {label} time {text.strip()!r} is not a time of day (HH:MM).")
    hour, minute, second = match.groups()
    return time(int(hour), int(minute), int(second or 0))


def clock(at: time) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def day_names(days: Iterable[int]) -> str:
    """``Mon–Fri``, ``Mon, Wed, Fri``, ``Mon–Wed, Sat``: runs of three or more as ranges."""
    ordered = sorted(set(days))
    runs: list[list[int]] = []
    for d in ordered:
        if runs and runs[-1][-1] == d - 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0] - 1]}–{DAY_NAMES[run[-1] - 1]}")
        else:
            parts.extend(DAY_NAMES[d - 1] for d in run)
    return ", ".join(parts)


ALWAYS = Daypart()  # no daypart: competes around the clock
