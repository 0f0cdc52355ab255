"""One tablet in depth: its registration, recent heartbeats, presence timeline and deliveries.

The store (:mod:`store.tablets`) reads each part within the user's scope, so a
tablet outside it reads as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg_pool import AsyncConnectionPool

from store import commands, screenshots, tablets
from store.commands import CommandRow
from store.fleets import Fleet
from store.incidents import Incident
from store.screenshots import Screenshot
from store.tablets import Delivery, TabletInfo, Transition
from store.tiles import Tile
from store.users import User
from web.alerts import incidents
from web.grid.tiles import STATE_WORDS, one
from web.http.templating import duration, local_text
from web.reports.heatmap import scoped_fleets
from web.reports.uptime_report import UptimeRow, tablet_uptime

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

    def title(self, zone: str, offline_after_s: int) -> str:
        """ "offline 14:02–14:25 · connection lost", in ``zone``."""

        def hm(when: datetime) -> str:
            return local_text(when, zone, "%d %b %H:%M")

        why = reason_words(self.state, self.reason, offline_after_s) if self.reason else None
        state = STATE_WORDS.get(self.state, self.state)
        return f"{state} {hm(self.start)}–{hm(self.end)} · {why or 'since before this window'}"


def reason_words(to_state: str, reason: str | None, offline_after_s: int) -> str:
    """Why a tablet changed state, in words an operator uses (the hub's reason codes)."""
    if reason == "heartbeat":
        return "a heartbeat came in"
    if reason == "status":
        return "the app said it is online" if to_state == "online" else "the app signed off"
    if reason == "will":
        return "connection lost"
    if reason == "timeout":
        return f"no heartbeat for {duration(offline_after_s)}"
    return reason or "unknown"


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
    uptime: UptimeRow | None  # the last 24 hours (None: not observed in them)
    fleet: Fleet
    commands: list[CommandRow]  # the newest sent to it (its own counts)
    screenshots: list[Screenshot]  # the newest first
    allowed: tuple[str, ...]  # the commands the user may send it


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
    fleet = next(f for f in await scoped_fleets(pool, user) if f.fleet_id == tile.fleet_id)
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
        uptime=await tablet_uptime(pool, user, fleet, tablet_id, start, now),
        fleet=fleet,
        commands=await commands.listing(pool, user, tablet_id=tablet_id, limit=10),
        screenshots=await screenshots.latest(pool, user, tablet_id, 3),
        allowed=await _allowed(pool, user) if found.revoked_at is None else (),
    )


async def _allowed(pool: AsyncConnectionPool, user: User) -> tuple[str, ...]:
    async with pool.connection() as conn:
        return await commands.allowed(conn, user)
