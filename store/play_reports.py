"""Proof-of-play report rows: plays, completed plays and play time per group and campaign.

One query over the exact daily rollup ``plays_daily`` (UTC days of ``started_at``),
scoped through ``fleets f``: a play counts for the tenant and fleet it was stored under.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from psycopg import sql
from psycopg.rows import class_row
from psycopg_pool import AsyncConnectionPool

from store.scope import IN_SCOPE, scope_params
from store.users import User

GroupBy = Literal["day", "fleet", "tablet"]


@dataclass(frozen=True, slots=True)
class PlayRow:
    key: str
    label: str
    campaign_id: str
    fleet_id: str | None
    fleet_name: str | None
    plays: int
    completed: int
    duration_ms: int

    @property
    def duration_seconds(self) -> Decimal:
        return Decimal(self.duration_ms) / 1000


# Key, label, fleet columns per grouping; constant SQL chosen by the parsed group.
_GROUP_SQL: dict[GroupBy, tuple[str, str, str, str]] = {
    "day": ("d.day::text", "d.day::text", "NULL::text", "NULL::text"),
    "fleet": ("d.fleet_id", "f.name", "d.fleet_id", "f.name"),
    "tablet": ("d.tablet_id", "d.tablet_id", "d.fleet_id", "f.name"),
}

_REPORT = """
SELECT {key} AS key, {label} AS label, d.campaign_id,
       {fleet_id} AS fleet_id, {fleet_name} AS fleet_name,
       sum(d.plays)::bigint AS plays, sum(d.completed)::bigint AS completed,
       sum(d.duration_ms)::bigint AS duration_ms
FROM plays_daily d JOIN fleets f ON f.fleet_id = d.fleet_id
WHERE {in_scope}
  AND d.day BETWEEN %(first)s AND %(last)s
  AND (%(campaign)s::text IS NULL OR d.campaign_id = %(campaign)s)
  AND (%(fleet)s::text IS NULL OR d.fleet_id = %(fleet)s)
GROUP BY 1, 2, 3, 4, 5
ORDER BY 1, 3, 4
"""


async def rows(
    pool: AsyncConnectionPool,
    user: User,
    group_by: GroupBy,
    *,
    first: date,
    last: date,
    campaign: str | None,
    fleet: str | None,
) -> list[PlayRow]:
    """One row per group and campaign from ``first`` to ``last`` (UTC days, included)."""
    key, label, fleet_id, fleet_name = _GROUP_SQL[group_by]
    statement = sql.SQL(_REPORT).format(
        key=sql.SQL(key),
        label=sql.SQL(label),
        fleet_id=sql.SQL(fleet_id),
        fleet_name=sql.SQL(fleet_name),
        in_scope=sql.SQL(IN_SCOPE),
    )
    params = scope_params(user, first=first, last=last, campaign=campaign, fleet=fleet)
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=class_row(PlayRow))
        await cur.execute(statement, params)
        return await cur.fetchall()
