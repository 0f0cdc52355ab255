"""What a month's statements are priced from: each fleet's plays (``plays_daily``, the
fleets' local days) and online seconds inside operating hours (``uptime_hourly``), summed per
line key (billing.lines.LineKey) in two queries.

Each row of usage is first given to a car, a driver and a rate card by its local day:

- the car: the one the tablet was in when the day ended (``tablet_cars``; days before a
  tablet's first row belong to its first car);
- the driver: the one assigned to that car that day (``driver_assignments``), if any;
- the rate card: the tenant's card valid that day (``rate_cards``), if any.

Online seconds: an hour's stored seconds are spread evenly over the hour and counted for the
part of the hour inside the fleet's operating windows (the caller's, already cut at local
midnights and at the month's edges), each part on the local day its window is in; a tablet's
hour belongs to the fleet it was in when the hour began.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg

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


# Each tablet's cars over time, as [lo, hi) intervals; the first one reaches back forever.
HISTORY = """
hist AS (
    SELECT tablet_id, fleet_id, car_id,
           CASE WHEN lag(since) OVER w IS NULL THEN '-infinity'::timestamptz ELSE since END AS lo,
           coalesce(lead(since) OVER w, 'infinity'::timestamptz) AS hi
    FROM tablet_cars
    WHERE tablet_id IN (SELECT tablet_id FROM tablet_cars WHERE fleet_id = ANY(%(fleets)s))
    WINDOW w AS (PARTITION BY tablet_id ORDER BY since)
)"""

# The car, driver and card of each (tablet, local day) row of ``days`` (fleet_id, tablet_id,
# day, day_end, ...), then the sums per key.
ATTRIBUTE = """
SELECT u.fleet_id, coalesce(h.car_id, '') AS car_id, coalesce(a.driver_id, 0) AS driver_id,
       u.campaign_id, coalesce(c.version, 0) AS version,
       sum(u.plays)::bigint, sum(u.completed)::bigint, sum(u.play_ms)::bigint,
       sum(u.online_s) AS online_s
FROM days u
LEFT JOIN hist h ON h.tablet_id = u.tablet_id AND h.lo < u.day_end AND u.day_end <= h.hi
LEFT JOIN driver_assignments a ON a.tenant_id = %(tenant)s AND a.car_id = h.car_id
     AND a.valid_from <= u.day AND (a.valid_to IS NULL OR u.day <= a.valid_to)
LEFT JOIN rate_cards c ON c.tenant_id = %(tenant)s
     AND c.valid_from <= u.day AND (c.valid_to IS NULL OR u.day <= c.valid_to)
GROUP BY 1, 2, 3, 4, 5
"""

PLAYS = f"""
WITH {HISTORY}, days AS (
    SELECT d.fleet_id, d.tablet_id, d.day, d.campaign_id,
           ((d.day + 1)::timestamp AT TIME ZONE f.timezone) AS day_end,
           d.plays, d.completed, d.duration_ms AS play_ms, 0::numeric AS online_s
    FROM plays_daily d JOIN fleets f ON f.fleet_id = d.fleet_id
    WHERE f.tenant_id = %(tenant)s AND d.fleet_id = ANY(%(fleets)s)
      AND d.day BETWEEN %(first)s AND %(last)s
){ATTRIBUTE}"""  # noqa: S608 - constant fragments only

ONLINE = f"""
WITH {HISTORY}, ow AS (  -- operating windows, each inside one local day of the month
    SELECT * FROM unnest(%(wf)s::text[], %(wlo)s::timestamptz[], %(whi)s::timestamptz[],
                         %(wday)s::date[]) AS w(fleet_id, lo, hi, day)
), oh AS (  -- operating seconds per fleet, stored hour and local day
    SELECT ow.fleet_id, h.hour, ow.day,
           sum(extract(epoch FROM least(ow.hi, h.hour + interval '1 hour')
                                  - greatest(ow.lo, h.hour))) AS op_s
    FROM ow CROSS JOIN LATERAL generate_series(date_trunc('hour', ow.lo, 'UTC'),
                                               ow.hi - interval '1 microsecond',
                                               interval '1 hour') AS h(hour)
    GROUP BY 1, 2, 3
), online AS (
    SELECT oh.fleet_id, u.tablet_id, oh.day,
           sum(u.online_seconds::numeric * oh.op_s / 3600) AS online_s
    FROM uptime_hourly u
    JOIN hist t ON t.tablet_id = u.tablet_id AND t.lo <= u.hour AND u.hour < t.hi
    JOIN oh ON oh.fleet_id = t.fleet_id AND oh.hour = u.hour
    WHERE u.hour > %(lo)s - interval '1 hour' AND u.hour < %(hi)s
      AND u.tablet_id IN (SELECT tablet_id FROM tablet_cars WHERE fleet_id = ANY(%(fleets)s))
    GROUP BY 1, 2, 3
), days AS (
    SELECT o.fleet_id, o.tablet_id, o.day, '' AS campaign_id,
           ((o.day + 1)::timestamp AT TIME ZONE f.timezone) AS day_end,
           0 AS plays, 0 AS completed, 0 AS play_ms, o.online_s
    FROM online o JOIN fleets f ON f.fleet_id = o.fleet_id
){ATTRIBUTE}"""  # noqa: S608 - constant fragments only


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


def _usage(period: date, kind: Kind, row: tuple[Any, ...]) -> Usage:
    fleet_id, car_id, driver_id, campaign_id, version, plays, completed, play_ms, online_s = row
    key = LineKey(
        period,
        str(fleet_id),
        str(car_id),
        int(driver_id),
        kind,
        str(campaign_id),
        int(version),
    )
    return Usage(key, int(plays), int(completed), int(play_ms), Decimal(online_s or 0))


async def month_usage(
    conn: Conn,
    tenant_id: str,
    fleet_ids: list[str],
    month: date,
    last: date,
    windows: Windows,
) -> list[Usage]:
    """The month's usage of ``fleet_ids`` (fleets of the tenant), one row per line key."""
    if not fleet_ids:
        return []
    base = {"tenant": tenant_id, "fleets": fleet_ids}
    plays = await conn.execute(PLAYS, {**base, "first": month, "last": last})
    out = [_usage(month, "plays", row) for row in await plays.fetchall()]
    online = await conn.execute(
        ONLINE,
        {
            **base,
            "wf": windows.fleet_ids,
            "wlo": windows.starts,
            "whi": windows.ends,
            "wday": windows.days,
            "lo": windows.lo,
            "hi": windows.hi,
        },
    )
    out += [_usage(month, "online", row) for row in await online.fetchall()]
    return out
