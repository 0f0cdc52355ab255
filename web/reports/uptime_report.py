"""The uptime report: percent online per fleet, car or tablet over a range of days.

Definitions (also printed under the report):

* The range is whole days, ``from`` to ``to`` inclusive, each fleet counting
  them in its own time zone (midnight to midnight local time).
* A tablet is observed from the later of the range start and its
  registration to the earliest of the range end, now and its revocation.
  Tablets never observed in the range are left out.
* Online seconds come from ``uptime_hourly``. An hour only partly inside the
  range or an operating window (half-hour zones, ``09:30`` windows) counts
  that part of its online seconds, as if spread evenly over the hour.
  A tablet's online seconds never exceed its observed seconds.
  (:mod:`store.uptime` holds this definition; the tablet page's last 24 hours,
  :func:`tablet_uptime`, and the heatmaps use it too.)
* Percent online = Σ online seconds ÷ Σ observed seconds; within operating
  hours = Σ online seconds inside operating windows ÷ Σ operating seconds
  observed. A fleet without operating hours is always operating.
* Seconds are rounded to the millisecond per tablet, then added exactly
  (``Decimal``), so groups and the total add up whatever the grouping;
  percents are rounded (half-even, two decimals) only when shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from psycopg_pool import AsyncConnectionPool

from actors.rules.hours import OperatingHours, parse_hours
from config.errors import ConfigError
from store import uptime
from store.fleets import Fleet
from store.users import User
from web.reports.heatmap import percent
from web.reports.operating import local_midnight, operating_windows

GroupBy = Literal["fleet", "car", "tablet"]
GROUPS: tuple[str, ...] = get_args(GroupBy)
DEFAULT_DAYS = 7
MAX_DAYS = 92
HOUR = Decimal(3600)


class ReportInputError(ValueError):
    """A report range or grouping that cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class Period:
    start: date  # first day, inclusive
    end: date  # last day, inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_period(start: str | None, end: str | None, today: date) -> Period:
    """``from``/``to`` as ISO dates; the last :data:`DEFAULT_DAYS` days by default."""
    last = _parse_day(end, "to") if end else today
    first = _parse_day(start, "from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if last < first:
        raise ReportInputError(f"'to' ({last}) is before 'from' ({first})")
    if last > today + timedelta(days=1):
        raise ReportInputError(f"'to' ({last}) is in the future: the last day is {today}")
    period = Period(first, last)
    if period.days > MAX_DAYS:
        raise ReportInputError(f"the range has {period.days} days: at most {MAX_DAYS} are allowed")
    return period


def _parse_day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        message = f"'{name}' must be a date like 2024-05-31, not {text[:20]!r}"
        raise ReportInputError(message) from None


_GROUPS: dict[str, GroupBy] = {"": "fleet", "fleet": "fleet", "car": "car", "tablet": "tablet"}


def parse_group(text: str | None) -> GroupBy:
    try:
        return _GROUPS[text or ""]
    except KeyError:
        raise ReportInputError(f"group by must be one of {', '.join(GROUPS)}") from None


@dataclass(frozen=True, slots=True)
class UptimeRow:
    key: str  # fleet id, car id ('' for tablets without a car) or tablet id
    label: str
    fleet_id: str | None  # None only on the total row
    fleet_name: str | None
    tablets: int
    online_seconds: Decimal
    observed_seconds: Decimal
    operating_online_seconds: Decimal
    operating_seconds: Decimal

    @property
    def hours_observed(self) -> Decimal:
        return (self.observed_seconds / HOUR).quantize(Decimal("0.01"))

    @property
    def percent_online(self) -> Decimal | None:
        return percent(self.online_seconds, self.observed_seconds)

    @property
    def percent_operating(self) -> Decimal | None:
        return percent(self.operating_online_seconds, self.operating_seconds)


@dataclass(frozen=True, slots=True)
class UptimeReport:
    period: Period
    group_by: GroupBy
    fleet: str | None
    rows: tuple[UptimeRow, ...]
    total: UptimeRow


def total_of(rows: tuple[UptimeRow, ...]) -> UptimeRow:
    def add(field: str) -> Decimal:
        return sum((getattr(r, field) for r in rows), Decimal(0))

    return UptimeRow(
        "",
        "Total",
        None,
        None,
        sum(r.tablets for r in rows),
        add("online_seconds"),
        add("observed_seconds"),
        add("operating_online_seconds"),
        add("operating_seconds"),
    )


def _hours(fleet: Fleet) -> OperatingHours:
    try:
        return parse_hours(fleet.operating_hours, fleet.timezone)
    except ConfigError:  # validated when stored; an unreadable one must not break the report
        return OperatingHours(timezone="UTC")


Span = tuple[datetime, datetime]


def _ranges(fleets: list[tuple[Fleet, Span]]) -> dict[str, list[object]]:
    """Each fleet's range and its operating windows within it, as arrays."""
    params: dict[str, list[object]] = {
        k: [] for k in ("rf", "rn", "rlo", "rhi", "wf", "wlo", "whi")
    }
    for fleet, (lo, hi) in fleets:
        params["rf"].append(fleet.fleet_id)
        params["rn"].append(1)
        params["rlo"].append(lo)
        params["rhi"].append(hi)
        for w_lo, w_hi in operating_windows(_hours(fleet), lo, hi):
            params["wf"].append(fleet.fleet_id)
            params["wlo"].append(w_lo)
            params["whi"].append(w_hi)
    return params


def local_days(fleet: Fleet, period: Period) -> Span:
    """The period's days in the fleet's zone, midnight to midnight."""
    zone = _hours(fleet).timezone
    return local_midnight(period.start, zone), local_midnight(period.end + timedelta(days=1), zone)


def _rows(found: list[tuple[object, ...]]) -> tuple[UptimeRow, ...]:
    return tuple(
        UptimeRow(str(k), str(lbl), str(fid), str(fname), int(str(n)), on, seen, op_on, op)  # type: ignore[arg-type]
        for k, lbl, fid, fname, n, on, seen, op_on, op, _ in found
    )


async def uptime_report(
    pool: AsyncConnectionPool,
    user: User,
    fleets: list[Fleet],
    period: Period,
    group_by: GroupBy,
    fleet: str | None = None,
) -> UptimeReport:
    """``fleets`` are the user's (:func:`web.reports.heatmap.scoped_fleets`); ``fleet`` one."""
    chosen = [(f, local_days(f, period)) for f in fleets if fleet is None or f.fleet_id == fleet]
    rows = _rows(await uptime.sums(pool, user, group_by, _ranges(chosen)))
    return UptimeReport(period, group_by, fleet, rows, total_of(rows))


async def tablet_uptime(
    pool: AsyncConnectionPool,
    user: User,
    fleet: Fleet,
    tablet_id: str,
    start: datetime,
    end: datetime,
) -> UptimeRow | None:
    """One tablet's uptime over ``[start, end)`` (the tablet page's last 24 hours), by the
    report's definition; None when it was not observed then."""
    found = await uptime.sums(
        pool, user, "tablet", _ranges([(fleet, (start, end))]), tablet=tablet_id
    )
    rows = _rows(found)
    return rows[0] if rows else None


def today_for(fleets: list[Fleet], now: datetime | None = None) -> date:
    """The last local day that has begun among these fleets: the reports' default end."""
    now = now or datetime.now(UTC)
    days = [now.astimezone(ZoneInfo(_hours(f).timezone)).date() for f in fleets]
    return max(days, default=now.astimezone(UTC).date())
