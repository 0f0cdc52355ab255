"""A lead invoice as a sheet (web/http/sheets.py): its page, CSV and PDF show these rows."""

from __future__ import annotations

from billing.documents import LeadInvoice, content_hash
from billing.leads import LeadLine
from billing.months import label, title
from web.http.sheets import Column, Sheet

COLUMNS = [
    Column("Period"),
    Column("Accepted (UTC)"),
    Column("Lead"),
    Column("Campaign"),
    Column("Passenger"),
    Column("Status"),
    Column("Price", True),
    Column("Amount", True),
]
RULES = [
    "Each lead the buyer accepted in the month (in the tenant's time zone) is billed at its"
    " campaign's price in force when it was accepted.",
    "A disputed lead stays billed until an admin decides; an accepted dispute credits it. A"
    " credit decided after its month was closed is an adjustment ('adj.') in the first open"
    " month. Amounts are exact decimals; the total is their sum.",
]
STATUS = {"billable": "billable", "disputed": "disputed (open)", "credited": "credited"}


def row(x: LeadLine, invoice: LeadInvoice) -> list[str]:
    c = invoice.currency
    adjusted = x.period != invoice.month
    return [
        label(x.period) + (" adj." if adjusted else ""),
        f"{x.accepted_at:%Y-%m-%d %H:%M}",
        x.lead_id[:8],
        invoice.campaign_names.get(x.campaign_id, x.campaign_id),
        x.lead_name,
        ("credit: " if adjusted and x.amount < 0 else "") + STATUS[x.status],
        "no price" if x.price is None else c.plain(x.price),
        c.plain(x.amount),
    ]


def sheet(invoice: LeadInvoice) -> Sheet:
    c = invoice.currency
    status = (
        f"closed {invoice.closing.closed_at:%Y-%m-%d %H:%M} UTC by {invoice.closing.closed_by}:"
        " frozen"
        if invoice.closing
        else "open: made now from the leads accepted so far"
    )
    digest = invoice.closing.content_hash if invoice.closing else content_hash(invoice)
    facts = [
        ("Buyer", invoice.agent_name),
        ("Month", f"{title(invoice.month)} ({invoice.timezone})"),
        ("Currency", c.code),
        (
            "Leads",
            f"{invoice.count('billable')} billable, {invoice.count('disputed')} disputed,"
            f" {invoice.count('credited')} credited",
        ),
        ("Total due", f"{c.code} {c.text(invoice.total)}"),
        ("Status", status),
        ("Content hash (SHA-256)", digest),
    ]
    rows = [row(x, invoice) for x in (*invoice.lines, *invoice.adjustments)]
    total = ["Total", "", "", "", "", "", "", c.plain(invoice.total)]
    return Sheet(
        f"Lead invoice · {invoice.agent_name} · {title(invoice.month)}",
        facts,
        COLUMNS,
        rows,
        total,
        RULES,
        footer=f"sha256 {digest}",
    )


def filename(invoice: LeadInvoice, extension: str) -> str:
    return f"lead-invoice-{label(invoice.month)}-{invoice.agent_id}.{extension}"
