"""Uptime: online, observed and operating seconds, per tablet and range, in one query.

The one definition of uptime every page, CSV and API answer uses (the tablet page's last
24 hours, the heatmaps' hours and local days, the uptime report's local days):

* A tablet is observed from the later of a range's start and its registration to the
  earliest of the range's end, now and its revocation; a range it was not observed in
  has no uptime (not 0 %).
* Online seconds come from ``uptime_hourly``; an hour only partly inside a range or an
  operating window (half-hour zones, ``09:30`` windows) counts that part of its online
  seconds, as if spread evenly over the hour (the current hour: over its part until now).
  Per tablet and range, seconds are rounded to the millisecond and never more online than
  observed.
* Within operating hours: online seconds inside the fleet's operating windows over the
  operating seconds observed (the caller gives the windows; a fleet without hours is open).

The caller gives each fleet's ranges (``rf``, ``rn``, ``rlo``, ``rhi``: fleet, column
number, start, end) and operating windows (``wf``, ``wlo``, ``whi``) as arrays. The query
runs without TimescaleDB (plain generate_series) and joins each tablet only to its own
uptime rows (index range scans).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg_pool import AsyncConnectionPool

from store.scope import IN_SCOPE, scope_params
from store.users import User

UPTIME = f"""
WITH tab AS (  -- the tablets: in scope, filtered, one page of them in the grid's order
    SELECT t.tablet_id, t.car_id, f.fleet_id, f.name AS fleet_name, t.registered_at,
           t.revoked_at, count(*) OVER () AS total
    FROM tablets t JOIN fleets f ON f.fleet_id = t.fleet_id
    WHERE {IN_SCOPE} AND f.fleet_id = ANY(%(rf)s)
      AND (NOT %(registered)s OR t.revoked_at IS NULL)
      AND (%(tablet)s::text IS NULL OR t.tablet_id = %(tablet)s)
      AND (%(q)s::text IS NULL OR t.tablet_id ILIKE %(q)s OR t.car_id ILIKE %(q)s)
    ORDER BY f.name, f.fleet_id, t.car_id NULLS LAST, t.tablet_id
    LIMIT %(limit)s OFFSET %(offset)s
), fr AS (  -- each fleet's ranges (columns n)
    SELECT * FROM unnest(%(rf)s::text[], %(rn)s::int[], %(rlo)s::timestamptz[],
                         %(rhi)s::timestamptz[]) AS r(fleet_id, n, lo, hi)
), ow AS (  -- each fleet's operating windows
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
), seen AS (  -- each tablet's observed stretch of each range
    SELECT * FROM (
        SELECT tab.tablet_id, tab.fleet_id, fr.n, fr.lo, fr.hi,
               greatest(fr.lo, tab.registered_at) AS obs_lo,
               least(fr.hi, now(), coalesce(tab.revoked_at, 'infinity')) AS obs_hi
        FROM tab JOIN fr ON fr.fleet_id = tab.fleet_id
    ) AS s
    WHERE obs_lo < obs_hi
), parts AS (  -- observed, online and operating seconds as rows to add up
    SELECT tablet_id, n, extract(epoch FROM obs_hi - obs_lo) AS observed_s,
           0 AS online_s, 0 AS op_online_s, 0 AS op_s
    FROM seen
    UNION ALL
    SELECT s.tablet_id, s.n, 0, 0, 0,
           extract(epoch FROM least(ow.hi, s.obs_hi) - greatest(ow.lo, s.obs_lo))
    FROM seen s
    JOIN ow ON ow.fleet_id = s.fleet_id AND ow.lo < s.obs_hi AND ow.hi > s.obs_lo
    UNION ALL
    SELECT s.tablet_id, s.n, 0,
           CASE WHEN u.hour >= s.lo AND u.hour_end <= s.hi THEN u.online_seconds
                ELSE u.online_seconds
                     * greatest(0, date_part('epoch', least(s.hi, u.hour_end)
                                                      - greatest(s.lo, u.hour)))
                     / greatest(1, date_part('epoch', u.hour_end - u.hour)) END,
           u.online_seconds * coalesce(oh.op_s, 0) / 3600,
           0
    FROM seen s
    JOIN LATERAL (  -- an hour's online seconds lie before now: the current hour ends now
        SELECT h.hour, h.online_seconds,
               least(h.hour + interval '1 hour', now()) AS hour_end
        FROM uptime_hourly h
        WHERE h.tablet_id = s.tablet_id AND h.hour > s.lo - interval '1 hour' AND h.hour < s.hi
    ) AS u ON true
    LEFT JOIN oh ON oh.fleet_id = s.fleet_id AND oh.hour = u.hour
), sums AS (
    SELECT tablet_id, n, sum(observed_s) AS observed_s, sum(online_s)::numeric AS online_s,
           sum(op_online_s)::numeric AS op_online_s, sum(op_s) AS op_s
    FROM parts GROUP BY tablet_id, n
), per_tablet AS (  -- rounded to the millisecond; never more online than observed
    SELECT tab.tablet_id, tab.car_id, tab.fleet_id, tab.fleet_name, tab.total, sums.n,
           round(least(online_s, observed_s), 3) AS online_s,
           round(observed_s, 3) AS observed_s,
           round(least(op_online_s, op_s), 3) AS op_online_s,
           round(op_s, 3) AS op_s
    FROM sums JOIN tab USING (tablet_id)
)
"""  # noqa: S608  # IN_SCOPE is a constant fragment; the rest are parameters

# The uptime report and the tablet page: sums per group (fleet, car or tablet) and range.
GROUPS = (
    UPTIME
    + """
SELECT {key}, {label}, fleet_id, fleet_name, count(*) AS tablets,
       sum(online_s), sum(observed_s), sum(op_online_s), sum(op_s), n
FROM per_tablet
GROUP BY fleet_id, fleet_name, n{by}
ORDER BY fleet_name, fleet_id{by}, n
"""
)

GROUPING = {
    "fleet": ("fleet_id", "fleet_name", ""),
    "car": ("coalesce(car_id, '')", "coalesce(car_id, '(no car)')", ", car_id"),
    "tablet": ("tablet_id", "tablet_id", ", tablet_id"),
}

# The heatmaps: every tablet of the page, its online and observed seconds per column (null
# where it was not observed).
CELLS = (
    UPTIME
    + """
SELECT tab.tablet_id, tab.car_id, tab.fleet_id, tab.fleet_name, tab.total,
       array_agg(p.online_s ORDER BY c.n), array_agg(p.observed_s ORDER BY c.n)
FROM tab
CROSS JOIN generate_series(1, %(columns)s) AS c(n)
LEFT JOIN per_tablet p ON p.tablet_id = tab.tablet_id AND p.n = c.n
GROUP BY tab.fleet_name, tab.fleet_id, tab.car_id, tab.tablet_id, tab.total
ORDER BY tab.fleet_name, tab.fleet_id, tab.car_id NULLS LAST, tab.tablet_id
"""
)


def _params(
    user: User,
    ranges: dict[str, list[Any]],
    *,
    tablet: str | None = None,
    like: str | None = None,
    registered: bool = False,
    limit: int | None = None,
    offset: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return scope_params(
        user,
        **{k: ranges.get(k, []) for k in ("rf", "rn", "rlo", "rhi", "wf", "wlo", "whi")},
        tablet=tablet,
        q=like,
        registered=registered,
        limit=limit,
        offset=offset,
        **extra,
    )


async def sums(
    pool: AsyncConnectionPool,
    user: User,
    group_by: str,
    ranges: dict[str, list[Any]],
    *,
    tablet: str | None = None,
) -> list[tuple[Any, ...]]:
    """(key, label, fleet_id, fleet_name, tablets, online, observed, operating online,
    operating, range n) per group of :data:`GROUPING` and range; ``tablet``: that one only."""
    key, label, by = GROUPING[group_by]
    query = sql.SQL(GROUPS).format(key=sql.SQL(key), label=sql.SQL(label), by=sql.SQL(by))
    async with pool.connection() as conn:
        cur = await conn.execute(query, _params(user, ranges, tablet=tablet))
        return await cur.fetchall()


async def cells(
    pool: AsyncConnectionPool,
    user: User,
    ranges: dict[str, list[Any]],
    columns: int,
    *,
    like: str | None,
    limit: int,
    offset: int,
) -> list[tuple[Any, ...]]:
    """One page of registered tablets: (tablet_id, car_id, fleet_id, fleet_name, total,
    online seconds per column, observed seconds per column), ``None`` where not observed;
    ``total`` counts the tablets over all pages."""
    params = _params(
        user, ranges, like=like, registered=True, limit=limit, offset=offset, columns=columns
    )
    async with pool.connection() as conn:
        cur = await conn.execute(CELLS, params)
        return await cur.fetchall()
