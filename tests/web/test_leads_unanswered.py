"""Leads nobody answered (issue 11, defect 10) in the panel: admins get a live notice and
re-offer with one click (to every agent or one), and export the leads as CSV with the list's
filters. Each of these failed before: no route, no notice, no export."""

from __future__ import annotations

import csv
import io
import uuid

from fastapi.testclient import TestClient

from store.leads import store_unassigned
from tests.helpers import Conn as AsyncConn
from tests.helpers import store
from tests.web.agent_helpers import Agent, Campaign, make_agent, make_lead_campaign, new_lead
from tests.web.conftest import Conn, TenantFactory, sign_in
from tests.web.manage_helpers import hub_ears, post_form
from tests.web.test_agent_stream import wait_listening
from tests.web.test_push import sse_events


def subscribe(conn: Conn, campaign: Campaign, agent: Agent) -> None:
    conn.execute(
        "INSERT INTO campaign_agents (tenant_id, campaign_id, user_id) VALUES (%s, %s, %s)",
        (campaign.tenant_id, campaign.campaign_id, agent.user_id),
    )


def unanswered(conn: Conn, lead_id: str) -> None:
    """What the hub commits when every agent let the lead pass (with its NOTIFY)."""
    conn.execute("UPDATE leads SET status = 'new' WHERE lead_id = %s", (lead_id,))

    async def give_up(aconn: AsyncConn) -> bool:
        async with aconn.transaction():
            return await store_unassigned(aconn, lead_id)

    assert store(conn, give_up)


def status(conn: Conn, lead_id: str) -> tuple[object, ...] | None:
    return conn.execute(
        "SELECT status, routing_since IS NOT NULL, offer_only FROM leads WHERE lead_id = %s",
        (lead_id,),
    ).fetchone()


def test_an_admin_reoffers_an_unassigned_lead_in_one_click(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_lead_campaign(conn, tenant)
    alice, bob = make_agent(conn, tenant, "alice"), make_agent(conn, tenant, "bob")
    subscribe(conn, campaign, alice)
    subscribe(conn, campaign, bob)
    lead_id = new_lead(conn, campaign, "Lim Mei Ling")
    unanswered(conn, lead_id)
    csrf = sign_in(panel, tenant.admin)
    listing = panel.get("/leads")
    assert "1 lead nobody answered" in listing.text
    assert f'action="/leads/{lead_id}/reoffer"' in listing.text
    page = panel.get(f"/leads/{lead_id}")
    assert "Nobody answered this lead" in page.text
    assert f'value="{bob.user_id}"' in page.text
    with hub_ears(database_url) as heard:
        done = post_form(
            panel, f"/leads/{lead_id}/reoffer", csrf, {"agent_id": "", "back": "/leads"}
        )
    assert done.status_code == 303
    assert done.headers["location"] == "/leads?done=reoffered"
    assert status(conn, lead_id) == ("new", True, None)
    assert f"fleethub_leads {lead_id}" in heard
    again = post_form(panel, f"/leads/{lead_id}/reoffer", csrf)
    assert again.status_code == 422
    assert "not unassigned" in again.text
    assert again.headers["content-type"].startswith("text/html")
    unanswered(conn, lead_id)
    to_bob = post_form(panel, f"/leads/{lead_id}/reoffer", csrf, {"agent_id": str(bob.user_id)})
    assert to_bob.status_code == 303
    assert status(conn, lead_id) == ("new", True, bob.user_id)
    events = conn.execute(
        "SELECT actor, details FROM lead_events WHERE lead_id = %s AND event = 'reoffered'"
        " ORDER BY event_id",
        (lead_id,),
    ).fetchall()
    assert events == [
        (tenant.admin, {"why": "admin"}),
        (tenant.admin, {"why": "admin", "agent_id": bob.user_id}),
    ]


def test_a_reoffer_to_someone_not_an_agent_of_the_campaign_changes_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant, other = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    campaign = make_lead_campaign(conn, tenant)
    outsider = make_agent(conn, other, "outsider")
    unsubscribed = make_agent(conn, tenant, "unsubscribed")
    lead_id = new_lead(conn, campaign)
    unanswered(conn, lead_id)
    csrf = sign_in(panel, tenant.admin)
    for agent in (outsider.user_id, unsubscribed.user_id, "bob"):
        response = post_form(panel, f"/leads/{lead_id}/reoffer", csrf, {"agent_id": str(agent)})
        assert response.status_code == 422, agent
    nobody = post_form(panel, f"/leads/{lead_id}/reoffer", csrf)
    assert nobody.status_code == 422
    assert "no active agent" in nobody.text
    assert status(conn, lead_id) == ("unassigned", False, None)
    assert sign_in(panel, other.admin)
    assert post_form(panel, f"/leads/{lead_id}/reoffer", csrf).status_code in (403, 404)


def test_admins_of_the_tenant_hear_of_an_unanswered_lead_live(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    campaign = make_lead_campaign(conn, tenant, "Home insurance")
    lead_id = new_lead(conn, campaign, "Goh Boon Huat")
    sign_in(panel, tenant.owner)
    assert panel.get("/notices/leads").status_code == 403
    sign_in(panel, tenant.admin)
    wait_listening(panel)
    with panel.stream("GET", "/notices/leads") as response:
        events = sse_events(response.iter_lines())
        assert next(events) == ("count", {"count": 0, "lead": None})
        unanswered(conn, lead_id)
        name, data = next(events)
    assert name == "count"
    assert data == {
        "count": 1,
        "lead": {"lead_id": lead_id, "name": "Goh Boon Huat", "campaign": "Home insurance"},
    }


def test_leads_export_as_csv_with_the_pages_filters(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    cars, homes = (
        make_lead_campaign(conn, tenant, "Cars"),
        make_lead_campaign(conn, tenant, "Homes"),
    )
    a = new_lead(conn, cars, "=HYPERLINK(1)", "+6591234567")
    b = new_lead(conn, cars, "Tan", "+6581234567")
    c = new_lead(conn, homes, "Lim", "+6591234568")
    unanswered(conn, b)
    sign_in(panel, tenant.admin)
    assert 'href="/leads.csv?campaign=&amp;status="' in panel.get("/leads").text

    def rows(query: str) -> list[dict[str, str]]:
        response = panel.get(f"/leads.csv{query}")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        return list(csv.DictReader(io.StringIO(response.text)))

    assert {r["lead_id"] for r in rows("")} == {a, b, c}
    assert {r["lead_id"] for r in rows(f"?campaign={cars.campaign_id}")} == {a, b}
    assert {r["lead_id"] for r in rows(f"?campaign={cars.campaign_id}&status=unassigned")} == {b}
    assert {r["lead_id"] for r in rows("?campaign=&status=")} == {a, b, c}
    first = next(r for r in rows("") if r["lead_id"] == a)
    assert first["name"] == "'=HYPERLINK(1)"  # never a formula in a spreadsheet
    assert first["phone"] == "+6591234567"
    sign_in(panel, tenant.owner)
    assert panel.get("/leads.csv").status_code == 403
    assert str(uuid.UUID(a)) == a
