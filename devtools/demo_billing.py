"""The demo's earnings (``fleethub up``): Singapore dollars, a rate card, three drivers (the
first car changes driver mid last month), the demo tablets' plays and online hours from the
first day of last month to yesterday, last month closed (its statements frozen), a price per
lead and leads the demo agent accepted, and a fresh sign-in link for the first driver."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg

from billing.money import Currency
from billing.months import local_today, midnight, month_at, previous_month
from billing.rates import CampaignRate, RateCard, Shares
from config.errors import ConfigError
from store import billing_seed, billing_settings, driver_links, drivers, lead_billing, rate_cards
from store.billing_settings import BillingSettings
from store.users import User
from web.earnings.closing import close_month

Conn = psycopg.AsyncConnection[tuple[object, ...]]
ZONE = "Asia/Singapore"
DRIVERS = [("DRV-1001", "Tan Wei Ming"), ("DRV-1002", "Siti Rahmah"), ("DRV-1003", "Arjun Nair")]
LEADS = [("Lim Mei Ling", "+6591230001", 20), ("Ong Kah Hock", "+6591230002", 9)]


async def seed(
    conn: Conn, tenant_id: str, fleet_id: str, tablets: list[str], agent_id: int, code: str
) -> str:
    """Everything above (each part once); the first driver's sign-in token."""
    admin = User(0, tenant_id, "fleethub up", "fleethub up", "admin", None)
    now = datetime.now(UTC)
    this_month = month_at(now, ZONE)
    last_month = previous_month(this_month)
    await billing_settings.save(
        conn, tenant_id, BillingSettings(Currency("SGD", 2), ZONE, 7), "fleethub up"
    )
    if not await rate_cards.cards(conn, tenant_id):
        card = RateCard(
            0, previous_month(last_month), None, "play_second", Decimal("0.0008"),
            Decimal("0.35"), Shares(Decimal(40), Decimal(45), Decimal(15)),
            (CampaignRate("camp-sg", "thousand_plays", Decimal("2.40")),), "demo rates",
        )  # fmt: skip
        await rate_cards.add(conn, tenant_id, card, "fleethub up")
    ids = await _drivers(conn, admin, fleet_id, last_month)
    yesterday = local_today(now, ZONE) - timedelta(days=1)
    if tablets and yesterday >= last_month:
        await billing_seed.history(conn, tablets, last_month, yesterday)
    await _leads(conn, tenant_id, fleet_id, tablets, agent_id, code, last_month, now)
    with contextlib.suppress(ConfigError):  # not over in some zone yet: a later run closes it
        await close_month(conn, admin, last_month, now)
    return await driver_links.issue(conn, tenant_id, ids[0], "fleethub up")


async def _drivers(conn: Conn, admin: User, fleet_id: str, last_month: date) -> list[int]:
    have = {d.code: d.driver_id for d in await drivers.drivers(conn, admin, fleet_id)}
    ids = []
    for code, name in DRIVERS:
        if code not in have:
            have[code] = await drivers.add(conn, admin, fleet_id, code, name, None, "fleethub up")
        ids.append(have[code])
    if not await drivers.assignments(conn, admin.tenant_id, ids[0]):
        mid = last_month + timedelta(days=14)
        plan = [
            (ids[0], "demo-car-0001", last_month, mid),
            (ids[1], "demo-car-0001", mid + timedelta(days=1), None),
            (ids[2], "demo-car-0002", last_month, None),
        ]
        for driver_id, car, first, last in plan:
            with contextlib.suppress(ConfigError):  # fewer simulated cars than the demo names
                await drivers.assign(conn, admin, driver_id, car, first, last, "fleethub up")
    return ids


async def _leads(
    conn: Conn,
    tenant_id: str,
    fleet_id: str,
    tablets: list[str],
    agent_id: int,
    code: str,
    last_month: date,
    now: datetime,
) -> None:
    prices = {p.campaign_id: p for p in await lead_billing.prices(conn, tenant_id)}
    if "camp-sg" in prices and prices["camp-sg"].price is None:
        since = midnight(previous_month(last_month), ZONE)
        await lead_billing.set_price(
            conn, tenant_id, "camp-sg", Decimal("12.00"), since, ZONE, "fleethub up"
        )
    for n, (name, phone, day) in enumerate(LEADS):
        at = midnight(last_month + timedelta(days=day), ZONE) + timedelta(hours=10 + n)
        lead_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"fleethub-demo-lead-{tenant_id}-{n}"))
        await billing_seed.accepted_lead(
            conn, lead_id=lead_id, tenant_id=tenant_id, campaign_id="camp-sg", code=code,
            fleet_id=fleet_id, tablet_id=tablets[0] if tablets else None, name=name,
            phone=phone, agent_id=agent_id, at=min(at, now),
        )  # fmt: skip
