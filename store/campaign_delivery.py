"""A campaign's delivery from its rollups (``campaign_delivery``, ``campaign_cells``): per local
day and per local hour of a day in the campaign's zone, where it played (H3 cells), and the
distinct tablets and cars. The page, its CSV and ``/api/v1/campaigns/{id}/delivery`` all read
these functions, so their totals agree.

*Delivered* is what counts towards the goal: completed in-target plays, or in-target
play-seconds (the campaign's goal unit); ``plays`` counts every stored play, in target or
not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import class_row

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Row:
    """One day (``at`` its local date) or one hour (``at`` the hour's start) of delivery."""

    at: Any
    plays: int
    completed: int
    in_target: int
    in_target_s: int
    out_of_target: int
    tablets: int
    cars: int


@dataclass(frozen=True, slots=True)
class Cell:
    cell: str
    plays: int
    in_target: int


DAYS = """
SELECT (d.hour AT TIME ZONE %(tz)s)::date AS at, sum(d.plays)::bigint AS plays,
       sum(d.completed)::bigint AS completed, sum(d.in_target)::bigint AS in_target,
       (sum(d.in_target_ms) / 1000)::bigint AS in_target_s,
       sum(d.out_of_target)::bigint AS out_of_target,
       count(DISTINCT d.tablet_id) FILTER (WHERE d.in_target > 0 OR d.in_target_ms > 0)
           AS tablets,
       count(DISTINCT t.car_id) FILTER (WHERE d.in_target > 0 OR d.in_target_ms > 0) AS cars
FROM campaign_delivery d LEFT JOIN tablets t ON t.tablet_id = d.tablet_id
WHERE d.tenant_id = %(tenant)s AND d.campaign_id = %(campaign)s
GROUP BY 1 ORDER BY 1
"""
HOURS = """
SELECT d.hour AS at, sum(d.plays)::bigint AS plays, sum(d.completed)::bigint AS completed,
       sum(d.in_target)::bigint AS in_target, (sum(d.in_target_ms) / 1000)::bigint AS in_target_s,
       sum(d.out_of_target)::bigint AS out_of_target,
       count(DISTINCT d.tablet_id) FILTER (WHERE d.in_target > 0 OR d.in_target_ms > 0)
           AS tablets,
       count(DISTINCT t.car_id) FILTER (WHERE d.in_target > 0 OR d.in_target_ms > 0) AS cars
FROM campaign_delivery d LEFT JOIN tablets t ON t.tablet_id = d.tablet_id
WHERE d.tenant_id = %(tenant)s AND d.campaign_id = %(campaign)s
  AND (d.hour AT TIME ZONE %(tz)s)::date = %(day)s
GROUP BY 1 ORDER BY 1
"""
TOTAL = """
SELECT NULL AS at, coalesce(sum(d.plays), 0)::bigint, coalesce(sum(d.completed), 0)::bigint,
       coalesce(sum(d.in_target), 0)::bigint,
       coalesce(sum(d.in_target_ms) / 1000, 0)::bigint,
       coalesce(sum(d.out_of_target), 0)::bigint,
       count(DISTINCT d.tablet_id) FILTER (WHERE d.in_target > 0 OR d.in_target_ms > 0),
       count(DISTINCT t.car_id) FILTER (WHERE d.in_target > 0 OR d.in_target_ms > 0)
FROM campaign_delivery d LEFT JOIN tablets t ON t.tablet_id = d.tablet_id
WHERE d.tenant_id = %(tenant)s AND d.campaign_id = %(campaign)s
  AND (%(day)s::date IS NULL OR (d.hour AT TIME ZONE %(tz)s)::date = %(day)s)
"""
CELLS = """
SELECT cell, sum(plays)::bigint AS plays, sum(in_target)::bigint AS in_target
FROM campaign_cells
WHERE tenant_id = %(tenant)s AND campaign_id = %(campaign)s
  AND (%(day)s::date IS NULL OR day = %(day)s)
GROUP BY cell ORDER BY plays DESC, cell LIMIT 2000
"""


def _params(tenant_id: str, campaign_id: str, tz: str, day: date | None = None) -> dict[str, Any]:
    return {"tenant": tenant_id, "campaign": campaign_id, "tz": tz, "day": day}


async def days(conn: Conn, tenant_id: str, campaign_id: str, tz: str) -> list[Row]:
    async with conn.cursor(row_factory=class_row(Row)) as cur:
        await cur.execute(DAYS, _params(tenant_id, campaign_id, tz))
        return await cur.fetchall()


async def hours(conn: Conn, tenant_id: str, campaign_id: str, tz: str, day: date) -> list[Row]:
    async with conn.cursor(row_factory=class_row(Row)) as cur:
        await cur.execute(HOURS, _params(tenant_id, campaign_id, tz, day))
        return await cur.fetchall()


async def total(
    conn: Conn, tenant_id: str, campaign_id: str, tz: str, day: date | None = None
) -> Row:
    """The whole flight (or one day): distinct tablets and cars over it, not summed per day."""
    cur = await conn.execute(TOTAL, _params(tenant_id, campaign_id, tz, day))
    row = await cur.fetchone()
    assert row is not None
    return Row(*row)


async def cells(
    conn: Conn, tenant_id: str, campaign_id: str, day: date | None = None
) -> list[Cell]:
    async with conn.cursor(row_factory=class_row(Cell)) as cur:
        await cur.execute(CELLS, _params(tenant_id, campaign_id, "UTC", day))
        return await cur.fetchall()


def delivered(row: Row, unit: str) -> int:
    """What counts towards the goal in the campaign's unit."""
    return row.in_target if unit == "plays" else row.in_target_s
