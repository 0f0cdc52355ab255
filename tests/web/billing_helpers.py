"""Earnings and billing fixtures in the real store: rate cards, drivers and assignments, raw
plays with their local-day rollup (as the hub adds them), uptime hours, and the month's
statements as the panel computes them."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from billing.documents import Statement
from billing.rates import CampaignRate, RateCard, Shares
from store import driver_links, drivers, lead_billing, rate_cards
from store.users import User
from tests.helpers import store
from tests.web.agent_helpers import make_agent, new_lead
from tests.web.conftest import Conn, Tenant
from web.earnings.closing import close_month
from web.earnings.compute import MonthStatements, Scope, month_statements

Play = tuple[str, str, str, datetime, int, str]  # tablet, fleet, campaign, started, ms, result


def admin_of(tenant_id: str) -> User:
    return User(0, tenant_id, "test", "test", "admin", None)


def add_card(
    conn: Conn,
    tenant_id: str,
    valid_from: date,
    valid_to: date | None = None,
    *,
    basis: str = "play_second",
    rate: str = "0.002",
    online: str = "0.50",
    shares: tuple[str, str, str] = ("40", "45", "15"),
    campaigns: dict[str, tuple[str, str]] | None = None,
) -> RateCard:
    card = RateCard(
        0,
        valid_from,
        valid_to,
        basis,  # type: ignore[arg-type]
        Decimal(rate),
        Decimal(online),
        Shares(*(Decimal(s) for s in shares)),
        tuple(
            CampaignRate(c, b, Decimal(r))  # type: ignore[arg-type]
            for c, (b, r) in sorted((campaigns or {}).items())
        ),
    )
    return store(conn, lambda aconn: rate_cards.add(aconn, tenant_id, card, "test"))


def add_driver(conn: Conn, tenant_id: str, fleet_id: str, name: str) -> int:
    code = f"drv-{uuid.uuid4().hex[:8]}"
    return store(
        conn,
        partial(drivers.add, user=admin_of(tenant_id), fleet_id=fleet_id, code=code, name=name,
                phone=None, actor="test"),
    )  # fmt: skip


def assign(
    conn: Conn, tenant_id: str, driver_id: int, car_id: str, start: date, end: date | None
) -> int:
    return store(
        conn,
        partial(drivers.assign, user=admin_of(tenant_id), driver_id=driver_id, car_id=car_id,
                valid_from=start, valid_to=end, actor="test"),
    )  # fmt: skip


def record_plays(conn: Conn, plays: list[Play]) -> None:
    """Raw plays into ``plays`` and their sums per local day of their fleet into
    ``plays_daily`` (added to what is there, as the hub adds a late batch)."""
    daily: dict[tuple[date, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    zones: dict[str, ZoneInfo] = {}
    with conn.cursor() as cur:
        for tablet, fleet, campaign, started, ms, result in plays:
            if fleet not in zones:
                row = cur.execute("SELECT timezone FROM fleets WHERE fleet_id = %s", (fleet,))
                zones[fleet] = ZoneInfo(str(row.fetchone()[0]))  # type: ignore[index]
            cur.execute(
                "INSERT INTO plays (started_at, event_id, tablet_id, fleet_id, ad_id, campaign_id,"
                " playlist_id, playlist_etag, duration_ms, result, received_at)"
                " VALUES (%s, %s, %s, %s, 'ad-1', %s, 'pl-1', 'etag', %s, %s, %s)",
                (started, uuid.uuid4(), tablet, fleet, campaign, ms, result, started),
            )
            sums = daily[(started.astimezone(zones[fleet]).date(), campaign, tablet, fleet)]
            sums[0] += 1
            sums[1] += result == "completed"
            sums[2] += ms
        for (day, campaign, tablet, fleet), (n, done, ms) in daily.items():
            cur.execute(
                "INSERT INTO plays_daily AS d (day, campaign_id, tablet_id, fleet_id, plays,"
                " completed, duration_ms) VALUES (%s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (day, campaign_id, tablet_id) DO UPDATE SET"
                " plays = d.plays + excluded.plays, completed = d.completed + excluded.completed,"
                " duration_ms = d.duration_ms + excluded.duration_ms",
                (day, campaign, tablet, fleet, n, done, ms),
            )


def record_uptime(conn: Conn, rows: list[tuple[str, datetime, float]]) -> None:
    """Online seconds per tablet and hour (added to what is there)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO uptime_hourly AS u (tablet_id, hour, online_seconds) VALUES (%s, %s, %s)"
            " ON CONFLICT (tablet_id, hour) DO UPDATE"
            " SET online_seconds = u.online_seconds + excluded.online_seconds",
            rows,
        )


def statements(conn: Conn, tenant_id: str, month: date) -> MonthStatements:
    """The month's statements as an admin of the tenant sees them."""
    scope = Scope(tenant_id, None, None)
    return store(conn, lambda aconn: month_statements(aconn, scope, month))


def fleet_statement(conn: Conn, tenant_id: str, month: date, fleet_id: str) -> Statement:
    (found,) = [s for s in statements(conn, tenant_id, month).fleets if s.party == fleet_id]
    return found


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def accepted_lead(conn: Conn, campaign: Any, agent: Any, at: datetime, name: str) -> str:
    """A lead of ``campaign`` the agent accepted at ``at`` (as the inbox records it)."""
    lead_id = new_lead(conn, campaign, name=name, phone=f"+659{uuid.uuid4().int % 10**7:07d}")
    conn.execute(
        "INSERT INTO lead_offers (lead_id, tenant_id, agent_id, offered_at, expires_at, outcome,"
        " decided_at) VALUES (%s, %s, %s, %s, %s, 'accepted', %s)",
        (lead_id, agent.tenant_id, agent.user_id, at - timedelta(minutes=1),
         at + timedelta(minutes=1), at),
    )  # fmt: skip
    conn.execute(
        "UPDATE leads SET status = 'accepted', agent_id = %s WHERE lead_id = %s",
        (agent.user_id, lead_id),
    )
    return lead_id


def set_lead_price(
    conn: Conn, tenant_id: str, campaign_id: str, price: str, since: datetime
) -> None:
    store(
        conn,
        lambda aconn: lead_billing.set_price(
            aconn, tenant_id, campaign_id, Decimal(price), since, "Asia/Singapore", "test"
        ),
    )


def their_billing_objects(
    conn: Conn, tenant: Tenant, lead_id: str, campaign_id: str
) -> dict[str, str]:
    """``tenant``'s billing objects, keyed by the routes' parameter names: a rate card, a
    driver with an assignment, a buyer who accepted ``lead_id`` and disputed it, and March
    2026 closed (frozen statements and invoices)."""
    add_card(conn, tenant.tenant_id, date(2026, 1, 1))
    fleet = tenant.fleets[0]
    driver_id = add_driver(conn, tenant.tenant_id, fleet, "Their driver")
    assignment = assign(conn, tenant.tenant_id, driver_id, f"{fleet}-car0", date(2026, 3, 1), None)
    buyer = make_agent(conn, tenant, "their-buyer")
    at = datetime(2026, 3, 10, 4, tzinfo=UTC)
    conn.execute(
        "INSERT INTO lead_offers (lead_id, tenant_id, agent_id, offered_at, expires_at, outcome,"
        " decided_at) VALUES (%s, %s, %s, %s, %s, 'accepted', %s)",
        (lead_id, tenant.tenant_id, buyer.user_id, at, at + timedelta(minutes=2), at),
    )
    conn.execute(
        "UPDATE leads SET status = 'accepted', agent_id = %s WHERE lead_id = %s",
        (buyer.user_id, lead_id),
    )
    set_lead_price(conn, tenant.tenant_id, campaign_id, "9.90", at - timedelta(days=1))
    dispute = conn.execute(
        "INSERT INTO lead_disputes (tenant_id, lead_id, agent_id, reason)"
        " VALUES (%s, %s, %s, 'their secret reason') RETURNING dispute_id",
        (tenant.tenant_id, lead_id, buyer.user_id),
    ).fetchone()
    assert dispute is not None
    admin = admin_of(tenant.tenant_id)
    store(conn, lambda aconn: close_month(aconn, admin, date(2026, 3, 1), datetime.now(UTC)))
    code = conn.execute("SELECT code FROM drivers WHERE driver_id = %s", (driver_id,)).fetchone()
    assert code is not None
    return {
        "driver_id": str(driver_id),
        "driver_code": str(code[0]),
        "assignment_id": str(assignment),
        "version": "1",
        "dispute_id": str(dispute[0]),
        "agent_id": str(buyer.user_id),
        "month": "2026-03",
    }


def driver_link(conn: Conn, tenant_id: str, driver_id: int) -> str:
    """A sign-in link's path for the driver, as the panel shows it."""
    token = store(conn, lambda aconn: driver_links.issue(aconn, tenant_id, driver_id, "test"))
    return f"/signin/{token}"
