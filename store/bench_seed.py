"""What the benchmarks write in bulk: thousands of tablets in one statement each
(``generate_series``), where ``fleethub tablet add`` registers one at a time, and the panel
benchmark's state changes made by hand (the hub is not running there)."""

from __future__ import annotations

import json

import psycopg

Conn = psycopg.AsyncConnection[tuple[object, ...]]

NUMBERED_TABLETS = (
    "INSERT INTO tablets (tablet_id, fleet_id, heartbeat_interval_s, offline_after_s)"
    " SELECT %s || lpad(n::text, 6, '0'), %s, %s, %s FROM generate_series(0, %s - 1) n"
    " ON CONFLICT DO NOTHING"
)
BLANK_STATES = (
    "INSERT INTO tablet_state (tablet_id) SELECT tablet_id FROM tablets ON CONFLICT DO NOTHING"
)
# The panel benchmark's grid: tablet n is in car n of fleet bp-(n / per fleet), with a state,
# a battery and an ad that vary with n.
GRID_CARS = """
INSERT INTO cars (car_id, fleet_id)
SELECT 'bp-car-' || n, 'bp-' || ((n - 1) / %s + 1) FROM generate_series(1, %s) n
ON CONFLICT DO NOTHING
"""
GRID_TABLETS = """
INSERT INTO tablets (tablet_id, fleet_id, car_id, heartbeat_interval_s, offline_after_s)
SELECT 'bp-tab-' || n, 'bp-' || ((n - 1) / %s + 1), 'bp-car-' || n, 60, 180
FROM generate_series(1, %s) n
ON CONFLICT DO NOTHING
"""
GRID_STATES = """
INSERT INTO tablet_state (tablet_id, state, state_since, last_heartbeat_at, battery,
                          app_version, ad_id, campaign_id, desired_etag, applied_etag, updated_at)
SELECT 'bp-tab-' || n, (ARRAY['online', 'online', 'online', 'offline', 'unknown'])[n %% 5 + 1],
       now() - interval '1 hour', now() - (n %% 600) * interval '1 second', n %% 100,
       '2.3.' || (n %% 4), 'ad-' || (n %% 7), 'camp-' || (n %% 3), 'etag-a',
       CASE WHEN n %% 10 = 0 THEN 'etag-old' ELSE 'etag-a' END, now() - interval '1 hour'
FROM generate_series(1, %s) n
ON CONFLICT (tablet_id) DO NOTHING
"""


async def numbered_tablets(
    conn: Conn,
    fleet_id: str,
    prefix: str,
    count: int,
    heartbeat_interval_s: int,
    offline_after_s: int,
) -> None:
    """Tablets ``{prefix}000000`` … in the fleet (no cars), then a state row for every tablet."""
    await conn.execute(
        NUMBERED_TABLETS, (prefix, fleet_id, heartbeat_interval_s, offline_after_s, count)
    )
    await conn.execute(BLANK_STATES)


async def panel_grid(conn: Conn, per_fleet: int, tablets: int) -> None:
    """Cars, tablets and varied states of the panel benchmark (its fleets ``bp-1`` … exist)."""
    await conn.execute(GRID_CARS, (per_fleet, tablets))
    await conn.execute(GRID_TABLETS, (per_fleet, tablets))
    await conn.execute(GRID_STATES, (tablets,))


async def change_battery(conn: Conn, tablet_id: str, battery: int, notify: bool) -> None:
    """One tablet's battery, in a transaction of its own; with ``notify``, announced as the
    hub announces a transition (``fleethub_state``), else left for the panel's poll."""
    async with conn.transaction():
        await conn.execute(
            "UPDATE tablet_state SET battery = %s, updated_at = now() WHERE tablet_id = %s",
            (battery, tablet_id),
        )
        if notify:
            await conn.execute("SELECT pg_notify('fleethub_state', %s)", (json.dumps([tablet_id]),))


# The statements benchmark (devtools/bench/statements.py): tablet n in car n of fleet
# bs-(n / per fleet), one driver a car for the month and a second one from the 16th for every
# tenth car, three campaigns a tablet a day in plays_daily, every hour of the month in
# uptime_hourly (its online seconds varying with tablet and hour).
STATEMENT_CARS = """
INSERT INTO cars (car_id, fleet_id)
SELECT 'bs-car-' || n, 'bs-' || ((n - 1) / %(per)s + 1) FROM generate_series(1, %(n)s::int) n
"""
STATEMENT_TABLETS = """
INSERT INTO tablets (tablet_id, fleet_id, car_id, heartbeat_interval_s, offline_after_s,
                     registered_at)
SELECT 'bs-tab-' || n, 'bs-' || ((n - 1) / %(per)s + 1), 'bs-car-' || n, 60, 180,
       %(first)s::date - 1
FROM generate_series(1, %(n)s::int) n
"""
STATEMENT_DRIVERS = """
INSERT INTO drivers (tenant_id, fleet_id, code, name, created_by)
SELECT %(tenant)s, 'bs-' || ((n - 1) / %(per)s + 1), 'bs-drv-' || n || '-' || k,
       'Driver ' || n || '/' || k, 'bench'
FROM generate_series(1, %(n)s::int) n CROSS JOIN generate_series(1, 2) k
WHERE k = 1 OR n %% 10 = 0
"""
STATEMENT_ASSIGNMENTS = """
INSERT INTO driver_assignments (tenant_id, driver_id, car_id, valid_from, valid_to, created_by)
SELECT %(tenant)s, d.driver_id, 'bs-car-' || split_part(d.code, '-', 3),
       CASE WHEN d.code LIKE '%%-2' THEN %(first)s::date + 15 ELSE %(first)s::date END,
       CASE WHEN d.code LIKE '%%-1' AND split_part(d.code, '-', 3)::int %% 10 = 0
            THEN %(first)s::date + 14 END,
       'bench'
FROM drivers d WHERE d.tenant_id = %(tenant)s
"""
STATEMENT_PLAYS = """
INSERT INTO plays_daily (day, campaign_id, tablet_id, fleet_id, plays, completed, duration_ms)
SELECT %(first)s::date + d, c, 'bs-tab-' || n, 'bs-' || ((n - 1) / %(per)s + 1),
       900 + (n + d) %% 200, 850 + (n + d) %% 150, (900 + (n + d) %% 200) * 15000::bigint
FROM generate_series(1, %(n)s::int) n
CROSS JOIN generate_series(0, %(days)s::int - 1) d
CROSS JOIN unnest(ARRAY['camp-a', 'camp-b', 'camp-c']) c
"""
STATEMENT_UPTIME = """
INSERT INTO uptime_hourly (tablet_id, hour, online_seconds)
SELECT 'bs-tab-' || n, %(lo)s::timestamptz + h * interval '1 hour',
       3600 - ((n * 7 + h) %% 13) * 97.5
FROM generate_series(%(start)s::int, %(end)s::int) n
CROSS JOIN generate_series(0, %(hours)s::int - 1) h
"""


async def statement_fleet(
    conn: Conn, tenant_id: str, per_fleet: int, tablets: int, first: object, days: int
) -> None:
    """Cars, tablets, drivers and their assignments, and the month's plays (the fleets and
    the rate card exist)."""
    params = {"tenant": tenant_id, "per": per_fleet, "n": tablets, "first": first, "days": days}
    for statement in (
        STATEMENT_CARS,
        STATEMENT_TABLETS,
        STATEMENT_DRIVERS,
        STATEMENT_ASSIGNMENTS,
        STATEMENT_PLAYS,
    ):
        await conn.execute(statement, params)


async def statement_uptime(conn: Conn, start: int, end: int, lo: object, hours: int) -> None:
    """Every hour of the month for tablets ``start`` … ``end``."""
    await conn.execute(STATEMENT_UPTIME, {"start": start, "end": end, "lo": lo, "hours": hours})


async def analyze(conn: Conn) -> None:
    await conn.execute("ANALYZE")
