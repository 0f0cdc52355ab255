"""Uptime report sums: online, observed and operating seconds per fleet, car or tablet.

One query over ``uptime_hourly`` for the tablets in a user's scope, given each fleet's
range (its local days) and operating windows as arrays. An hour only partly inside a
range or window counts that part of its online seconds; per tablet, seconds are
rounded to the millisecond and never more online than observed.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from store.scope import IN_SCOPE, scope_params
from store.users import User

REPORT = f"""
WITH fr AS (  -- each fleet's range: the period's days in its zone
    SELECT * FROM unnest(%(rf)s::text[], %(rlo)s::timestamptz[], %(rhi)s::timestamptz[])
        AS r(fleet_id, lo, hi)
), ow AS (  -- each fleet's operating windows within its range
    SELECT * FROM unnest(%(wf)s::text[], %(wlo)s::timestamptz[], %(whi)s::timestamptz[])
        AS w(fleet_id, lo, hi)
), oh AS (  -- each fleet's operating seconds per stored hour
    SELECT ow.fleet_id, h.hour,
           sum(extract(epoch FROM least(ow.hi, h.hour + interval '1 hour')
                                  - greatest(ow.lo, h.hour)))::float8 AS op_s
    FROM ow CROSS JOIN LATERAL generate_series(date_trunc('hour', ow.lo, 'UTC'),
                                               ow.hi - interval '1 microsecond',
                                               interval '1 hour') AS h(hour)
    GROUP BY ow.fleet_id, h.hour
), seen AS (  -- the tablets observed in the range, and when
    SELECT * FROM (
        SELECT t.tablet_id, t.car_id, f.fleet_id, f.name AS fleet_name, fr.lo, fr.hi,
               greatest(fr.lo, t.registered_at) AS obs_lo,
               least(fr.hi, now(), coalesce(t.revoked_at, 'infinity')) AS obs_hi
        FROM tablets t
        JOIN fleets f ON f.fleet_id = t.fleet_id
        JOIN fr ON fr.fleet_id = f.fleet_id
        WHERE {IN_SCOPE}
    ) AS tab
    WHERE obs_lo < obs_hi
), parts AS (  -- observed, online and operating seconds as rows to add up per tablet
    SELECT tablet_id, car_id, fleet_id, fleet_name,
           extract(epoch FROM obs_hi - obs_lo) AS observed_s,
           0 AS online_s, 0 AS op_online_s, 0 AS op_s
    FROM seen
    UNION ALL
    SELECT s.tablet_id, s.car_id, s.fleet_id, s.fleet_name, 0, 0, 0,
           extract(epoch FROM least(ow.hi, s.obs_hi) - greatest(ow.lo, s.obs_lo))
    FROM seen s
    JOIN ow ON ow.fleet_id = s.fleet_id AND ow.lo < s.obs_hi AND ow.hi > s.obs_lo
    UNION ALL
    SELECT s.tablet_id, s.car_id, s.fleet_id, s.fleet_name, 0,
           CASE WHEN u.hour >= s.lo AND u.hour + interval '1 hour' <= s.hi THEN u.online_seconds
                ELSE u.online_seconds * date_part('epoch', least(s.hi, u.hour + interval '1 hour')
                                                           - greatest(s.lo, u.hour)) / 3600 END,
           u.online_seconds * coalesce(oh.op_s, 0) / 3600,
           0
    FROM seen s
    JOIN uptime_hourly u ON u.tablet_id = s.tablet_id
         AND u.hour > s.lo - interval '1 hour' AND u.hour < s.hi
    LEFT JOIN oh ON oh.fleet_id = s.fleet_id AND oh.hour = u.hour
), sums AS (
    SELECT tablet_id, car_id, fleet_id, fleet_name,
           sum(observed_s) AS observed_s, sum(online_s)::numeric AS online_s,
           sum(op_online_s)::numeric AS op_online_s, sum(op_s) AS op_s
    FROM parts GROUP BY tablet_id, car_id, fleet_id, fleet_name
), per_tablet AS (  -- rounded to the millisecond; never more online than observed
    SELECT tablet_id, car_id, fleet_id, fleet_name,
           round(least(online_s, observed_s), 3) AS online_s,
           round(observed_s, 3) AS observed_s,
           round(least(op_online_s, op_s), 3) AS op_online_s,
           round(op_s, 3) AS op_s
    FROM sums
)
SELECT {{key}}, {{label}}, fleet_id, fleet_name, count(*) AS tablets,
       sum(online_s), sum(observed_s), sum(op_online_s), sum(op_s)
FROM per_tablet
GROUP BY fleet_id, fleet_name{{by}}
ORDER BY fleet_name, fleet_id{{by}}
"""  # noqa: S608  # IN_SCOPE is a constant fragment; the rest are parameters

GROUPING = {
    "fleet": ("fleet_id", "fleet_name", ""),
    "car": ("coalesce(car_id, '')", "coalesce(car_id, '(no car)')", ", car_id"),
    "tablet": ("tablet_id", "tablet_id", ", tablet_id"),
}


async def sums(
    pool: AsyncConnectionPool, user: User, group_by: str, ranges: dict[str, list[object]]
) -> list[tuple[Any, ...]]:
    """(key, label, fleet_id, fleet_name, tablets, online, observed, operating online,
    operating) per group of :data:`GROUPING`; ``ranges`` holds the arrays ``rf``, ``rlo``,
    ``rhi`` (each fleet's range) and ``wf``, ``wlo``, ``whi`` (its operating windows)."""
    key, label, by = GROUPING[group_by]
    query = sql.SQL(REPORT).format(key=sql.SQL(key), label=sql.SQL(label), by=sql.SQL(by))
    async with pool.connection() as conn:
        cur = await conn.execute(query, scope_params(user, **ranges))
        return await cur.fetchall()
