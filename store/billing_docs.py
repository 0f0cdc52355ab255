"""Frozen documents of closed months (``billing_documents``, ``billing_lines``): written once
when a month closes, read back exactly, never changed (the store refuses it).

A fleet's and a driver's statement and a buyer's lead invoice are rows of one table with
their lines; each carries the content hash of its canonical form (billing.documents), which
:func:`statements` and :func:`invoices` give back as stored so the reader can check it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg

from billing.documents import Closing, LeadInvoice, Statement, content_hash
from billing.leads import LeadLine
from billing.lines import Line, LineKey
from billing.money import Currency
from store.billing_closes import Close

Conn = psycopg.AsyncConnection[Any]

NEW_IDS = (
    "SELECT nextval(pg_get_serial_sequence('billing_documents', 'document_id'))"
    " FROM generate_series(1, %s)"
)
COPY_DOCUMENTS = (
    "COPY billing_documents (document_id, close_id, tenant_id, month, kind, party, party_name,"
    " fleet_id, currency, minor_units, timezone, total, content_hash) FROM STDIN"
)
LINE_COLUMNS = (
    "document_id, line_no, period, kind, fleet_id, car_id, driver_id, driver_name, campaign_id,"
    " rate_version, basis, rate, plays, completed, play_ms, online_s, quantity, gross,"
    " platform, owner, driver, lead_id, lead_name, accepted_at, lead_status, price, amount"
)
COPY_LINES = f"COPY billing_lines ({LINE_COLUMNS}) FROM STDIN"
DOCUMENTS = """
SELECT b.document_id, b.kind, b.party, b.party_name, b.fleet_id, b.currency, b.minor_units,
       b.timezone, b.content_hash, c.closed_at, c.closed_by
FROM billing_documents b JOIN billing_closes c USING (close_id)
WHERE b.tenant_id = %(tenant)s AND b.month = %(month)s AND c.reopened_at IS NULL
  AND b.kind = %(kind)s AND (%(parties)s::text[] IS NULL OR b.party = ANY(%(parties)s))
ORDER BY b.party_name, b.party
"""
LINES = f"""
SELECT {LINE_COLUMNS} FROM billing_lines WHERE document_id = ANY(%s)
ORDER BY document_id, line_no
"""  # noqa: S608 - constant fragments only
# Everything billed for these periods: the lines of every live close's documents of a kind.
BILLED = """
SELECT b.party, l.period, l.kind, l.fleet_id, l.car_id, l.driver_id, l.driver_name,
       l.campaign_id, l.rate_version, l.basis, l.rate, l.plays, l.completed, l.play_ms,
       l.online_s, l.quantity, l.gross, l.platform, l.owner, l.driver, l.lead_id, l.lead_name,
       l.accepted_at, l.lead_status, l.price, l.amount
FROM billing_lines l
JOIN billing_documents b USING (document_id)
JOIN billing_closes c USING (close_id)
WHERE b.tenant_id = %(tenant)s AND c.reopened_at IS NULL AND b.kind = %(kind)s
  AND l.period = ANY(%(periods)s) AND (%(parties)s::text[] IS NULL OR b.party = ANY(%(parties)s))
"""


def _line_row(document_id: int, n: int, x: Line, names: dict[int, str]) -> tuple[Any, ...]:
    k = x.key
    return (
        document_id, n, k.period, k.kind, k.fleet_id, k.car_id, k.driver_id,
        names.get(k.driver_id), k.campaign_id, k.rate_version, x.basis, x.rate, x.plays,
        x.completed, x.play_ms, x.online_s, x.quantity, x.gross, x.platform, x.owner, x.driver,
        None, None, None, None, None, None,
    )  # fmt: skip


def _lead_row(document_id: int, n: int, x: LeadLine) -> tuple[Any, ...]:
    return (
        document_id, n, x.period, "lead", None, None, None, None, x.campaign_id, None, None,
        None, None, None, None, None, None, None, None, None, None, x.lead_id, x.lead_name,
        x.accepted_at, x.status, x.price, x.amount,
    )  # fmt: skip


def _line(row: tuple[Any, ...]) -> Line:
    (period, kind, fleet_id, car_id, driver_id, _, campaign_id, version, basis, rate, plays,
     completed, play_ms, online_s, quantity, gross, platform, owner, driver) = row[:19]  # fmt: skip
    key = LineKey(period, fleet_id, car_id, int(driver_id), kind, campaign_id, int(version))
    return Line(
        key, int(plays), int(completed), int(play_ms), online_s, basis, rate, quantity, gross,
        platform, owner, driver,
    )  # fmt: skip


def _lead(row: tuple[Any, ...]) -> LeadLine:
    period, campaign_id = row[0], row[6]
    lead_id, lead_name, accepted_at, status, price, amount = row[19:25]
    return LeadLine(period, lead_id, campaign_id, lead_name, accepted_at, status, price, amount)


async def write(
    conn: Conn,
    close: Close,
    tenant_id: str,
    statements: list[Statement],
    invoices: list[LeadInvoice],
) -> int:
    """Freeze the documents under ``close`` (in the caller's transaction): their ids drawn
    at once, documents and lines copied in; their count."""
    docs: list[Statement | LeadInvoice] = [*statements, *invoices]
    cur = await conn.execute(NEW_IDS, (len(docs),))
    ids = [int(str(r[0])) for r in await cur.fetchall()]
    heads: list[tuple[Any, ...]] = []
    rows: list[tuple[Any, ...]] = []
    for document_id, doc in zip(ids, docs, strict=True):
        kind: str
        if isinstance(doc, Statement):
            kind, name, fleet_id, total = doc.kind, doc.party_name, doc.fleet_id, doc.payable
            lines = [*doc.lines, *doc.adjustments]
            rows += [_line_row(document_id, n, x, doc.driver_names) for n, x in enumerate(lines)]
        else:
            kind, name, fleet_id, total = "leads", doc.agent_name, None, doc.total
            leads = [*doc.lines, *doc.adjustments]
            rows += [_lead_row(document_id, n, x) for n, x in enumerate(leads)]
        heads.append(
            (
                document_id, close.close_id, tenant_id, close.month, kind, doc.party, name,
                fleet_id, doc.currency.code, doc.currency.minor_units, doc.timezone, total,
                content_hash(doc),
            )
        )  # fmt: skip
    async with conn.cursor() as cur:
        async with cur.copy(COPY_DOCUMENTS) as copy:
            for head in heads:
                await copy.write_row(head)
        async with cur.copy(COPY_LINES) as copy:
            for r in rows:
                await copy.write_row(r)
    return len(docs)


@dataclass(frozen=True, slots=True)
class Frozen:
    """A frozen document and the hash stored with it."""

    document_id: int
    kind: str
    party: str
    party_name: str
    fleet_id: str | None
    currency: Currency
    timezone: str
    stored_hash: str
    closed_at: datetime
    closed_by: str


async def _frozen(
    conn: Conn, tenant_id: str, month: date, kind: str, parties: list[str] | None
) -> tuple[list[Frozen], dict[int, list[tuple[Any, ...]]]]:
    params = {"tenant": tenant_id, "month": month, "kind": kind, "parties": parties}
    docs = []
    for r in await (await conn.execute(DOCUMENTS, params)).fetchall():
        document_id, kind, party, name, fleet_id, code, minor, tz, stored, at, by = r
        docs.append(
            Frozen(int(document_id), kind, party, name, fleet_id, Currency(code, int(minor)),
                   tz, stored, at, by)
        )  # fmt: skip
    lines: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    if docs:
        cur = await conn.execute(LINES, ([d.document_id for d in docs],))
        for row in await cur.fetchall():
            lines[int(row[0])].append(row[2:])
    return docs, lines


async def statements(
    conn: Conn, tenant_id: str, month: date, kind: str, parties: list[str] | None
) -> list[Statement]:
    """The frozen statements (``kind``: fleet or driver) of a closed month, of ``parties``
    (None: all), each with its stored hash in ``closing``."""
    docs, lines = await _frozen(conn, tenant_id, month, kind, parties)
    out = []
    for d in docs:
        rows = lines[d.document_id]
        priced = [_line(r) for r in rows]
        names = {int(r[4]): str(r[5]) for r in rows if r[5] is not None}
        out.append(
            Statement(
                kind,  # type: ignore[arg-type]
                d.party,
                d.party_name,
                d.fleet_id or "",
                month,
                d.currency,
                d.timezone,
                tuple(x for x in priced if x.key.period == month),
                tuple(x for x in priced if x.key.period != month),
                Closing(d.document_id, d.closed_at, d.closed_by, d.stored_hash),
                names,
            )
        )
    return out


async def invoices(
    conn: Conn, tenant_id: str, month: date, agents: list[int] | None
) -> list[LeadInvoice]:
    """The frozen lead invoices of a closed month, of ``agents`` (None: all)."""
    parties = None if agents is None else [str(a) for a in agents]
    docs, lines = await _frozen(conn, tenant_id, month, "leads", parties)
    out = []
    for d in docs:
        leads = [_lead(r) for r in lines[d.document_id]]
        out.append(
            LeadInvoice(
                int(d.party),
                d.party_name,
                month,
                d.currency,
                d.timezone,
                tuple(x for x in leads if x.period == month),
                tuple(x for x in leads if x.period != month),
                Closing(d.document_id, d.closed_at, d.closed_by, d.stored_hash),
            )
        )
    return out


async def billed_lines(
    conn: Conn, tenant_id: str, periods: list[date], fleet_ids: list[str] | None
) -> list[Line]:
    """Every statement line billed so far for ``periods`` (the fleets' documents of live
    closes, adjustments included), of ``fleet_ids`` (None: all)."""
    if not periods:
        return []
    params = {"tenant": tenant_id, "kind": "fleet", "periods": periods, "parties": fleet_ids}
    return [_line(r[1:]) for r in await (await conn.execute(BILLED, params)).fetchall()]


async def billed_leads(
    conn: Conn, tenant_id: str, periods: list[date], agents: list[int] | None
) -> list[tuple[int, LeadLine]]:
    """Every lead line billed so far for ``periods``, with its buyer."""
    if not periods:
        return []
    parties = None if agents is None else [str(a) for a in agents]
    params = {"tenant": tenant_id, "kind": "leads", "periods": periods, "parties": parties}
    rows = await (await conn.execute(BILLED, params)).fetchall()
    return [(int(r[0]), _lead(r[1:])) for r in rows]
