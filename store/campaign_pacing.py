"""What pacing reads and writes (``campaign_pacing``): each running campaign's goals and its
in-target delivery today, before today and over the last interval, from proof of play; the
decisions of :mod:`actors.rules.pacing`, kept for the campaign page and the hubs' book.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from actors.rules.dayparts import Daypart
from actors.rules.pacing import Pace
from store.zones import CHANNEL

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Running:
    tenant_id: str
    campaign_id: str
    timezone: str
    flight_start: datetime
    flight_end: datetime
    goal_unit: str
    daily_goal: int | None
    total_goal: int | None
    priority: int
    dayparts: tuple[Daypart, ...]
    today: int  # in-target delivery today (plays, or seconds), the campaign's local day
    before: int  # ... before today
    recent: int  # ... in the last interval (plays started then)


INPUTS = """
SELECT c.tenant_id, c.campaign_id, c.timezone, c.flight_start, c.flight_end, c.goal_unit,
       c.daily_goal, c.total_goal, c.priority,
       coalesce((SELECT json_agg(json_build_array(d.days, d.start_time, d.end_time)
                                 ORDER BY d.position) FROM campaign_dayparts d
                 WHERE d.tenant_id = c.tenant_id AND d.campaign_id = c.campaign_id), '[]'),
       coalesce((SELECT sum(CASE WHEN c.goal_unit = 'plays' THEN x.in_target
                                 ELSE x.in_target_ms / 1000 END) FILTER (WHERE x.hour >= s.day)
                 FROM campaign_delivery x
                 WHERE x.tenant_id = c.tenant_id AND x.campaign_id = c.campaign_id), 0),
       coalesce((SELECT sum(CASE WHEN c.goal_unit = 'plays' THEN x.in_target
                                 ELSE x.in_target_ms / 1000 END) FILTER (WHERE x.hour < s.day)
                 FROM campaign_delivery x
                 WHERE x.tenant_id = c.tenant_id AND x.campaign_id = c.campaign_id), 0),
       coalesce((SELECT CASE WHEN c.goal_unit = 'plays'
                             THEN count(*) FILTER (WHERE p.result = 'completed')
                             ELSE sum(p.duration_ms) / 1000 END
                 FROM plays p JOIN fleets f ON f.fleet_id = p.fleet_id
                 WHERE p.campaign_id = c.campaign_id AND f.tenant_id = c.tenant_id
                   AND p.started_at >= %(since)s AND p.out_of_target IS FALSE), 0)
FROM campaigns c
CROSS JOIN LATERAL (SELECT date_trunc('day', %(now)s AT TIME ZONE c.timezone)
                           AT TIME ZONE c.timezone AS day) s
WHERE c.status = 'running'
ORDER BY c.tenant_id, c.campaign_id
"""

SAVE = """
INSERT INTO campaign_pacing (tenant_id, campaign_id, day, multiplier, pods, status, delivered,
    expected, goal, computed_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id, campaign_id) DO UPDATE SET day = excluded.day,
    multiplier = excluded.multiplier, pods = excluded.pods, status = excluded.status,
    delivered = excluded.delivered, expected = excluded.expected, goal = excluded.goal,
    computed_at = excluded.computed_at
RETURNING (SELECT multiplier FROM campaign_pacing
           WHERE tenant_id = %s AND campaign_id = %s)
"""


async def running(conn: Conn, now: datetime, interval: timedelta) -> list[Running]:
    cur = await conn.execute(INPUTS, {"now": now, "since": now - interval})
    out = []
    for row in await cur.fetchall():
        tenant, campaign, tz, start, end, unit, daily, total, priority = row[:9]
        dayparts, today, before, recent = row[9:]
        parts = tuple(
            Daypart.of(
                None if days is None else [int(d) for d in days],
                None if s is None else datetime.strptime(s, "%H:%M:%S").time(),
                None if e is None else datetime.strptime(e, "%H:%M:%S").time(),
            )
            for days, s, e in dayparts
        )
        out.append(
            Running(
                str(tenant),
                str(campaign),
                str(tz),
                start,
                end,
                str(unit),
                daily,
                total,
                int(priority),
                parts,
                int(today),
                int(before),
                int(recent),
            )
        )
    return out


async def save(conn: Conn, decisions: list[tuple[Running, date, Pace, int]], now: datetime) -> bool:
    """Store the decisions (campaign, local day, pace, pods); wake the hubs when a
    multiplier changed. True when one did."""
    changed = False
    async with conn.transaction():
        for r, day, pace, pods in decisions:
            cur = await conn.execute(
                SAVE,
                (
                    r.tenant_id,
                    r.campaign_id,
                    day,
                    pace.multiplier,
                    pods,
                    pace.status,
                    pace.delivered,
                    pace.expected,
                    pace.goal,
                    now,
                    r.tenant_id,
                    r.campaign_id,
                ),
            )
            row = await cur.fetchone()
            before = None if row is None else row[0]
            changed |= before is None or float(before) != pace.multiplier
        if changed:
            await conn.execute("SELECT pg_notify(%s, 'pacing')", (CHANNEL,))
    return changed
