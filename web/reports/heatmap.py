"""Uptime heatmaps: tablets × the last 24 hours and tablets × the last 30 days.

Each heatmap is one query of :mod:`store.uptime` (the one definition of uptime the
tablet page and the uptime report use too) for one page of tablets, one range per
column: each hour, or each fleet's local day. A cell's percent is the tablet's online
seconds in that hour or day divided by the seconds it was observed there (from its
registration to now). A cell it was not observed in at all (before registration, in the
future) has no percent and shows "no data". An hour of a fleet whose zone is offset by
half an hour counts half on each of the two days it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg_pool import AsyncConnectionPool

from store import fleets, uptime
from store.fleets import Fleet
from store.users import User
from web.reports.operating import local_midnight

PER_PAGE = 500
HOURS = 24
DAYS = 30
CENT = Decimal("0.01")
HUNDRED = Decimal(100)

Kind = Literal["hourly", "daily"]


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percent of ``whole`` to two decimals (half-even); None without a whole."""
    if whole <= 0:
        return None
    return min(HUNDRED, part * HUNDRED / whole).quantize(CENT, ROUND_HALF_EVEN)


def known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


async def scoped_fleets(pool: AsyncConnectionPool, user: User) -> list[Fleet]:
    """The fleets the user sees, with their zone and hours."""
    return await fleets.scoped(pool, user)


@dataclass(frozen=True, slots=True)
class Column:
    start: datetime  # UTC
    label: str
    title: str


@dataclass(frozen=True, slots=True)
class HeatRow:
    tablet_id: str
    car_id: str | None
    fleet_id: str
    fleet_name: str
    cells: tuple[Decimal | None, ...]  # percent online per column; None: not observed


@dataclass(frozen=True, slots=True)
class Heatmap:
    kind: Kind
    timezone: str
    columns: tuple[Column, ...]
    rows: tuple[HeatRow, ...]
    total: int  # tablets matching the filters, over all pages
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like(q: str | None) -> str | None:
    if not q:
        return None
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def hour_columns(now: datetime, timezone: str) -> tuple[Column, ...]:
    """The current hour and the 23 before it (UTC hour starts), labelled in ``timezone``."""
    tz = ZoneInfo(timezone)
    last = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    out = []
    for back in range(HOURS - 1, -1, -1):
        start = last - timedelta(hours=back)
        local = start.astimezone(tz)
        until = (start + timedelta(hours=1)).astimezone(tz)
        title = f"{local:%a %Y-%m-%d %H:%M}–{until:%H:%M} {local.tzname()}"
        out.append(Column(start, f"{local:%H:%M}", title))
    return tuple(out)


def day_columns(now: datetime, timezone: str) -> tuple[Column, ...]:
    """The 30 days ending today in ``timezone`` (each fleet counts them in its own zone)."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    out = []
    for back in range(DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        out.append(Column(start, f"{day:%m-%d}", f"{day:%a %Y-%m-%d}"))
    return tuple(out)


def column_ranges(
    kind: Kind, columns: tuple[Column, ...], chosen: list[Fleet]
) -> dict[str, list[object]]:
    """Each fleet's range per column: the hour, or the column's day in the fleet's zone."""
    ranges: dict[str, list[object]] = {"rf": [], "rn": [], "rlo": [], "rhi": []}
    for fleet in chosen:
        for n, column in enumerate(columns, start=1):
            if kind == "hourly":
                lo, hi = column.start, column.start + timedelta(hours=1)
            else:
                day = column.start.date()
                lo = local_midnight(day, fleet.timezone)
                hi = local_midnight(day + timedelta(days=1), fleet.timezone)
            ranges["rf"].append(fleet.fleet_id)
            ranges["rn"].append(n)
            ranges["rlo"].append(lo)
            ranges["rhi"].append(hi)
    return ranges


async def heatmap(
    pool: AsyncConnectionPool,
    user: User,
    kind: Kind,
    *,
    timezone: str,
    fleets_in_scope: list[Fleet],
    fleet: str | None = None,
    q: str | None = None,
    page: int = 1,
    now: datetime | None = None,
) -> Heatmap:
    """One page of tablets (in scope, filtered like the grid) with a percent per column."""
    now = now or datetime.now(UTC)
    columns = hour_columns(now, timezone) if kind == "hourly" else day_columns(now, timezone)
    chosen = [f for f in fleets_in_scope if fleet is None or f.fleet_id == fleet]
    found = await uptime.cells(
        pool,
        user,
        column_ranges(kind, columns, chosen),
        len(columns),
        like=_like(q),
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
    )
    rows = tuple(
        HeatRow(
            str(tablet),
            None if car is None else str(car),
            str(fleet_id),
            str(name),
            tuple(
                None if on is None else percent(Decimal(on), Decimal(seen))
                for on, seen in zip(online, observed, strict=True)
            ),
        )
        for tablet, car, fleet_id, name, _, online, observed in found
    )
    total = int(found[0][4]) if found else 0
    return Heatmap(kind, timezone, columns, rows, total, page, PER_PAGE)


def bucket(pct: Decimal | None) -> str:
    """The colour class of a cell: ``p0`` (0–9 %) … ``p9`` (90–99.99 %), ``p10``, ``nd``."""
    if pct is None:
        return "nd"
    return f"p{min(10, int(pct // 10))}"
