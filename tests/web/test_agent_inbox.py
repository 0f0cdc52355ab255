"""The agent's inbox: who may see it, the offer and lead actions, their audit and NOTIFY."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.web.agent_helpers import (
    agent_sign_in,
    events,
    expire,
    lead_row,
    listening,
    make_agent,
    make_lead_campaign,
    new_lead,
    notes,
    offer,
    offer_row,
    time_out,
)
from tests.web.conftest import Conn, TenantFactory, api_token, post_login, sign_in


def test_agents_land_on_their_inbox_and_other_roles_are_refused(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    agent_sign_in(panel, agent.email)
    page = panel.get("/agent/leads")
    assert page.status_code == 200
    assert '<a href="/agent/leads">My leads</a>' in page.text
    assert "No open offers" in page.text
    home = panel.get("/", follow_redirects=False)  # no fleet views: the logo leads home
    assert (home.status_code, home.headers["location"]) == (303, "/agent/leads")
    assert panel.get("/alerts", headers={"accept": "text/html"}).status_code == 403
    assert panel.get("/api/v1/agent/leads", headers=api_token(panel, agent.email)).json() == []
    for email in (tenant.admin, tenant.owner):
        panel.cookies.clear()
        sign_in(panel, email)
        assert panel.get("/agent/leads").status_code == 403
        assert panel.get("/agent/leads/stream").status_code == 403
        assert panel.get("/agent/push/key").status_code == 403
        assert "My leads" not in panel.get("/").text
        response = panel.get("/api/v1/agent/leads", headers=api_token(panel, email))
        assert response.status_code == 403
    panel.cookies.clear()
    assert panel.get("/agent/leads", follow_redirects=False).status_code == 303  # to /login
    assert panel.get("/api/v1/agent/leads").status_code == 401


def test_an_offer_is_accepted_contacted_and_converted_each_audited_and_notified(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    campaign = make_lead_campaign(conn, tenant, "Car insurance SG")
    lead_id = new_lead(conn, campaign, name="Tan Ah Kow", phone="+6591234567")
    offer_id = offer(conn, lead_id, agent)
    csrf = agent_sign_in(panel, agent.email)
    page = panel.get("/agent/leads").text
    assert f'id="lead-{lead_id}" class="lead offered"' in page
    assert '<a href="tel:+6591234567">+6591234567</a>' in page
    assert "Car insurance SG" in page
    assert campaign.tablet_id in page
    assert 'class="countdown" data-expires="' in page
    assert f'action="/agent/leads/{lead_id}/accept"' in page
    assert f'action="/agent/leads/{lead_id}/contacted"' not in page
    with listening(database_url, "fleethub_lead_actions") as hub:
        accepted = panel.post(
            f"/agent/leads/{lead_id}/accept", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert accepted.status_code == 303, accepted.text
        assert notes(hub) == [lead_id]
        assert offer_row(conn, offer_id) == ("accepted", True)
        assert lead_row(conn, lead_id) == ("accepted", agent.user_id)
        page = panel.get(accepted.headers["location"]).text
        assert "Lead accepted" in page
        assert f'action="/agent/leads/{lead_id}/contacted"' in page
        assert f'action="/agent/leads/{lead_id}/accept"' not in page

        again = panel.post(f"/agent/leads/{lead_id}/accept", data={"csrf_token": csrf})
        assert again.status_code == 409
        assert "already accepted" in again.text
        for step in ("contacted", "converted"):
            done = panel.post(
                f"/agent/leads/{lead_id}/{step}", data={"csrf_token": csrf}, follow_redirects=False
            )
            assert done.status_code == 303, done.text
            assert lead_row(conn, lead_id) == (step, agent.user_id)
            assert notes(hub) == [lead_id]
        late = panel.post(f"/agent/leads/{lead_id}/contacted", data={"csrf_token": csrf})
        assert late.status_code == 409
        assert "already converted" in late.text
        assert notes(hub) == []  # refused: nothing sent
    assert events(conn, lead_id) == [
        ("hub", "offered"),
        (agent.email, "accepted"),
        (agent.email, "contacted"),
        (agent.email, "converted"),
    ]


def test_a_rejected_offer_goes_back_to_the_hub(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    lead_id = new_lead(conn, make_lead_campaign(conn, tenant))
    offer_id = offer(conn, lead_id, agent)
    headers = api_token(panel, agent.email)
    assert (
        panel.get(f"/api/v1/agent/leads/{lead_id}", headers=headers).json()["status"] == "offered"
    )
    with listening(database_url, "fleethub_lead_actions") as hub:
        response = panel.post(f"/api/v1/agent/leads/{lead_id}/reject", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() is None  # no longer in the inbox
        assert notes(hub) == [lead_id]
    assert offer_row(conn, offer_id) == ("rejected", True)
    assert lead_row(conn, lead_id) == ("new", None)
    assert events(conn, lead_id)[-1] == (agent.email, "rejected")
    assert panel.get(f"/api/v1/agent/leads/{lead_id}", headers=headers).status_code == 404
    assert panel.get("/api/v1/agent/leads", headers=headers).json() == []
    # the same agent may not take it back: the offer is closed
    again = panel.post(f"/api/v1/agent/leads/{lead_id}/accept", headers=headers)
    assert again.status_code == 409
    assert "no longer open" in again.json()["detail"]


def test_the_api_accepts_and_lists_newest_first(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    campaign = make_lead_campaign(conn, tenant)
    first, second = new_lead(conn, campaign, "First"), new_lead(conn, campaign, "Second")
    offer(conn, first, agent)
    offer(conn, second, agent)
    headers = api_token(panel, agent.email)
    body = panel.post(f"/api/v1/agent/leads/{first}/accept", headers=headers).json()
    assert (body["lead_id"], body["status"], body["offer_id"]) == (first, "accepted", None)
    assert body["tablet_id"] == campaign.tablet_id
    listed = panel.get("/api/v1/agent/leads", headers=headers).json()
    assert [(x["name"], x["status"]) for x in listed] == [
        ("Second", "offered"),
        ("First", "accepted"),
    ]
    assert listed[0]["expires_at"]
    early = panel.post(f"/api/v1/agent/leads/{second}/converted", headers=headers)
    assert early.status_code == 409
    assert early.json()["detail"] == "Accept the offer first."


def test_an_expired_offer_is_409_and_nothing_changes(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, database_url: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    lead_id = new_lead(conn, make_lead_campaign(conn, tenant))
    offer_id = offer(conn, lead_id, agent)
    expire(conn, offer_id)
    csrf = agent_sign_in(panel, agent.email)
    assert f"lead-{lead_id}" not in panel.get("/agent/leads").text
    with listening(database_url, "fleethub_lead_actions") as hub:
        for action in ("accept", "reject"):
            response = panel.post(f"/agent/leads/{lead_id}/{action}", data={"csrf_token": csrf})
            assert response.status_code == 409
            assert "This offer expired " in response.text
        assert notes(hub) == []
    assert offer_row(conn, offer_id) == (None, False)
    assert lead_row(conn, lead_id) == ("offered", agent.user_id)
    assert events(conn, lead_id) == [("hub", "offered")]
    # timed out and offered to the next agent: the first one is told it went on
    other = make_agent(conn, tenant, "next")
    time_out(conn, offer_id, lead_id)
    offer(conn, lead_id, other)
    response = panel.post(f"/agent/leads/{lead_id}/accept", data={"csrf_token": csrf})
    assert response.status_code == 409
    assert "went to another agent" in response.text


def test_a_lead_is_404_for_anyone_but_its_agent(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant, elsewhere = tenant_factory(fleets=1, tablets=1), tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    colleague = make_agent(conn, tenant, "colleague")
    stranger = make_agent(conn, elsewhere, "stranger")
    lead_id = new_lead(conn, make_lead_campaign(conn, tenant))
    offer_id = offer(conn, lead_id, agent)
    for email in (colleague.email, stranger.email, tenant.admin):
        panel.cookies.clear()
        csrf = sign_in_any(panel, email)
        headers = api_token(panel, email)
        assert panel.get(f"/api/v1/agent/leads/{lead_id}", headers=headers).status_code == 404
        for action in ("accept", "reject", "contacted", "converted"):
            form = panel.post(f"/agent/leads/{lead_id}/{action}", data={"csrf_token": csrf})
            assert form.status_code == 404, (email, action)
            assert "Tan Ah Kow" not in form.text
            api = panel.post(f"/api/v1/agent/leads/{lead_id}/{action}", headers=headers)
            assert api.status_code == 404, (email, action)
        if email != tenant.admin:
            assert f"lead-{lead_id}" not in panel.get("/agent/leads").text
    assert (
        panel.post("/agent/leads/not-a-uuid/accept", data={"csrf_token": csrf}).status_code == 404
    )
    assert offer_row(conn, offer_id) == (None, False)
    assert lead_row(conn, lead_id) == ("offered", agent.user_id)


def test_a_form_without_the_csrf_token_changes_nothing(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    lead_id = new_lead(conn, make_lead_campaign(conn, tenant))
    offer_id = offer(conn, lead_id, agent)
    agent_sign_in(panel, agent.email)
    forged = panel.post(f"/agent/leads/{lead_id}/accept", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert offer_row(conn, offer_id) == (None, False)
    assert events(conn, lead_id) == [("hub", "offered")]


@pytest.mark.parametrize("action", ["contacted", "converted"])
def test_marking_an_offered_lead_needs_an_accept_first(
    panel: TestClient, tenant_factory: TenantFactory, conn: Conn, action: str
) -> None:
    tenant = tenant_factory(fleets=1, tablets=1)
    agent = make_agent(conn, tenant)
    lead_id = new_lead(conn, make_lead_campaign(conn, tenant))
    offer(conn, lead_id, agent)
    csrf = agent_sign_in(panel, agent.email)
    response = panel.post(f"/agent/leads/{lead_id}/{action}", data={"csrf_token": csrf})
    assert response.status_code == 409
    assert "Accept the offer first." in response.text
    assert lead_row(conn, lead_id) == ("offered", agent.user_id)


def sign_in_any(client: TestClient, email: str) -> str:
    """The CSRF token of a session of any role (agents land on their inbox, others on /)."""
    response = post_login(client, email, follow_redirects=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', response.text)
    assert match, response.text[:300]
    return match.group(1)
