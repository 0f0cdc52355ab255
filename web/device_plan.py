"""A tablet's playout plan: which playlist wins when, from now until at least 72 h ahead.

The plan is cut at every change point of the assignments that can reach the tablet
(their ``valid_from`` and ``valid_until``). Each piece is resolved with the hub's own
rules (:func:`hub.playlists.resolve`: emergency over normal, then the most specific
target, then the newest), so a segment's playlist etag is the manifest etag the hub
publishes on MQTT for that time (``pl-none`` when nothing is assigned). Segments are
half-open ``[from, until)``: the first starts at the last change point at or before now
(``null``: no change point yet), the last ends at the first change point after the 72 h
horizon (``null``: none is known). Dayparting (operating hours, time-of-day schedules)
is not modelled yet: validity windows are the only time rules.

The plan's etag hashes everything but ``generated_at``, so it only moves when a change
point passes, a new one enters the horizon, or an assignment or playlist reaching the
tablet changes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, Field

from hub.manifest import Manifest, Priority, canonical
from hub.playlists import empty_manifest, resolve

HORIZON = timedelta(hours=72)
MAX_CHANGES = 256  # change points resolved; a busier horizon ends the plan earlier

CHANGE_POINTS = """
WITH b AS (
    SELECT DISTINCT v.at
    FROM tablets t
    JOIN fleets f ON f.fleet_id = t.fleet_id
    JOIN playlist_assignments a
      ON a.revoked_at IS NULL AND a.tenant_id = f.tenant_id
     AND (   (a.target_kind = 'tablet' AND a.target_id = t.tablet_id)
          OR (a.target_kind = 'car' AND a.target_id = t.car_id)
          OR (a.target_kind = 'fleet' AND a.target_id = t.fleet_id)
          OR a.target_kind = 'all')
    CROSS JOIN LATERAL (VALUES (a.valid_from), (a.valid_until)) AS v(at)
    WHERE t.tablet_id = %(tablet)s AND v.at IS NOT NULL
)
SELECT (SELECT max(at) FROM b WHERE at <= %(now)s),
       (SELECT coalesce(array_agg(at ORDER BY at), '{}') FROM
            (SELECT at FROM b WHERE at > %(now)s AND at < %(horizon)s ORDER BY at LIMIT %(cap)s) s),
       (SELECT min(at) FROM b WHERE at >= %(horizon)s)
"""


class PlanItem(BaseModel):
    ad_id: str
    campaign_id: str
    url: str
    sha256: str
    duration_ms: int
    position: int


class PlanPlaylist(BaseModel):
    """The manifest the hub publishes for this time (``pl-none``: nothing assigned)."""

    playlist_id: str
    version: int
    etag: str
    priority: Priority
    valid_until: datetime | None
    items: list[PlanItem]


class Segment(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)
    from_: datetime | None = Field(alias="from", description="null: since before any change")
    until: datetime | None = Field(description="exclusive; null: no change known")
    playlist: PlanPlaylist


class Plan(BaseModel):
    tablet_id: str
    generated_at: datetime
    refresh_interval_s: int
    segments: list[Segment] = Field(description="contiguous, in time order")


def _playlist(manifest: Manifest) -> PlanPlaylist:
    items = sorted(manifest.items, key=lambda i: int(i["position"]))
    return PlanPlaylist(
        playlist_id=manifest.playlist_id, version=manifest.version, etag=manifest.etag,
        priority=manifest.priority, valid_until=manifest.valid_until,
        items=[PlanItem.model_validate(i) for i in items],
    )  # fmt: skip


async def _change_points(
    conn: Any, tablet_id: str, now: datetime
) -> tuple[datetime | None, list[datetime], datetime | None]:
    params = {"tablet": tablet_id, "now": now, "horizon": now + HORIZON, "cap": MAX_CHANGES}
    cur = await conn.execute(CHANGE_POINTS, params)
    since, inside, beyond = await cur.fetchone()
    if len(inside) == MAX_CHANGES:
        beyond = inside.pop()
    return since, list(inside), beyond


async def playout_plan(
    pool: AsyncConnectionPool, tablet_id: str, refresh_s: int, now: datetime
) -> Plan:
    """The plan from one consistent snapshot of the store."""
    async with pool.connection(timeout=5) as conn, conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        since, inside, beyond = await _change_points(conn, tablet_id, now)
        starts: list[datetime | None] = [since, *inside]
        ends: list[datetime | None] = [*inside, beyond]
        manifests = []
        for start in starts:
            won = await resolve(conn, refresh_s, [tablet_id], start or now)
            manifests.append(won.get(tablet_id) or empty_manifest(refresh_s))
    segments: list[Segment] = []
    for start, end, manifest in zip(starts, ends, manifests, strict=True):
        if segments and segments[-1].playlist.etag == manifest.etag:
            segments[-1].until = end  # the same manifest on both sides of a change point
        else:
            segments.append(
                Segment.model_validate(
                    {"from": start, "until": end, "playlist": _playlist(manifest)}
                )
            )
    return Plan(tablet_id=tablet_id, generated_at=now, refresh_interval_s=refresh_s,
                segments=segments)  # fmt: skip


def plan_etag(plan: Plan) -> str:
    """A strong HTTP etag (quoted) over the plan without ``generated_at``."""
    body = plan.model_dump(mode="json", by_alias=True, exclude={"generated_at"})
    return '"' + hashlib.sha256(canonical(body).encode()).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """``If-None-Match`` (a list of etags, weak or strong, or ``*``) names ``etag``."""
    if if_none_match is None:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags
