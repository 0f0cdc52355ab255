"""A campaign's delivery as the portal shows it, as CSV and as JSON: one assembly
(:func:`report`), so the page, the CSV and ``/api/v1/campaigns/{id}/delivery`` agree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg_pool import AsyncConnectionPool

from actors.rules.geo import cell_boundary
from store import campaign_delivery as store
from store.campaign_delivery import Cell, Row
from store.campaigns import Campaign
from web.http.sheets import Column, Sheet

COLUMNS = [
    Column("day"),
    Column("delivered", True),
    Column("daily goal", True),
    Column("plays", True),
    Column("completed", True),
    Column("in-target plays", True),
    Column("in-target play-seconds", True),
    Column("out of target", True),
    Column("tablets", True),
    Column("cars", True),
]


@dataclass(frozen=True, slots=True)
class Report:
    campaign: Campaign
    days: list[Row]
    total: Row
    day: date | None  # the day whose hours are shown
    hours: list[Row]
    cells: list[Cell]

    def delivered(self, row: Row) -> int:
        return store.delivered(row, self.campaign.goal_unit)

    def hour_label(self, row: Row) -> str:
        local: datetime = row.at.astimezone(ZoneInfo(self.campaign.timezone))
        return local.strftime("%H:00") + (" (again)" if local.fold else "")


async def report(pool: AsyncConnectionPool, campaign: Campaign, day: date | None = None) -> Report:
    tenant_id, cid, tz = campaign.tenant_id, campaign.campaign_id, campaign.timezone
    async with pool.connection() as conn:
        days = await store.days(conn, tenant_id, cid, tz)
        total = await store.total(conn, tenant_id, cid, tz)
        shown = day or (days[-1].at if days else None)
        hours = await store.hours(conn, tenant_id, cid, tz, shown) if shown else []
        cells = await store.cells(conn, tenant_id, cid)
    return Report(campaign, days, total, shown, hours, cells)


def row_values(r: Report, row: Row, label: str) -> list[str]:
    goal = r.campaign.daily_goal
    return [
        label,
        str(r.delivered(row)),
        "" if goal is None else str(goal),
        str(row.plays),
        str(row.completed),
        str(row.in_target),
        str(row.in_target_s),
        str(row.out_of_target),
        str(row.tablets),
        str(row.cars),
    ]


def sheet(r: Report) -> Sheet:
    c = r.campaign
    rows = [row_values(r, d, d.at.isoformat()) for d in r.days]
    total = row_values(r, r.total, "total")
    total[2] = "" if c.total_goal is None else str(c.total_goal)
    return Sheet(
        title=f"Delivery of {c.name}",
        facts=[("campaign", c.campaign_id), ("goal unit", c.goal_unit), ("zone", c.timezone)],
        columns=COLUMNS,
        rows=rows,
        total=total,
    )


def as_json(r: Report) -> dict[str, Any]:
    def one(row: Row) -> dict[str, Any]:
        return {
            "delivered": r.delivered(row),
            "plays": row.plays,
            "completed": row.completed,
            "in_target_plays": row.in_target,
            "in_target_play_seconds": row.in_target_s,
            "out_of_target": row.out_of_target,
            "tablets": row.tablets,
            "cars": row.cars,
        }

    c = r.campaign
    return {
        "campaign_id": c.campaign_id,
        "goal_unit": c.goal_unit,
        "daily_goal": c.daily_goal,
        "total_goal": c.total_goal,
        "timezone": c.timezone,
        "days": [{"day": d.at.isoformat(), **one(d)} for d in r.days],
        "hours": {
            "day": r.day.isoformat() if r.day else None,
            "hours": [{"hour": h.at.isoformat(), **one(h)} for h in r.hours],
        },
        "total": one(r.total),
        "cells": [{"cell": x.cell, "plays": x.plays, "in_target": x.in_target} for x in r.cells],
        "pacing": None if c.pacing is None else pacing_json(c),
    }


def pacing_json(c: Campaign) -> dict[str, Any]:
    p = c.pacing
    assert p is not None
    return {
        "status": p.status,
        "multiplier": p.multiplier,
        "pods": p.pods,
        "delivered_today": p.delivered,
        "expected_by_now": p.expected,
        "goal_today": p.goal,
        "computed_at": p.computed_at.isoformat(),
    }


def map_config(r: Report, zones: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """What the delivery map draws: each H3 cell's outline and plays, the targeted zones."""
    return {
        "cells": [[cell_boundary(x.cell), x.plays, x.in_target] for x in r.cells],
        "zones": [{"name": name, "geometry": geometry} for name, geometry in zones],
    }


def now_day(campaign: Campaign) -> date:
    return datetime.now(ZoneInfo(campaign.timezone)).date()
