"""Lead billing: a buyer's monthly invoice lists the leads they accepted at the price of the
day; a dispute within the window is decided by an admin (audited) and credits the lead, in
the same month or, once that month is closed, as an adjustment in the next open one."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from tests.web.agent_helpers import agent_sign_in, make_agent, make_lead_campaign
from tests.web.billing_helpers import accepted_lead, set_lead_price
from tests.web.conftest import Conn, TenantFactory, api_token, sign_in

MARCH_10 = datetime(2026, 3, 10, 4, tzinfo=UTC)


def test_an_agents_invoice_lists_what_they_accepted_and_credits_disputes(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_lead_campaign(conn, tenant)
    agent, other = make_agent(conn, tenant, "buyer"), make_agent(conn, tenant, "rival")
    set_lead_price(
        conn, tenant.tenant_id, campaign.campaign_id, "12.50", MARCH_10 - timedelta(days=30)
    )
    set_lead_price(
        conn, tenant.tenant_id, campaign.campaign_id, "15.00", MARCH_10 + timedelta(days=5)
    )
    first = accepted_lead(conn, campaign, agent, MARCH_10, "Tan Ah Kow")
    accepted_lead(conn, campaign, agent, MARCH_10 + timedelta(days=6), "Siti")
    accepted_lead(conn, campaign, other, MARCH_10, "Not theirs")
    now = datetime.now(UTC)
    fresh = accepted_lead(conn, campaign, agent, now - timedelta(hours=1), "Fresh")

    agent_sign_in(panel, agent.email)
    rows = list(
        csv.reader(io.StringIO(panel.get(f"/lead-billing/2026-03/agents/{agent.user_id}.csv").text))
    )
    assert [(r[4], r[5], r[6], r[7]) for r in rows[1:-1]] == [
        ("Tan Ah Kow", "billable", "12.50", "12.50"),
        ("Siti", "billable", "15.00", "15.00"),
    ]
    assert rows[-1][-1] == "27.50"
    assert "Not theirs" not in panel.get("/agent/invoices?month=2026-03").text
    assert panel.get(f"/lead-billing/2026-03/agents/{other.user_id}").status_code == 404
    assert panel.get(f"/lead-billing/2026-03/agents/{other.user_id}.pdf").status_code == 404
    assert panel.get("/lead-billing").status_code == 403
    # March's leads are past the 7-day window; this month's is not.
    late = panel.post(
        f"/agent/leads/{first}/dispute", data={"csrf_token": agent_sign_in(panel, agent.email),
                                               "reason": "wrong number", "month": "2026-03"},
    )  # fmt: skip
    assert late.status_code == 422
    assert "within 7 days" in late.text
    headers = api_token(panel, agent.email)
    made = panel.post(
        f"/api/v1/agent/leads/{fresh}/dispute", headers=headers, json={"reason": "a test entry"}
    )
    assert made.status_code == 201
    again = panel.post(
        f"/api/v1/agent/leads/{fresh}/dispute", headers=headers, json={"reason": "twice"}
    )
    assert again.status_code == 422
    month = f"{now:%Y-%m}"
    mine = panel.get(f"/api/v1/lead-invoices?month={month}", headers=headers).json()
    assert [(x["lead_name"], x["status"]) for x in mine[0]["lines"]] == [("Fresh", "disputed")]

    admin_csrf = sign_in(panel, tenant.admin)
    page = panel.get("/lead-billing")
    assert "a test entry" in page.text
    dispute_id = made.json()["dispute_id"]
    decided = panel.post(
        f"/lead-billing/disputes/{dispute_id}",
        data={"csrf_token": admin_csrf, "decision": "accept", "note": "confirmed fake"},
    )
    assert "the lead is credited" in decided.text
    audit = conn.execute(
        "SELECT action, actor FROM audit_log WHERE tenant_id = %s AND action LIKE 'lead.dispute%%'"
        " ORDER BY audit_id",
        (tenant.tenant_id,),
    ).fetchall()
    assert audit == [("lead.dispute", agent.email), ("lead.dispute_accepted", tenant.admin)]
    theirs = panel.get(
        f"/api/v1/lead-invoices/{month}/agents/{agent.user_id}",
        headers=api_token(panel, tenant.admin),
    ).json()
    assert [(x["status"], x["amount"]) for x in theirs["lines"]] == [("credited", "0")]
    assert Decimal(theirs["total"]) == 0


def test_a_credit_after_the_month_closed_is_an_adjustment_of_the_next(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_lead_campaign(conn, tenant)
    agent = make_agent(conn, tenant, "buyer")
    set_lead_price(
        conn, tenant.tenant_id, campaign.campaign_id, "10", MARCH_10 - timedelta(days=30)
    )
    conn.execute(
        "INSERT INTO billing_settings (tenant_id, currency, minor_units, timezone, dispute_days,"
        " updated_by) VALUES (%s, 'SGD', 2, 'Asia/Singapore', 366, 'test')",
        (tenant.tenant_id,),
    )
    lead = accepted_lead(conn, campaign, agent, MARCH_10, "Tan Ah Kow")
    csrf = sign_in(panel, tenant.admin)
    panel.post("/earnings/2026-03/close", data={"csrf_token": csrf})
    headers = api_token(panel, tenant.admin)
    march = panel.get(
        f"/api/v1/lead-invoices/2026-03/agents/{agent.user_id}", headers=headers
    ).json()
    assert (march["status"], march["total"]) == ("closed", "10.00")
    dispute = panel.post(
        f"/api/v1/agent/leads/{lead}/dispute", headers=api_token(panel, agent.email),
        json={"reason": "duplicate of a lead from another code"},
    ).json()  # fmt: skip
    panel.post(
        f"/lead-billing/disputes/{dispute['dispute_id']}",
        data={"csrf_token": csrf, "decision": "accept"},
    )
    again = panel.get(f"/api/v1/lead-invoices/2026-03/agents/{agent.user_id}", headers=headers)
    assert again.json() == march  # closed: never changes
    april = panel.get(
        f"/api/v1/lead-invoices/2026-04/agents/{agent.user_id}", headers=headers
    ).json()
    assert [(x["period"], x["adjustment"], x["amount"]) for x in april["lines"]] == [
        ("2026-03-01", True, "-10.00")
    ]
    assert april["total"] == "-10.00"
