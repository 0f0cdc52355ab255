"""A month's lead invoices: one per buyer (an agent) who accepted leads in it, frozen when
the month is closed, else made now from the store (store/lead_billing.py), with the
adjustments (credits of leads disputed after their month closed) it carries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

import psycopg

from billing.adjust import adjustments
from billing.documents import LeadInvoice
from billing.leads import LeadLine, lead_line
from billing.money import Currency
from billing.months import span
from store import billing_closes, billing_docs, billing_settings, lead_billing, lead_campaigns
from store.billing_closes import Close
from web.earnings.compute import carried_periods

Conn = psycopg.AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class MonthInvoices:
    month: date
    currency: Currency
    timezone: str
    close: Close | None
    invoices: list[LeadInvoice]


async def _period_lines(
    conn: Conn,
    tenant_id: str,
    period: date,
    currency: Currency,
    timezone: str,
    agent_id: int | None,
) -> dict[int, list[LeadLine]]:
    """The leads accepted in ``period``, by buyer, at their price in the currency's units."""
    lo, hi = span(period, timezone)
    out: dict[int, list[LeadLine]] = defaultdict(list)
    for a in await lead_billing.accepted(conn, tenant_id, lo, hi, agent_id):
        price = None if a.price is None else currency.round(a.price)
        out[a.agent_id].append(
            lead_line(
                period, a.lead_id, a.campaign_id, a.lead_name, a.accepted_at, price, a.dispute
            )
        )
    return out


async def month_invoices(
    conn: Conn, tenant_id: str, month: date, agent_id: int | None = None
) -> MonthInvoices:
    """The month's invoices (of one buyer, or of every buyer with a lead or an adjustment)."""
    settings = await billing_settings.get(conn, tenant_id)
    closes = await billing_closes.live(conn, tenant_id)
    close = closes.get(month)
    agents = None if agent_id is None else [agent_id]
    names = {c.campaign_id: c.name for c in await lead_campaigns.campaigns(conn, tenant_id)}
    if close is not None:
        frozen = await billing_docs.invoices(conn, tenant_id, month, agents)
        invoices = [_named(i, names) for i in frozen]
        return MonthInvoices(month, settings.currency, settings.timezone, close, invoices)
    lines = await _period_lines(
        conn, tenant_id, month, settings.currency, settings.timezone, agent_id
    )
    carried: dict[int, list[LeadLine]] = defaultdict(list)
    for period in carried_periods(month, closes):
        now = await _period_lines(
            conn, tenant_id, period, settings.currency, settings.timezone, agent_id
        )
        billed: dict[int, list[LeadLine]] = defaultdict(list)
        for buyer, line in await billing_docs.billed_leads(conn, tenant_id, [period], agents):
            billed[buyer].append(line)
        for buyer in now.keys() | billed.keys():
            carried[buyer] += adjustments(now.get(buyer, []), billed.get(buyer, []))
    wanted = sorted(lines.keys() | {b for b, x in carried.items() if x})
    if agent_id is not None:
        wanted = [agent_id]
    buyers = {b.user_id: b for b in await lead_billing.buyers(conn, tenant_id, wanted)}
    invoices = [
        LeadInvoice(
            b,
            buyers[b].name,
            month,
            settings.currency,
            settings.timezone,
            tuple(lines.get(b, [])),
            tuple(carried.get(b, [])),
            campaign_names=names,
        )
        for b in wanted
        if b in buyers
    ]
    invoices.sort(key=lambda i: (i.agent_name, i.agent_id))
    return MonthInvoices(month, settings.currency, settings.timezone, None, invoices)


def _named(invoice: LeadInvoice, names: dict[str, str]) -> LeadInvoice:
    return LeadInvoice(
        invoice.agent_id,
        invoice.agent_name,
        invoice.month,
        invoice.currency,
        invoice.timezone,
        invoice.lines,
        invoice.adjustments,
        invoice.closing,
        names,
    )
