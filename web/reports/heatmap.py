"""Uptime heatmaps: tablets × the last 24 hours and tablets × the last 30 days.

Each heatmap is one SQL query over ``uptime_hourly`` (plain date_trunc and
generate_series, so it runs without TimescaleDB) for one page of tablets.
A cell's percent is the tablet's online seconds in that hour or day divided
by the seconds it was observed there: from its registration to now. A cell
it was not observed in at all (before registration, in the future) has no
percent and shows grey. Days are the fleet's local days; an hour row of a
fleet whose zone is offset by half an hour spreads each stored hour evenly
over the two days it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg_pool import AsyncConnectionPool

from store.users import User
from web.scope import IN_SCOPE, scope_params

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


@dataclass(frozen=True, slots=True)
class Fleet:
    fleet_id: str
    name: str
    timezone: str
    operating_hours: str


async def scoped_fleets(pool: AsyncConnectionPool, user: User) -> list[Fleet]:
    """The fleets the user sees, with their zone and hours."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT f.fleet_id, f.name, f.timezone, f.operating_hours FROM fleets f"  # noqa: S608
            f" WHERE {IN_SCOPE} ORDER BY f.name, f.fleet_id",
            scope_params(user),
        )
        return [Fleet(*(str(v) for v in row)) for row in await cur.fetchall()]


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


TABLETS = f"""
tab AS (
    SELECT t.tablet_id, t.car_id, f.fleet_id, f.name AS fleet_name, f.timezone,
           t.registered_at, count(*) OVER () AS total
    FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
    WHERE t.revoked_at IS NULL AND {IN_SCOPE}
      AND (%(fleet)s::text IS NULL OR f.fleet_id = %(fleet)s)
      AND (%(q)s::text IS NULL OR t.tablet_id ILIKE %(q)s OR t.car_id ILIKE %(q)s)
    ORDER BY f.name, f.fleet_id, t.car_id NULLS LAST, t.tablet_id
    LIMIT %(limit)s OFFSET %(offset)s
)"""  # noqa: S608  # IN_SCOPE is a constant fragment

ROWS = """
SELECT tablet_id, car_id, fleet_id, fleet_name, total,
       array_agg(online_s ORDER BY n) AS online, array_agg(observed_s ORDER BY n) AS observed
FROM cells
GROUP BY fleet_name, fleet_id, car_id, tablet_id, total
ORDER BY fleet_name, fleet_id, car_id NULLS LAST, tablet_id
"""

# Both queries only join tablets to their own uptime rows (index range scans): every other
# combination is a UNION ALL and a GROUP BY, so a page costs the same whatever the planner
# guesses about the CTEs' sizes.
HOURLY = f"""WITH {TABLETS},
cells AS (
    SELECT tab.tablet_id, tab.car_id, tab.fleet_id, tab.fleet_name, tab.total, h.n,
           coalesce(u.online_seconds, 0) AS online_s,
           greatest(0, extract(epoch FROM least(h.hour + interval '1 hour', now())
                                          - greatest(h.hour, tab.registered_at)))::float8
               AS observed_s
    FROM tab
    CROSS JOIN generate_series(%(first)s::timestamptz, %(last)s::timestamptz, interval '1 hour')
         WITH ORDINALITY AS h(hour, n)
    LEFT JOIN uptime_hourly u ON u.tablet_id = tab.tablet_id AND u.hour = h.hour
){ROWS}"""  # noqa: S608  # constant fragments only

DAILY = f"""WITH {TABLETS},
zones AS (  -- each zone's midnights, from the first day's to the one after the last day
    SELECT z.timezone,
           array_agg(d.day::timestamp AT TIME ZONE z.timezone ORDER BY d.day) AS midnights
    FROM (SELECT DISTINCT timezone FROM tab) AS z
    CROSS JOIN generate_series(%(first)s::date::timestamp, %(last)s::date::timestamp
                               + interval '1 day', interval '1 day') AS d(day)
    GROUP BY z.timezone
), hours AS (  -- each stored hour's start in local time, and its share before the next midnight
    SELECT tablet_id, car_id, fleet_id, fleet_name, total, online_s, local::date AS day,
           least(1, date_part('epoch', (local::date + 1) - local) / 3600) AS share
    FROM (
        SELECT tab.tablet_id, tab.car_id, tab.fleet_id, tab.fleet_name, tab.total,
               u.online_seconds AS online_s, u.hour AT TIME ZONE tab.timezone AS local
        FROM tab
        JOIN uptime_hourly u ON u.tablet_id = tab.tablet_id
             AND u.hour >= %(first)s::date - 2 AND u.hour < %(last)s::date + 2
        OFFSET 0  -- compute each local time once
    ) AS h
), days AS (  -- online seconds per local day; an hour across midnight is split evenly in time
    SELECT tablet_id, car_id, fleet_id, fleet_name, total, day,
           sum(online_s * share) AS here, sum(online_s * (1 - share)) AS next
    FROM hours
    GROUP BY tablet_id, car_id, fleet_id, fleet_name, total, day
), parts AS (
    -- each day's observed seconds: from registration (or midnight) to midnight (or now)
    SELECT tab.tablet_id, tab.car_id, tab.fleet_id, tab.fleet_name, tab.total, d.n,
           0::float8 AS online_s,
           greatest(0, date_part('epoch', least(z.midnights[d.n + 1], now())
                                          - greatest(z.midnights[d.n], tab.registered_at)))
               AS observed_s
    FROM tab
    JOIN zones z USING (timezone)
    CROSS JOIN generate_series(1, %(last)s::date - %(first)s::date + 1) AS d(n)
    UNION ALL
    SELECT tablet_id, car_id, fleet_id, fleet_name, total, day - %(first)s::date + 1, here, 0
    FROM days
    UNION ALL
    SELECT tablet_id, car_id, fleet_id, fleet_name, total, day - %(first)s::date + 2, next, 0
    FROM days WHERE next > 0
), cells AS (
    SELECT tablet_id, car_id, fleet_id, fleet_name, total, n,
           sum(online_s) AS online_s, sum(observed_s) AS observed_s
    FROM parts
    WHERE n BETWEEN 1 AND %(last)s::date - %(first)s::date + 1
    GROUP BY tablet_id, car_id, fleet_id, fleet_name, total, n
){ROWS}"""  # noqa: S608  # constant fragments only


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


async def heatmap(
    pool: AsyncConnectionPool,
    user: User,
    kind: Kind,
    *,
    timezone: str,
    fleet: str | None = None,
    q: str | None = None,
    page: int = 1,
    now: datetime | None = None,
) -> Heatmap:
    """One page of tablets (in scope, filtered like the grid) with a percent per column."""
    now = now or datetime.now(UTC)
    columns = hour_columns(now, timezone) if kind == "hourly" else day_columns(now, timezone)
    first: datetime | date = columns[0].start
    last: datetime | date = columns[-1].start
    if kind == "daily":
        first, last = columns[0].start.date(), columns[-1].start.date()
    params = scope_params(
        user,
        fleet=fleet,
        q=_like(q),
        limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE,
        first=first,
        last=last,
    )
    async with pool.connection() as conn:
        cur = await conn.execute(HOURLY if kind == "hourly" else DAILY, params)
        found = await cur.fetchall()
    rows = tuple(
        HeatRow(
            str(tablet),
            None if car is None else str(car),
            str(fleet_id),
            str(name),
            tuple(
                percent(Decimal(on), Decimal(seen))
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
