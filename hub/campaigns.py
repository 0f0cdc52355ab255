"""The hub's side of campaigns (issue 14, docs/campaigns.md).

- **The book**: the running campaigns (store/campaign_book.py), loaded when the hub starts
  listening, and again on ``NOTIFY fleethub_campaigns`` (a campaign's state, a zone, pacing);
  each load goes to every tablet actor (:class:`~actors.messages.CampaignBook`). After a
  change that is not only pacing every tablet is reconciled too, so the tablets of fleets with
  campaigns get their base manifest and links for new creatives (the hub's ``_desired``).
- **Edges**: at each flight start or end and daypart edge of a running campaign (in its
  fleets' zones) every tablet actor gets a :class:`~actors.messages.TargetingTick`.
- **Pacing and the system's steps** (shard 0 only, every ``campaign_pacing_interval_s`` and
  at the next flight edge): approved campaigns whose flight started run, running ones whose
  flight ended or whose total goal is delivered finish (store/campaigns.py ``advance``), and
  every running campaign's multiplier is decided (actors/rules/pacing.py) and stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from psycopg_pool import AsyncConnectionPool

from actors.messages import CampaignBook, TargetingTick
from actors.rules.pacing import Pace, daily_target, elapsed_share, pace
from actors.rules.targeting import EMPTY_BOOK, Book, CampaignRule, Hysteresis, next_edge
from config.settings import Settings
from hub.metrics import HubMetrics
from hub.supervise import retrying
from store import campaign_book, campaign_pacing, zones
from store import campaigns as campaign_store
from store.campaign_pacing import Running

log = logging.getLogger(__name__)

CHANNEL = zones.CHANNEL  # fleethub_campaigns
IDLE_WAKE_S = 3600.0


class Campaigns:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        settings: Settings,
        metrics: HubMetrics,
        to_actors: Callable[[object], None],
        reconcile: Callable[[], None],
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._metrics = metrics
        self._to_actors = to_actors
        self._reconcile = reconcile
        self._needs_reconcile = False
        self.hysteresis = Hysteresis(
            settings.campaign_leave_fixes,
            settings.campaign_leave_after_s,
            settings.campaign_position_stale_s,
        )
        self.book: Book = EMPTY_BOOK
        self._version = 0
        self._changed = asyncio.Event()
        self._paced = asyncio.Event()
        self._fleets: dict[str, str] = {}  # tablet id -> fleet id
        self._zones: dict[str, str] = {}  # fleet id -> time zone

    # --- what the hub asks ---------------------------------------------------

    def remember(self, tablet_id: str, fleet_id: str, timezone: str) -> None:
        self._fleets[tablet_id] = fleet_id
        self._zones[fleet_id] = timezone

    def tablets(self, tablet_ids: set[str]) -> set[str]:
        """Those of the tablets whose fleet has a running campaign."""
        fleets = self.book.by_fleet
        return {t for t in tablet_ids if self._fleets.get(t) in fleets}

    def files(self) -> set[str]:
        """Every creative's SHA-256 (their links go into the tablets' downloads)."""
        return {str(c.item["sha256"]) for r in self.book.rules for c in r.creatives}

    def on_notify(self, payload: str) -> None:
        """A change of campaigns: reload the book, and after it reconcile the tablets unless
        only pacing changed (their base manifests and links for new creatives)."""
        self._needs_reconcile |= payload != "pacing"
        self._changed.set()

    # --- the book --------------------------------------------------------------

    async def load(self) -> Book:
        """Read the book and hand it to the actors."""
        self._version += 1
        origin = self._settings.media_origin()
        async with self._pool.connection(timeout=10) as conn:
            book = await campaign_book.load(conn, origin, self.hysteresis, self._version)
        self.book = book
        self._to_actors(CampaignBook(book, datetime.now(UTC)))
        log.info(
            "campaign book %d: %d running campaigns, %d fleets, %d zones",
            book.version,
            len(book.rules),
            len(book.by_fleet),
            0 if book.index is None else len(book.index),
        )
        return book

    async def run(self) -> None:
        """Reload on change; tick the actors at every flight and daypart edge."""
        name = "hub.campaigns.edges"
        while True:
            now = datetime.now(UTC)
            zones = {self._zones.get(f, "UTC") for f in self.book.by_fleet}
            edge = next_edge(self.book.rules, zones, now)
            timeout = IDLE_WAKE_S if edge is None else (edge - now).total_seconds() + 0.05
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), max(0.05, timeout))
            if self._changed.is_set():
                self._changed.clear()
                await retrying(name, self._metrics, self.load)
                if self._needs_reconcile:
                    self._needs_reconcile = False
                    self._reconcile()
            elif edge is not None and datetime.now(UTC) >= edge:
                self._to_actors(TargetingTick(datetime.now(UTC)))

    # --- pacing (shard 0) --------------------------------------------------------

    async def pace_loop(self) -> None:
        name = "hub.campaigns.pacing"
        interval = self._settings.campaign_pacing_interval_s
        while True:
            await retrying(name, self._metrics, self.pace_once)
            edge = await retrying(name, self._metrics, self._next_flight_edge)
            wait = interval
            if edge is not None:
                wait = min(wait, max(0.05, (edge - datetime.now(UTC)).total_seconds() + 0.05))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._paced.wait(), wait)
            self._paced.clear()

    async def _next_flight_edge(self) -> datetime | None:
        async with self._pool.connection(timeout=10) as conn:
            return await campaign_store.next_flight_edge(conn)

    def pace_now(self) -> None:
        self._paced.set()

    async def pace_once(self) -> None:
        """The system's steps, then every running campaign's pacing decision."""
        s = self._settings
        now = datetime.now(UTC)
        interval = timedelta(seconds=s.campaign_pacing_interval_s)
        async with self._pool.connection(timeout=10) as conn:
            moved = await campaign_store.advance(conn, now)
            for tenant, campaign, status in moved:
                log.info("campaign %s/%s is %s", tenant, campaign, status)
            running = await campaign_pacing.running(conn, now, interval)
            decisions = [decide(r, now, s) for r in running]
            await campaign_pacing.save(conn, decisions, now)


def decide(r: Running, now: datetime, s: Settings) -> tuple[Running, date, Pace, int]:
    """One campaign's pacing decision: (campaign, its local day, pace, pods at its priority)."""
    tz = ZoneInfo(r.timezone)
    today = now.astimezone(tz).date()
    day_start = datetime.combine(today, datetime.min.time(), tz)
    day_end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tz)
    rule = CampaignRule(
        r.tenant_id,
        r.campaign_id,
        r.flight_start,
        r.flight_end,
        (),
        r.priority,
        dayparts=r.dayparts,
    )
    elapsed = elapsed_share(
        lambda t: rule.in_flight(t) and rule.in_daypart(t, r.timezone), day_start, day_end, now
    )
    end_day = (r.flight_end - timedelta(microseconds=1)).astimezone(tz).date()
    days_left = max(1, (end_day - today).days + 1)
    goal = daily_target(r.daily_goal, r.total_goal, r.before, days_left)
    interval = s.campaign_pacing_interval_s
    decision = pace(
        goal,
        r.today,
        elapsed,
        r.recent / interval,
        interval,
        s.campaign_pacing_margin,
        s.campaign_max_boost,
    )
    pods = 0 if decision.multiplier <= 0 else max(1, round(r.priority * decision.multiplier))
    return r, today, decision, pods
