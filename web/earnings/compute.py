"""A month's statements for a user: frozen when the month is closed, else priced now from
the store's usage (store/usage.py) with the rate cards, plus the adjustments this month
carries for closed months whose data changed since (billing/adjust.py).

Who sees what: an admin every fleet and driver of the tenant, a fleet owner their fleets and
those fleets' drivers, a driver their own statement only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from actors.rules.hours import parse_hours
from billing.adjust import adjustments
from billing.assignments import Assignment, segments
from billing.documents import Statement
from billing.lines import Line, price
from billing.money import Currency
from billing.months import last_day, local_today, midnight, next_month, span
from billing.rates import RateCard
from billing.statements import Party, build
from store import billing_closes, billing_docs, billing_settings, drivers, rate_cards, usage
from store.billing_closes import Close, Reopening
from store.usage import FleetInfo, Windows
from store.users import User
from web.reports.operating import operating_windows

Conn = psycopg.AsyncConnection[Any]
# Late data is looked for in closed months up to a year back (plays older than the plays
# retention, 90 days by default, are refused at ingest anyway).
LOOKBACK_MONTHS = 12


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose statements: the tenant's fleets (None: all) and drivers (None: every driver of
    those fleets; a driver sees only themself and no fleet)."""

    tenant_id: str
    fleet_ids: list[str] | None
    driver_ids: list[int] | None
    fleets_visible: bool = True


@dataclass(frozen=True, slots=True)
class MonthStatements:
    month: date
    currency: Currency
    close: Close | None
    reopenings: list[Reopening]
    fleets: list[Statement]
    drivers: list[Statement]
    cards: list[RateCard] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.close is not None


async def scope_of(conn: Conn, user: User) -> Scope:
    """The user's scope (a driver: their register entry; none found: nothing)."""
    if user.role == "driver":
        mine = await drivers.of_user(conn, user)
        if mine is None:
            return Scope(user.tenant_id, [], [], fleets_visible=False)
        return Scope(user.tenant_id, [mine.fleet_id], [mine.driver_id], fleets_visible=False)
    fleets = None if user.fleets is None else list(user.fleets)
    return Scope(user.tenant_id, fleets, None)


def windows(fleets: list[FleetInfo], month: date) -> Windows:
    """Every fleet's operating windows in the month, cut at its local midnights."""
    w = Windows([], [], [], [], midnight(month, "UTC"), midnight(month, "UTC"))
    spans = []
    for f in fleets:
        lo, hi = span(month, f.timezone)
        spans.append((lo, hi))
        for open_lo, open_hi in operating_windows(
            parse_hours(f.operating_hours, f.timezone), lo, hi
        ):
            while open_lo < open_hi:
                day = local_today(open_lo, f.timezone)
                cut = min(open_hi, midnight(day + timedelta(days=1), f.timezone))
                w.fleet_ids.append(f.fleet_id)
                w.starts.append(open_lo)
                w.ends.append(cut)
                w.days.append(day)
                open_lo = cut
    if not spans:
        return w
    return Windows(
        w.fleet_ids, w.starts, w.ends, w.days, min(s[0] for s in spans), max(s[1] for s in spans)
    )


async def priced_month(
    conn: Conn,
    tenant_id: str,
    fleets: list[FleetInfo],
    month: date,
    cards: dict[int, RateCard],
    currency: Currency,
) -> list[Line]:
    """The month priced now, one line per key."""
    last = last_day(month)
    ids = [f.fleet_id for f in fleets]
    zones = {f.fleet_id: f.timezone for f in await usage.fleets(conn, tenant_id, None)}
    spells = await usage.spells(conn, ids)
    held: dict[str, list[Assignment]] = defaultdict(list)
    for a in await usage.assignments(conn, tenant_id, month, last):
        held[a.car_id].append(a)
    ordered = sorted(cards.values(), key=lambda c: c.valid_from)
    day_ends: dict[tuple[str, date], datetime] = {}

    def day_end(fleet_id: str, day: date) -> datetime:
        key = (fleet_id, day)
        if key not in day_ends:
            day_ends[key] = midnight(day + timedelta(days=1), zones.get(fleet_id, "UTC"))
        return day_ends[key]

    segs = [
        g
        for tablet in spells.values()
        for g in segments(tablet, month, last, day_end, held, ordered)
        if g.fleet_id in ids
    ]
    used = await usage.month_usage(conn, segs, month, last, windows(fleets, month))
    return [price(u, cards.get(u.key.rate_version), currency) for u in used]


def first_open_after(period: date, closes: dict[date, Close]) -> date:
    month = next_month(period)
    while month in closes:
        month = next_month(month)
    return month


def carried_periods(month: date, closes: dict[date, Close]) -> list[date]:
    """The closed months whose late data an open ``month`` carries: those it is the first
    open month after (within :data:`LOOKBACK_MONTHS`)."""
    out = []
    period = month
    for _ in range(LOOKBACK_MONTHS):
        period = (period - timedelta(days=1)).replace(day=1)
        if period in closes and first_open_after(period, closes) == month:
            out.append(period)
    return sorted(out)


async def live_lines(
    conn: Conn, scope: Scope, month: date, fleets: list[FleetInfo], currency: Currency
) -> list[Line]:
    """The open month's lines and its adjustments for closed months, for ``fleets``."""
    cards = {c.version: c for c in await rate_cards.cards(conn, scope.tenant_id)}
    closes = await billing_closes.live(conn, scope.tenant_id)
    lines = await priced_month(conn, scope.tenant_id, fleets, month, cards, currency)
    ids = [f.fleet_id for f in fleets]
    for period in carried_periods(month, closes):
        now = await priced_month(conn, scope.tenant_id, fleets, period, cards, currency)
        billed = await billing_docs.billed_lines(conn, scope.tenant_id, [period], ids)
        lines += adjustments(now, billed)
    return lines


async def _parties(conn: Conn, scope: Scope, user: User | None) -> dict[int, Party]:
    if scope.driver_ids is not None and not scope.fleets_visible:
        rows = [] if user is None else [r for r in [await drivers.of_user(conn, user)] if r]
    else:
        admin = User(0, scope.tenant_id, "billing", "billing", "admin", None)
        rows = await drivers.drivers(conn, user or admin)
        if scope.fleet_ids is not None:
            rows = [r for r in rows if r.fleet_id in scope.fleet_ids]
    return {r.driver_id: Party(r.name, r.fleet_id, r.timezone) for r in rows}


async def month_statements(
    conn: Conn, scope: Scope, month: date, user: User | None = None
) -> MonthStatements:
    """The month's statements in ``scope``: frozen when closed, else priced now."""
    settings = await billing_settings.get(conn, scope.tenant_id)
    closes = await billing_closes.live(conn, scope.tenant_id)
    reopened = await billing_closes.reopenings(conn, scope.tenant_id, month)
    cards = await rate_cards.cards(conn, scope.tenant_id)
    close = closes.get(month)
    wanted_drivers = None if scope.driver_ids is None else [str(d) for d in scope.driver_ids]
    if close is not None:
        fleet_docs = (
            await billing_docs.statements(conn, scope.tenant_id, month, "fleet", scope.fleet_ids)
            if scope.fleets_visible
            else []
        )
        if wanted_drivers is None and scope.fleet_ids is not None:
            parties = await _parties(conn, scope, user)
            wanted_drivers = [str(d) for d in parties]
        driver_docs = await billing_docs.statements(
            conn, scope.tenant_id, month, "driver", wanted_drivers
        )
        if scope.fleet_ids is not None and scope.fleets_visible:
            driver_docs = [d for d in driver_docs if d.fleet_id in scope.fleet_ids]
        return MonthStatements(
            month, settings.currency, close, reopened, fleet_docs, driver_docs, cards
        )
    fleets = await usage.fleets(conn, scope.tenant_id, scope.fleet_ids)
    lines = await live_lines(conn, scope, month, fleets, settings.currency)
    parties = await _parties(conn, scope, user)
    fleet_parties = (
        {f.fleet_id: Party(f.name, f.fleet_id, f.timezone) for f in fleets}
        if scope.fleets_visible
        else {}
    )
    fleet_docs, driver_docs = build(month, settings.currency, lines, fleet_parties, parties)
    return MonthStatements(month, settings.currency, None, reopened, fleet_docs, driver_docs, cards)
