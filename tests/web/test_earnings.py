"""Earnings in the panel and the API: a statement's page, CSV, PDF and JSON agree; closing
is idempotent and freezes immutable rows with their hash; late data lands as adjustments; a
driver change mid-month splits exactly; rate cards are checked; reopening is audited."""

from __future__ import annotations

import base64
import csv
import io
import re
import zlib
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
from fastapi.testclient import TestClient

from billing.documents import content_hash
from billing.money import Currency
from billing.months import span
from store import rate_cards, usage
from tests.helpers import Conn as AsyncConn
from tests.helpers import store
from tests.web.billing_helpers import (
    add_card,
    add_driver,
    assign,
    fleet_statement,
    record_plays,
    record_uptime,
    statements,
)
from tests.web.conftest import Conn, Tenant, TenantFactory, api_token, sign_in
from web.earnings.compute import priced_month

MARCH, APRIL, MAY = date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)
SGT = "Asia/Singapore"
SGD = Currency("SGD", 2)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def pdf_text(data: bytes) -> str:
    """The text a ReportLab PDF shows (its page streams decoded)."""
    out = []
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", data, re.S):
        try:
            raw = zlib.decompress(base64.a85decode(stream.strip().removesuffix(b"~>")))
        except (ValueError, zlib.error):
            continue
        shown = re.findall(rb"\(((?:[^\\)]|\\.)*)\) Tj", raw)
        out += [re.sub(r"\\(.)", r"\1", m.decode("latin-1")) for m in shown]
    return "\n".join(out)


def page_cells(html: str) -> list[list[str]]:
    table = html.split('id="statement"', 1)[1].split("</table>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
        if "<td" in row
    ]


def seeded(conn: Conn, tenant_factory: TenantFactory) -> tuple[Tenant, int, int]:
    """A Singapore fleet with two tablets in cars, a card, two drivers sharing car0 in March
    (Ann to the 15th, Bo from the 16th), plays on both sides of the change and uptime."""
    tenant = tenant_factory(fleets=2, tablets=2)
    fleet = tenant.fleets[0]
    conn.execute(
        "UPDATE fleets SET timezone = %s, operating_hours = 'mon-sun 07:00-23:00'"
        " WHERE tenant_id = %s",
        (SGT, tenant.tenant_id),
    )
    add_card(conn, tenant.tenant_id, date(2026, 1, 1), campaigns={"c-b": ("thousand_plays", "4")})
    ann = add_driver(conn, tenant.tenant_id, fleet, "Ann")
    bo = add_driver(conn, tenant.tenant_id, fleet, "Bo")
    car0 = f"{fleet}-car0"
    assign(conn, tenant.tenant_id, ann, car0, date(2026, 3, 1), date(2026, 3, 15))
    assign(conn, tenant.tenant_id, bo, car0, date(2026, 3, 16), None)
    t0, t1 = tenant.tablets[fleet]
    lo = span(MARCH, SGT)[0]
    end_of_15th = lo + timedelta(days=15) - timedelta(seconds=1)  # 23:59:59 on the 15th
    record_plays(
        conn,
        [
            (t0, fleet, "c-a", end_of_15th, 15_000, "completed"),
            (t0, fleet, "c-a", end_of_15th + timedelta(seconds=2), 15_000, "completed"),
            (t0, fleet, "c-b", lo + timedelta(days=20, hours=10), 30_000, "completed"),
            (t1, fleet, "c-a", lo + timedelta(days=3, hours=9), 12_345, "skipped"),
            (t0, fleet, "c-a", lo - timedelta(seconds=1), 15_000, "completed"),  # February
        ],
    )
    hour = lo + timedelta(days=14, hours=15)  # 15:00-16:00 on the 15th (Ann's last day)
    record_uptime(conn, [(t0, hour, 3600.0), (t0, hour + timedelta(days=1), 1800.0)])
    return tenant, ann, bo


def test_a_driver_change_mid_month_splits_exactly(
    tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, ann, bo = seeded(conn, tenant_factory)
    month = statements(conn, tenant.tenant_id, MARCH)
    by = {s.party: s for s in month.drivers}
    a, b = by[str(ann)], by[str(bo)]
    assert (a.totals.plays, a.totals.play_ms, a.totals.online_s) == (1, 15_000, Decimal(3600))
    assert (b.totals.plays, b.totals.completed, b.totals.online_s) == (2, 2, Decimal(1800))
    fleet = next(s for s in month.fleets if s.party == tenant.fleets[0])
    assert fleet.totals.plays == 4  # February's play is not March's
    assert fleet.totals.driver == a.payable + b.payable
    no_driver = [x for x in fleet.lines if x.key.driver_id == 0]
    assert [(x.key.car_id, x.plays, x.driver) for x in no_driver] == [
        (f"{tenant.fleets[0]}-car1", 1, Decimal(0))
    ]


def test_page_csv_pdf_and_api_show_the_same_statement(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, _, _ = seeded(conn, tenant_factory)
    fleet, other = tenant.fleets
    sign_in(panel, tenant.owner)
    base = f"/earnings/2026-03/fleets/{fleet}"
    page = panel.get(base)
    assert page.status_code == 200
    rows = csv_rows(panel.get(f"{base}.csv").text)
    assert rows[0][:4] == ["Period", "Car", "Driver", "Item"]
    assert page_cells(page.text) == rows[1:]
    assert rows[-1][0] == "Total"
    pdf = panel.get(f"{base}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    shown = pdf_text(pdf.content)
    for row in rows[1:]:
        for cell in (c for c in row if c):
            assert cell in shown, cell
    api = panel.get(
        f"/api/v1/statements/2026-03/fleets/{fleet}", headers=api_token(panel, tenant.owner)
    ).json()
    doc = fleet_statement(conn, tenant.tenant_id, MARCH, fleet)
    assert api["content_hash"] == content_hash(doc) in page.text
    assert [Decimal(line["gross"]) for line in api["lines"]] == [Decimal(r[10]) for r in rows[1:-1]]
    assert Decimal(api["totals"]["gross"]) == Decimal(rows[-1][10]) == doc.totals.gross
    assert Decimal(api["payable"]) == Decimal(rows[-1][12])
    # The owner of the first fleet only: the second fleet's statement is missing.
    assert panel.get(f"/earnings/2026-03/fleets/{other}").status_code == 404
    assert panel.get(f"/earnings/2026-03/fleets/{other}.pdf").status_code == 404
    listed = panel.get("/api/v1/statements?month=2026-03", headers=api_token(panel, tenant.owner))
    assert [s["party"] for s in listed.json()["fleets"]] == [fleet]


def test_closing_is_idempotent_and_freezes_immutable_rows(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, _, _ = seeded(conn, tenant_factory)
    fleet = tenant.fleets[0]
    before = fleet_statement(conn, tenant.tenant_id, MARCH, fleet)
    csrf = sign_in(panel, tenant.admin)
    first = panel.post("/earnings/2026-03/close", data={"csrf_token": csrf})
    assert first.status_code == 200
    assert "Month closed" in first.text
    again = panel.post("/earnings/2026-03/close", data={"csrf_token": csrf})
    assert "closed already: nothing changed" in again.text
    closes = conn.execute(
        "SELECT count(*) FROM billing_closes WHERE tenant_id = %s", (tenant.tenant_id,)
    ).fetchone()
    assert closes == (1,)
    frozen = fleet_statement(conn, tenant.tenant_id, MARCH, fleet)
    assert frozen.closing is not None
    assert frozen.closing.content_hash == content_hash(before) == content_hash(frozen)
    assert frozen.lines == before.lines
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="never change"):
        conn.execute(
            "UPDATE billing_lines SET gross = gross + 1 WHERE document_id = %s",
            (frozen.closing.document_id,),
        )
    with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
        conn.execute(
            "DELETE FROM billing_documents WHERE document_id = %s", (frozen.closing.document_id,)
        )
    audit = conn.execute(
        "SELECT actor, details ->> 'documents' FROM audit_log WHERE tenant_id = %s"
        " AND action = 'billing.close'",
        (tenant.tenant_id,),
    ).fetchall()
    assert audit == [(tenant.admin, "4")]  # two fleets, two drivers
    # The month not over yet cannot close.
    current = panel.post(f"/earnings/{date.today():%Y-%m}/close", data={"csrf_token": csrf})
    assert current.status_code == 422
    assert "is not over yet" in current.text


def test_late_events_land_as_adjustments_in_the_next_open_month(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, ann, _ = seeded(conn, tenant_factory)
    fleet = tenant.fleets[0]
    csrf = sign_in(panel, tenant.admin)
    panel.post("/earnings/2026-03/close", data={"csrf_token": csrf})
    closed = fleet_statement(conn, tenant.tenant_id, MARCH, fleet)
    t0 = tenant.tablets[fleet][0]
    late = span(MARCH, SGT)[0] + timedelta(days=2)  # Ann's day
    record_plays(conn, [(t0, fleet, "c-a", late, 20_000, "completed")])
    record_plays(
        conn, [(t0, fleet, "c-a", span(APRIL, SGT)[0] + timedelta(hours=9), 5_000, "completed")]
    )
    assert fleet_statement(conn, tenant.tenant_id, MARCH, fleet) == closed  # never changes
    april = statements(conn, tenant.tenant_id, APRIL)
    doc = next(s for s in april.fleets if s.party == fleet)
    (adjustment,) = doc.adjustments
    assert adjustment.key.period == MARCH
    assert (adjustment.key.driver_id, adjustment.plays, adjustment.play_ms) == (ann, 1, 20_000)
    assert adjustment.gross == Decimal("0.04")  # 20 s × 0.002
    assert [(x.plays, x.play_ms) for x in doc.lines] == [(1, 5_000)]
    ann_april = next(s for s in april.drivers if s.party == str(ann))
    assert ann_april.adjustments == (adjustment,)
    rows = csv_rows(panel.get(f"/earnings/2026-04/fleets/{fleet}.csv").text)
    assert ["2026-03 adj.", f"{fleet}-car0", "Ann"] == rows[-2][:3]
    # Once April is closed with it, May carries nothing more for March.
    panel.post("/earnings/2026-04/close", data={"csrf_token": csrf})
    may = next(s for s in statements(conn, tenant.tenant_id, MAY).fleets if s.party == fleet)
    assert may.adjustments == ()
    # What was billed for March (frozen March + April's adjustment) is March priced now.
    assert closed.totals.gross + adjustment.gross == priced_now(conn, tenant, MARCH, fleet)


def priced_now(conn: Conn, tenant: Tenant, month: date, fleet: str) -> Decimal:
    async def work(aconn: AsyncConn) -> Decimal:
        cards = {c.version: c for c in await rate_cards.cards(aconn, tenant.tenant_id)}
        fleets = await usage.fleets(aconn, tenant.tenant_id, [fleet])
        lines = await priced_month(aconn, tenant.tenant_id, fleets, month, cards, SGD)
        return sum((x.gross for x in lines), Decimal(0))

    return store(conn, work)


def test_reopening_needs_a_reason_is_audited_and_goes_latest_first(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, _, _ = seeded(conn, tenant_factory)
    csrf = sign_in(panel, tenant.admin)
    for month in ("2026-03", "2026-04"):
        panel.post(f"/earnings/{month}/close", data={"csrf_token": csrf})
    early = panel.post("/earnings/2026-03/reopen", data={"csrf_token": csrf, "reason": "typo"})
    assert early.status_code == 422
    assert "reopen April 2026 first" in early.text
    blank = panel.post("/earnings/2026-04/reopen", data={"csrf_token": csrf, "reason": " "})
    assert blank.status_code == 422
    assert "give the reason" in blank.text
    done = panel.post(
        "/earnings/2026-04/reopen", data={"csrf_token": csrf, "reason": "rate card was wrong"}
    )
    assert "Month reopened" in done.text
    assert "rate card was wrong" in panel.get("/earnings?month=2026-04").text
    audit = conn.execute(
        "SELECT actor, details ->> 'reason' FROM audit_log WHERE tenant_id = %s"
        " AND action = 'billing.reopen'",
        (tenant.tenant_id,),
    ).fetchall()
    assert audit == [(tenant.admin, "rate card was wrong")]
    assert statements(conn, tenant.tenant_id, APRIL).close is None
    # A fleet owner cannot close or reopen.
    sign_in(panel, tenant.owner)
    owner_csrf = sign_in(panel, tenant.owner)
    assert panel.post("/earnings/2026-04/close", data={"csrf_token": owner_csrf}).status_code == 403


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"platform_share": "40", "owner_share": "45", "driver_share": "20"}, "add up to 100 %"),
        ({"valid_from": "2026-02-01"}, "overlaps version 1"),
        ({"default_rate": "-1"}, "cannot be negative"),
        ({"valid_to": "2025-12-31"}, "before it starts"),
        ({"campaign_id": "c-a", "campaign_rate": "abc"}, "must be a number"),
    ],
)
def test_invalid_rate_cards_are_refused_with_a_clear_message(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, form: dict[str, str], message: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    add_card(conn, tenant.tenant_id, date(2026, 1, 1))
    csrf = sign_in(panel, tenant.admin)
    good = {
        "valid_from": "2026-06-01", "default_basis": "play_second", "default_rate": "0.002",
        "online_hour_rate": "0.5", "platform_share": "40", "owner_share": "45",
        "driver_share": "15", "campaign_basis": "play_second",
    }  # fmt: skip
    refused = panel.post("/earnings/rates", data={**good, **form, "csrf_token": csrf})
    assert refused.status_code == 422
    assert message in refused.text
    headers = api_token(panel, tenant.admin)
    body = {k: v for k, v in {**good, **form}.items() if not k.startswith("campaign")}
    if "campaign_id" in form:
        body["campaigns"] = [{"campaign_id": "c-a", "basis": "play_second", "rate": "abc"}]  # type: ignore[assignment]
    api = panel.post("/api/v1/rate-cards", headers=headers, json=body)
    assert api.status_code == 422
    assert message in api.json()["detail"]
    cards = panel.get("/api/v1/rate-cards", headers=headers).json()
    assert [c["version"] for c in cards] == [1]


def test_a_valid_card_is_added_and_cards_stay_out_of_closed_months(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, _, _ = seeded(conn, tenant_factory)
    csrf = sign_in(panel, tenant.admin)
    ended = panel.post("/earnings/rates/1/end", data={"csrf_token": csrf, "valid_to": "2026-05-31"})
    assert "Rate card ended" in ended.text
    headers = api_token(panel, tenant.admin)
    card = {
        "valid_from": "2026-06-01", "default_basis": "thousand_plays", "default_rate": "2.5",
        "online_hour_rate": "0.6", "platform_share": "30", "owner_share": "50",
        "driver_share": "20",
    }  # fmt: skip
    made = panel.post("/api/v1/rate-cards", headers=headers, json=card)
    assert made.status_code == 201
    assert made.json()["version"] == 2
    panel.post("/earnings/2026-03/close", data={"csrf_token": csrf})
    into = panel.post("/earnings/rates/1/end", data={"csrf_token": csrf, "valid_to": "2026-03-20"})
    assert into.status_code == 422
    assert "inside a closed month" in into.text
