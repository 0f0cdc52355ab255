"""What a month's statements are priced from: plays (``plays_daily``, the fleets' local
days) and online seconds inside operating hours (``uptime_hourly``), summed over segments —
each a tablet's days that belong to one fleet, car, driver and rate card
(billing.assignments.segments, made from :func:`spells` and :func:`assignments`) — and added
up per line key (billing.lines.LineKey).

Online seconds: an hour's stored seconds are spread evenly over the hour and counted for the
part of the hour inside the fleet's operating windows (the caller's, already cut at local
midnights and at the month's edges), each part on the local day its window is in. They are
summed as whole microseconds × operating seconds, exactly, in integers.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from billing.assignments import Assignment, CarSpell, Segment
from billing.lines import Kind, LineKey, Usage

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class FleetInfo:
    fleet_id: str
    name: str
    timezone: str
    operating_hours: str


FLEETS = """
SELECT fleet_id, name, timezone, operating_hours FROM fleets
WHERE tenant_id = %(tenant)s AND (%(fleets)s::text[] IS NULL OR fleet_id = ANY(%(fleets)s))
ORDER BY name, fleet_id
"""


async def fleets(conn: Conn, tenant_id: str, fleet_ids: list[str] | None) -> list[FleetInfo]:
    """The tenant's fleets (or those of ``fleet_ids`` among them)."""
    cur = await conn.execute(FLEETS, {"tenant": tenant_id, "fleets": fleet_ids})
    return [FleetInfo(*(str(v) for v in row)) for row in await cur.fetchall()]


SPELLS = """
SELECT tablet_id, since, fleet_id, car_id FROM tablet_cars
WHERE tablet_id IN (SELECT tablet_id FROM tablet_cars WHERE fleet_id = ANY(%(fleets)s))
ORDER BY tablet_id, since
"""
ASSIGNMENTS = """
SELECT a.assignment_id, a.driver_id, d.name AS driver_name, a.car_id, a.valid_from, a.valid_to
FROM driver_assignments a JOIN drivers d USING (driver_id)
WHERE a.tenant_id = %(tenant)s AND a.valid_from <= %(last)s
  AND (a.valid_to IS NULL OR a.valid_to >= %(first)s)
ORDER BY a.car_id, a.valid_from
"""
# The month's segments go to the queries as two small tables the planner has statistics
# for, made and dropped in the caller's transaction (so nobody else ever sees them): keys
# (one row per tablet and fleet: the first day of each of its segments and the day after
# each ends, sorted — width_bucket() then tells which segment a day is in) and hours (each
# fleet's operating seconds per stored hour and local day). They are unlogged tables, not
# temporary ones, so that the one pass over uptime_hourly can run in parallel workers.
CREATE_KEYS = "CREATE UNLOGGED TABLE {} (key int, tablet_id text, fleet_id text, cuts date[])"
CREATE_HOURS = "CREATE UNLOGGED TABLE {} (fleet_id text, hour timestamptz, day date, op_s bigint)"
COPY = "COPY {} FROM STDIN"
ANALYZE = "ANALYZE {}"
DROP = "DROP TABLE {}"
PLAYS = """
SELECT k.key, width_bucket(d.day, k.cuts), d.campaign_id, sum(d.plays)::bigint,
       sum(d.completed)::bigint, sum(d.duration_ms)::bigint
FROM plays_daily d JOIN {keys} k ON k.tablet_id = d.tablet_id
WHERE d.day BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2, 3
"""
# Online seconds: whole microseconds × operating seconds, summed exactly in integers (the
# caller divides by 3,600,000,000 and rounds each line to the millisecond once).
ONLINE = """
SELECT k.key, width_bucket(h.day, k.cuts),
       sum(round(u.online_seconds * 1000000)::bigint * h.op_s)
FROM uptime_hourly u
JOIN {keys} k ON k.tablet_id = u.tablet_id
JOIN {hours} h ON h.fleet_id = k.fleet_id AND h.hour = u.hour
WHERE u.hour > %(lo)s - interval '1 hour' AND u.hour < %(hi)s
GROUP BY 1, 2
"""
MICRO_HOURS = 3_600_000_000
ONE_DAY, ONE_HOUR = timedelta(days=1), timedelta(hours=1)


async def spells(conn: Conn, fleet_ids: list[str]) -> dict[str, list[CarSpell]]:
    """The cars over time of every tablet ever in ``fleet_ids``, oldest first."""
    out: dict[str, list[CarSpell]] = defaultdict(list)
    for tablet_id, since, fleet_id, car_id in await (
        await conn.execute(SPELLS, {"fleets": fleet_ids})
    ).fetchall():
        out[str(tablet_id)].append(CarSpell(str(tablet_id), since, str(fleet_id), car_id))
    return out


async def assignments(conn: Conn, tenant_id: str, first: date, last: date) -> list[Assignment]:
    """The tenant's driver assignments that reach into ``first`` … ``last``."""
    params = {"tenant": tenant_id, "first": first, "last": last}
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(ASSIGNMENTS, params)
        return await cur.fetchall()


@dataclass(frozen=True, slots=True)
class Windows:
    """Operating windows as the query takes them: one entry per window, inside one local
    day (``day``) of the month, and the instants the month spans in every fleet's zone."""

    fleet_ids: list[str]
    starts: list[datetime]
    ends: list[datetime]
    days: list[date]
    lo: datetime
    hi: datetime


def _keys(segs: list[Segment]) -> tuple[list[tuple[Any, ...]], dict[tuple[int, int], int]]:
    """billing_keys rows, and (key, bucket) → the index of the segment in ``segs``."""
    by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
    for n, g in enumerate(segs):
        by_pair[(g.tablet_id, g.fleet_id)].append(n)
    rows, buckets = [], {}
    for key, ((tablet_id, fleet_id), held) in enumerate(sorted(by_pair.items())):
        cuts = sorted({segs[n].first for n in held} | {segs[n].last + ONE_DAY for n in held})
        for n in held:
            buckets[(key, cuts.index(segs[n].first) + 1)] = n
        rows.append((key, tablet_id, fleet_id, cuts))
    return rows, buckets


def _hours(windows: Windows) -> list[tuple[Any, ...]]:
    """billing_hours rows: each window cut into stored (UTC) hours, seconds per part."""
    seconds: dict[tuple[str, datetime, date], int] = defaultdict(int)
    for fleet_id, lo, hi, day in zip(
        windows.fleet_ids, windows.starts, windows.ends, windows.days, strict=True
    ):
        hour = lo.replace(minute=0, second=0, microsecond=0)
        while hour < hi:
            part = min(hi, hour + ONE_HOUR) - max(lo, hour)
            seconds[(fleet_id, hour, day)] += round(part.total_seconds())
            hour += ONE_HOUR
    return [(*k, v) for k, v in seconds.items() if v]


async def month_usage(
    conn: Conn, segs: list[Segment], month: date, last: date, windows: Windows
) -> list[Usage]:
    """The month's usage summed per line key over ``segs`` (one tablet's days each)."""
    if not segs:
        return []
    keys, buckets = _keys(segs)
    sums: dict[LineKey, list[int]] = {}

    def add(key: int, bucket: int, kind: Kind, campaign: str, figures: tuple[int, ...]) -> None:
        n = buckets.get((key, bucket))
        if n is None:  # a day of the tablet in another fleet (or outside the month)
            return
        g = segs[n]
        line = LineKey(month, g.fleet_id, g.car_id, g.driver_id, kind, campaign, g.rate_version)
        held = sums.setdefault(line, [0, 0, 0, 0])
        for i, value in enumerate(figures):
            held[i] += value

    tag = secrets.token_hex(8)
    keys_table = sql.Identifier(f"billing_keys_{tag}")
    hours_table = sql.Identifier(f"billing_hours_{tag}")
    async with conn.transaction():
        await conn.execute(sql.SQL(CREATE_KEYS).format(keys_table))
        await conn.execute(sql.SQL(CREATE_HOURS).format(hours_table))
        async with conn.cursor() as cur:
            async with cur.copy(sql.SQL(COPY).format(keys_table)) as copy:
                for row in keys:
                    await copy.write_row(row)
            async with cur.copy(sql.SQL(COPY).format(hours_table)) as copy:
                for row in _hours(windows):
                    await copy.write_row(row)
        for table in (keys_table, hours_table):
            await conn.execute(sql.SQL(ANALYZE).format(table))
        await conn.execute("SET LOCAL work_mem = '128MB'")
        query = sql.SQL(PLAYS).format(keys=keys_table)
        cur = await conn.execute(query, {"first": month, "last": last})
        for key, bucket, campaign, plays, completed, ms in await cur.fetchall():
            add(key, bucket, "plays", str(campaign), (int(plays), int(completed), int(ms), 0))
        query = sql.SQL(ONLINE).format(keys=keys_table, hours=hours_table)
        cur = await conn.execute(query, {"lo": windows.lo, "hi": windows.hi})
        for key, bucket, weighted in await cur.fetchall():
            add(key, bucket, "online", "", (0, 0, 0, int(weighted)))
        for table in (keys_table, hours_table):
            await conn.execute(sql.SQL(DROP).format(table))
    with localcontext() as exact:
        exact.prec = 60
        return [
            Usage(key, p, c, ms, Decimal(us) / MICRO_HOURS) for key, (p, c, ms, us) in sums.items()
        ]
