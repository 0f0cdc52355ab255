"""Closing and reopening a month (admins): every statement and lead invoice of the tenant
for the month frozen at once, under the tenant's billing lock, audited with their hashes.

Closing is idempotent: a month already closed is left as it is and answered as closed. A
month closes only once it is over in every fleet's zone and the tenant's. Reopening needs a
reason and only the latest closed month reopens (a later close may carry this month's
adjustments); its documents stay, superseded, and the next close freezes new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from billing.documents import content_hash
from billing.errors import BillingError
from billing.months import has_ended, label, span, title
from store import billing_closes, billing_docs, billing_settings, usage
from store.audit import record
from store.billing_closes import Close
from store.users import User
from web.earnings.compute import Scope, month_statements
from web.lead_billing.compute import month_invoices

Conn = psycopg.AsyncConnection[Any]
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Closed:
    close: Close
    created: bool  # False: it was closed already (nothing changed)
    documents: int


async def close_month(conn: Conn, admin: User, month: date, now: datetime) -> Closed:
    """Freeze the month's documents (BillingError: the month is not over yet)."""
    tenant = admin.tenant_id
    async with conn.transaction():
        await billing_closes.lock(conn, tenant)
        closes = await billing_closes.live(conn, tenant)
        if month in closes:
            return Closed(closes[month], False, 0)
        settings = await billing_settings.get(conn, tenant)
        fleets = await usage.fleets(conn, tenant, None)
        zones = sorted({settings.timezone, *(f.timezone for f in fleets)})
        if not has_ended(month, zones, now):
            last = max(span(month, tz)[1] for tz in zones)
            raise BillingError(
                f"{title(month)} is not over yet: it ends {last:%Y-%m-%d %H:%M} UTC in the"
                " last of the tenant's time zones"
            )
        scope = Scope(tenant, None, None)
        statements = await month_statements(conn, scope, month)
        invoices = await month_invoices(conn, tenant, month)
        close = await billing_closes.insert(conn, tenant, month, admin.email)
        docs = [*statements.fleets, *statements.drivers]
        count = await billing_docs.write(conn, close, tenant, docs, invoices.invoices)
        await record(
            conn,
            tenant,
            admin.email,
            "billing.close",
            f"month:{label(month)}",
            {
                "documents": count,
                "hashes": {f"{d.kind}:{d.party}": content_hash(d) for d in docs}
                | {f"leads:{i.party}": content_hash(i) for i in invoices.invoices},
            },
        )
    return Closed(close, True, count)


async def reopen_month(conn: Conn, admin: User, month: date, reason: str) -> Close:
    """End the month's close (its documents stay, superseded), with the admin's reason."""
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= MAX_REASON:
        raise BillingError(f"give the reason for reopening (3 to {MAX_REASON} characters)")
    tenant = admin.tenant_id
    async with conn.transaction():
        await billing_closes.lock(conn, tenant)
        closes = await billing_closes.live(conn, tenant)
        close = closes.get(month)
        if close is None:
            raise BillingError(f"{title(month)} is not closed")
        if later := sorted(m for m in closes if m > month):
            raise BillingError(
                f"reopen {title(later[-1])} first: only the latest closed month reopens"
                " (a later month may carry this one's adjustments)"
            )
        await billing_closes.mark_reopened(conn, close.close_id, admin.email, reason)
        await record(
            conn, tenant, admin.email, "billing.reopen", f"month:{label(month)}", {"reason": reason}
        )
    return close
