"""A tenant's billing settings (``billing_settings``): its currency, the zone its lead
invoices count months in, and the days a buyer has to dispute an accepted lead.

A tenant without a row has :data:`DEFAULT` (Singapore dollars, Asia/Singapore, 7 days). The
currency cannot change once a month is closed: closed documents are in the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from billing.errors import BillingError
from billing.money import Currency
from billing.months import zone
from store import billing_closes
from store.audit import record

Conn = psycopg.AsyncConnection[Any]
MAX_DISPUTE_DAYS = 366


@dataclass(frozen=True, slots=True)
class BillingSettings:
    currency: Currency
    timezone: str
    dispute_days: int


DEFAULT = BillingSettings(Currency("SGD", 2), "Asia/Singapore", 7)

SELECT = """
SELECT currency, minor_units, timezone, dispute_days FROM billing_settings WHERE tenant_id = %s
"""
UPSERT = """
INSERT INTO billing_settings (tenant_id, currency, minor_units, timezone, dispute_days, updated_by)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (tenant_id) DO UPDATE SET currency = excluded.currency,
    minor_units = excluded.minor_units, timezone = excluded.timezone,
    dispute_days = excluded.dispute_days, updated_by = excluded.updated_by, updated_at = now()
"""


async def get(conn: Conn, tenant_id: str) -> BillingSettings:
    row = await (await conn.execute(SELECT, (tenant_id,))).fetchone()
    if row is None:
        return DEFAULT
    currency, minor_units, timezone, dispute_days = row
    return BillingSettings(
        Currency(str(currency), int(minor_units)), str(timezone), int(dispute_days)
    )


async def save(conn: Conn, tenant_id: str, settings: BillingSettings, actor: str) -> None:
    """Store the settings (audited); refuses an unknown zone, a dispute window out of range and
    a new currency once a month is closed."""
    zone(settings.timezone)
    if not 0 <= settings.dispute_days <= MAX_DISPUTE_DAYS:
        raise BillingError(f"the dispute window is 0 to {MAX_DISPUTE_DAYS} days")
    async with conn.transaction():
        await billing_closes.lock(conn, tenant_id)
        before = await get(conn, tenant_id)
        if before.currency != settings.currency and await billing_closes.closed_through(
            conn, tenant_id
        ):
            raise BillingError(
                f"the currency stays {before.currency.code}: months closed in it keep it"
                " (reopen them first to change it)"
            )
        c = settings.currency
        await conn.execute(
            UPSERT,
            (tenant_id, c.code, c.minor_units, settings.timezone, settings.dispute_days, actor),
        )
        await record(
            conn,
            tenant_id,
            actor,
            "billing.settings",
            f"tenant:{tenant_id}",
            {
                "currency": c.code,
                "minor_units": c.minor_units,
                "timezone": settings.timezone,
                "dispute_days": settings.dispute_days,
            },
        )
