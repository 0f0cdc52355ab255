"""One tablet in depth: its registration, recent heartbeats, presence timeline and deliveries.

The store (:mod:`store.tablets`) reads each part within the user's scope, so a
tablet outside it reads as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

from store import tablets
from store.incidents import Incident
from store.tablets import Delivery, TabletInfo, Transition
from store.tiles import Tile
from store.users import User
from web.alerts import incidents
from web.grid.tiles import one

WINDOW = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of one state on the timeline; ``x`` and ``width`` are percent of the window."""

    state: str
    start: datetime
    end: datetime
    # The transition that began it; None when the state was already held at the window start.
    reason: str | None
    x: float
    width: float

    @property
    def title(self) -> str:
        def hm(when: datetime) -> str:
            return when.astimezone(UTC).strftime("%d %b %H:%M")

        why = f" · reason: {self.reason}" if self.reason else " · held since before the window"
        return f"{self.state} {hm(self.start)}–{hm(self.end)} UTC{why}"


@dataclass(frozen=True, slots=True)
class Detail:
    tile: Tile
    info: TabletInfo
    window_start: datetime
    window_end: datetime
    timeline: list[Segment]
    transitions: list[Transition]
    heartbeats: list[Any]  # of Heartbeat
    incidents: list[Incident]
    deliveries: list[Delivery]
    uptime_pct: float


async def info(pool: AsyncConnectionPool, user: User, tablet_id: str) -> TabletInfo | None:
    return await tablets.info(pool, user, tablet_id)


async def heartbeats(
    pool: AsyncConnectionPool, user: User, tablet_id: str, limit: int = 50
) -> list[Any]:
    """The newest heartbeats first (:data:`Heartbeat`)."""
    return await tablets.heartbeats(pool, user, tablet_id, limit)


async def transitions(
    pool: AsyncConnectionPool, user: User, tablet_id: str, since: datetime, limit: int = 5000
) -> list[Transition]:
    """Presence transitions at or after ``since``, oldest first."""
    return await tablets.transitions(pool, user, tablet_id, since, limit)


async def uptime_pct(pool: AsyncConnectionPool, user: User, tablet_id: str, now: datetime) -> float:
    """Online share of the current UTC hour and the 23 before it (hourly rollups), in percent."""
    first = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    online = await tablets.online_seconds(pool, user, tablet_id, first, now)
    return min(100.0, round(online / max(1.0, (now - first).total_seconds()) * 100, 1))


def timeline(
    before: Transition | None, within: list[Transition], start: datetime, end: datetime
) -> list[Segment]:
    """Cut [start, end) into state segments: the state held at ``start`` then each transition."""
    span = (end - start).total_seconds()
    marks: list[tuple[datetime, str, str | None]] = [
        (start, before.to_state if before else "unknown", None)
    ]
    marks += [(t.time, t.to_state, t.reason) for t in within if start <= t.time < end]
    segments: list[Segment] = []
    ends = [m[0] for m in marks[1:]] + [end]
    for (at, state, reason), until in zip(marks, ends, strict=True):
        if until <= at:
            continue
        x = (at - start).total_seconds() / span * 100
        width = (until - at).total_seconds() / span * 100
        segments.append(Segment(state, at, until, reason, round(x, 3), round(width, 3)))
    return segments


async def detail(
    pool: AsyncConnectionPool, user: User, tablet_id: str, now: datetime
) -> Detail | None:
    tile = await one(pool, user, tablet_id)
    found = await info(pool, user, tablet_id)
    if tile is None or found is None:
        return None
    start = now - WINDOW
    within = await transitions(pool, user, tablet_id, start)
    before = await tablets.last_before(pool, user, tablet_id, start)
    return Detail(
        tile=tile,
        info=found,
        window_start=start,
        window_end=now,
        timeline=timeline(before, within, start, now),
        transitions=within,
        heartbeats=await heartbeats(pool, user, tablet_id, 50),
        incidents=await incidents.for_tablet(pool, user, tablet_id, 20),
        deliveries=await tablets.deliveries(pool, user, tablet_id, 20),
        uptime_pct=await uptime_pct(pool, user, tablet_id, now),
    )
