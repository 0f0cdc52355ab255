"""Uptime heatmap cells: online and observed seconds per tablet and hour or local day.

Each heatmap is one SQL query over ``uptime_hourly`` (plain date_trunc and
generate_series, so it runs without TimescaleDB) for one page of tablets in a
user's scope. A cell's observed seconds run from the tablet's registration to now.
Days are the fleet's local days; an hour row of a fleet whose zone is offset by
half an hour spreads each stored hour evenly over the two days it touches.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from psycopg_pool import AsyncConnectionPool

from store.scope import IN_SCOPE, scope_params
from store.users import User

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


async def cells(
    pool: AsyncConnectionPool,
    user: User,
    kind: Literal["hourly", "daily"],
    *,
    fleet: str | None,
    like: str | None,
    limit: int,
    offset: int,
    first: datetime | date,
    last: datetime | date,
) -> list[tuple[Any, ...]]:
    """One page of tablets: (tablet_id, car_id, fleet_id, fleet_name, total, online seconds
    per column, observed seconds per column); ``first`` and ``last`` are the first and last
    hour (``hourly``) or day (``daily``); ``total`` counts the tablets over all pages."""
    params = scope_params(
        user, fleet=fleet, q=like, limit=limit, offset=offset, first=first, last=last
    )
    async with pool.connection() as conn:
        cur = await conn.execute(HOURLY if kind == "hourly" else DAILY, params)
        return await cur.fetchall()
